/**
 * TOML as containerd reads and writes it.
 *
 * Values: integers are `bigint` and floats are `number` (smol-toml's
 * `integersAsBigInt`), because containerd refuses an integer where it wants a
 * float ("Can't convert 1(int64) to float64") and the other way round, so the
 * distinction must survive a load → dump round trip.
 *
 * Two writers, one per containerd generation:
 * - 'v1' = pelletier/go-toml v1, used by containerd 1.x `config default|dump`:
 *   keys sorted, plain keys before tables, a blank line before every table
 *   header, double-quoted strings.
 * - 'v2' = pelletier/go-toml v2, used by containerd 2.x: keys in struct order
 *   (our trees keep insertion order), single-quoted literal strings where
 *   possible, a blank line between sibling tables and after a table's plain
 *   keys but not right after an empty header.
 * Both indent tables by two spaces per level (containerd sets IndentTables).
 */
import { invalidArgument } from '../errdefs.js';

export type TomlValue = string | bigint | number | boolean | Date | TomlValue[] | TomlTable | { toISOString(): string };
export interface TomlTable {
  [key: string]: TomlValue;
}

export type TomlStyle = 'v1' | 'v2';

export interface StringifyOptions {
  style: TomlStyle;
  /** Key order; default 'sorted' for v1 and 'insertion' for v2. */
  order?: 'sorted' | 'insertion';
  /** Leave out the header of a table that holds only tables (hosts.toml's `[host]`); nesting indents from printed headers. */
  omitEmptyParents?: boolean;
}

export function isTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && typeof (v as { toISOString?: unknown }).toISOString !== 'function';
}

function isTableArray(v: unknown): v is TomlTable[] {
  return Array.isArray(v) && v.length > 0 && v.every(isTable);
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

function basicString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** go-toml v2 writes a literal string unless the text has a quote, a newline or a control character. */
function literalOk(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/['\r\n\u0000-\u0008\u000a-\u001f\u007f]/.test(s);
}

function str(s: string, style: TomlStyle): string {
  return style === 'v2' && literalOk(s) ? `'${s}'` : basicString(s);
}

export function formatKey(k: string, style: TomlStyle = 'v1'): string {
  if (BARE_KEY.test(k)) return k;
  return str(k, style);
}

function formatFloat(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  const s = String(n);
  return /[.eE]/.test(s) ? s : s + '.0';
}

function formatValue(v: TomlValue, style: TomlStyle): string {
  if (typeof v === 'string') return str(v, style);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return formatFloat(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return '[' + v.map((x) => formatValue(x, style)).join(', ') + ']';
  if (isTable(v)) {
    const parts = Object.entries(v).map(([k, x]) => `${formatKey(k, style)} = ${formatValue(x, style)}`);
    return parts.length ? `{ ${parts.join(', ')} }` : '{}';
  }
  return (v as { toISOString(): string }).toISOString();
}

export function stringifyToml(tree: TomlTable, opts: StringifyOptions): string {
  const style = opts.style;
  const sorted = (opts.order ?? (style === 'v1' ? 'sorted' : 'insertion')) === 'sorted';
  const lines: string[] = [];
  const keysOf = (t: TomlTable) => (sorted ? Object.keys(t).sort() : Object.keys(t));
  const pad = (n: number) => '  '.repeat(Math.max(0, n));

  const emitTable = (t: TomlTable, path: string[], header: string | undefined, level: number): void => {
    const keys = keysOf(t);
    const plain = keys.filter((k) => !isTable(t[k]) && !isTableArray(t[k]));
    const nested = keys.filter((k) => isTable(t[k]) || isTableArray(t[k]));
    const implicit = opts.omitEmptyParents && header?.startsWith('[[') === false && plain.length === 0 && nested.length > 0;
    if (header !== undefined && !implicit) {
      if (style === 'v1' && lines.length > 0) lines.push('');
      lines.push(pad(level) + header);
    }
    const depth = header !== undefined && !implicit ? level + 1 : level;
    for (const k of plain) lines.push(pad(depth) + `${formatKey(k, style)} = ${formatValue(t[k]!, style)}`);
    nested.forEach((k, i) => {
      if (style === 'v2' && (i > 0 || plain.length > 0)) lines.push('');
      const childPath = [...path, k];
      const name = childPath.map((p) => formatKey(p, style)).join('.');
      const v = t[k]!;
      if (isTable(v)) {
        emitTable(v, childPath, `[${name}]`, depth);
      } else {
        (v as TomlTable[]).forEach((el, j) => {
          if (style === 'v2' && j > 0) lines.push('');
          emitTable(el, childPath, `[[${name}]]`, depth);
        });
      }
    });
  };
  emitTable(tree, [], undefined, 0);
  return lines.join('\n') + '\n';
}

/**
 * Parse TOML text; smol-toml is loaded here, on first use, so that commands
 * that never read a config don't pay for it. A syntax error becomes an
 * invalid-argument error naming `file:line:column`.
 */
export async function parseToml(text: string, file: string): Promise<TomlTable> {
  const toml = await import('smol-toml');
  try {
    return toml.parse(text, { integersAsBigInt: true }) as unknown as TomlTable;
  } catch (err) {
    if (err instanceof toml.TomlError) {
      const first = err.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
      throw invalidArgument(`invalid TOML at line ${err.line}, column ${err.column}: ${first}`, { subject: file, cause: err });
    }
    throw err;
  }
}

/** A tree as JSON-able data: integers become numbers (as strings past 2^53), dates ISO strings. */
export function toJSONValue(v: TomlValue): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(toJSONValue);
  if (isTable(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJSONValue(x)]));
  if (typeof v === 'object') return (v as { toISOString(): string }).toISOString();
  return v;
}

/** Deep copy of a tree (dates are shared; they are never mutated). */
export function cloneTree<T extends TomlValue>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneTree) as T;
  if (isTable(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cloneTree(x)])) as T;
  return v;
}

/** `plugins."io.containerd.grpc.v1.cri".registry` — a path the way a user writes it in a table header. */
export function formatPath(path: readonly string[]): string {
  return path.map((p) => formatKey(p, 'v1')).join('.');
}
