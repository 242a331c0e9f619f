/**
 * containerd's filter syntax (filters/parser.go), as ctr's list verbs take
 * it: `images check name==x,labels.env!=prod`, `content active ref~=^layer-`.
 * One string is a conjunction of selectors separated by ','; several strings
 * are alternatives; no strings match everything. A selector is a field path
 * (`a.b.c`, components quoted with "…" when they hold other characters),
 * optionally followed by `==`, `!=` or `~=` (a regular expression) and a
 * value; a bare field path matches when the field is present. Values may be
 * quoted with "…" or /…/ (Go escapes apply inside double quotes).
 */
import { invalidArgument } from '../errdefs.js';

/** Field lookup for one object: the value at a path, or undefined when absent. */
export type FieldAdaptor = (path: string[]) => string | undefined;

type Op = 'present' | '==' | '!=' | '~=';

interface Selector {
  path: string[];
  op: Op;
  value: string;
  re?: RegExp;
}

export interface Filter {
  match(adaptor: FieldAdaptor): boolean;
}

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*/;

class Scanner {
  pos = 0;
  constructor(readonly src: string) {}
  fail(msg: string): never {
    throw invalidArgument(`${msg} at position ${this.pos}`, { subject: `filter ${JSON.stringify(this.src)}` });
  }
  done(): boolean {
    return this.pos >= this.src.length;
  }
  peek(n = 1): string {
    return this.src.slice(this.pos, this.pos + n);
  }
  skipSpace(): void {
    while (!this.done() && /\s/.test(this.src[this.pos]!)) this.pos++;
  }
  quoted(): string {
    const q = this.src[this.pos]!;
    let out = '';
    this.pos++;
    while (!this.done()) {
      const c = this.src[this.pos]!;
      if (c === q) {
        this.pos++;
        return out;
      }
      if (c === '\\' && this.pos + 1 < this.src.length) {
        const n = this.src[this.pos + 1]!;
        if (q === '/') out += n === '/' ? '/' : '\\' + n;
        else out += ({ n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"' } as Record<string, string>)[n] ?? n;
        this.pos += 2;
        continue;
      }
      out += c;
      this.pos++;
    }
    return this.fail('unterminated quoted string');
  }
}

function parseSelector(s: Scanner): Selector {
  const path: string[] = [];
  for (;;) {
    s.skipSpace();
    if (s.peek() === '"') path.push(s.quoted());
    else {
      const m = FIELD.exec(s.src.slice(s.pos));
      if (!m) s.fail('expected a field name');
      path.push(m[0]);
      s.pos += m[0].length;
    }
    if (s.peek() !== '.') break;
    s.pos++;
  }
  s.skipSpace();
  const two = s.peek(2);
  if (two !== '==' && two !== '!=' && two !== '~=') return { path, op: 'present', value: '' };
  s.pos += 2;
  s.skipSpace();
  let value: string;
  if (s.peek() === '"' || s.peek() === '/') value = s.quoted();
  else {
    const start = s.pos;
    while (!s.done() && s.src[s.pos] !== ',') s.pos++;
    value = s.src.slice(start, s.pos).trim();
    if (value === '') s.fail('expected a value');
  }
  const sel: Selector = { path, op: two, value };
  if (two === '~=') {
    try {
      sel.re = new RegExp(value);
    } catch {
      s.fail(`invalid regular expression ${JSON.stringify(value)}`);
    }
  }
  return sel;
}

function parseOne(src: string): Selector[] {
  const s = new Scanner(src);
  const out: Selector[] = [];
  for (;;) {
    out.push(parseSelector(s));
    s.skipSpace();
    if (s.done()) return out;
    if (s.peek() !== ',') s.fail('expected ","');
    s.pos++;
  }
}

function matches(sel: Selector, adaptor: FieldAdaptor): boolean {
  const v = adaptor(sel.path);
  if (sel.op === 'present') return v !== undefined;
  if (v === undefined) return false;
  if (sel.op === '==') return v === sel.value;
  if (sel.op === '!=') return v !== sel.value;
  return sel.re!.test(v);
}

/** filters.ParseAll: alternatives of conjunctions; empty input matches everything. */
export function parseFilters(filters: string[]): Filter {
  const alts = filters.filter((f) => f.trim() !== '').map(parseOne);
  return {
    match: (adaptor) => alts.length === 0 || alts.some((sels) => sels.every((sel) => matches(sel, adaptor))),
  };
}

/** containerd's image adaptor: name, target.digest, target.mediatype, labels.<key>. */
export function imageAdaptor(img: { name: string; target: { digest: string; mediaType: string }; labels: Record<string, string> }): FieldAdaptor {
  return (p) => {
    if (p.length === 0) return undefined;
    if (p[0] === 'name') return p.length === 1 ? img.name : undefined;
    if (p[0] === 'target' && p.length === 2) return p[1] === 'digest' ? img.target.digest : p[1] === 'mediatype' ? img.target.mediaType : undefined;
    if (p[0] === 'labels' && p.length > 1) return Object.hasOwn(img.labels, p.slice(1).join('.')) ? img.labels[p.slice(1).join('.')] : undefined;
    return undefined;
  };
}
