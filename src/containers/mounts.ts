/**
 * `--mount type=bind,src=/a,dst=/b,options=rbind:ro` as ctr parses it (one
 * CSV record of key=value fields; options separated by ':'), with checks ctr
 * leaves to runc:
 *  - destinations are absolute and contain no `..` (runc resolves them
 *    inside the rootfs, but a `..` is never what the user meant);
 *  - a bind mount without `bind`/`rbind` gets `rbind`: ctr passes it as is
 *    and runc fails with "no such device" (containerd#2831);
 *  - bind sources are absolute host paths (relative ones would be taken
 *    relative to the bundle by runc).
 */
import path from 'node:path';
import { invalidArgument } from '../errdefs.js';
import type { Mount } from './spec-types.js';

/** Splits one CSV record (Go's encoding/csv: `"` quotes a field, `""` is a quote inside it). */
export function splitCsv(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw invalidArgument(`unterminated quote in ${JSON.stringify(s)}`);
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += s[i++];
      }
      if (i < s.length && s[i] !== ',') throw invalidArgument(`extraneous text after a quoted field in ${JSON.stringify(s)}`);
    } else {
      const end = s.indexOf(',', i);
      field = end < 0 ? s.slice(i) : s.slice(i, end);
      if (field.includes('"')) throw invalidArgument(`bare quote in a field of ${JSON.stringify(s)}`);
      i = end < 0 ? s.length : end;
    }
    out.push(field);
    if (i >= s.length) return out;
    i++; // the comma
  }
}

/** Rejects relative destinations and `..` components. */
export function checkDestination(dst: string, what = 'mount destination'): string {
  if (!dst) throw invalidArgument(`${what} is required`);
  if (dst.includes('\0')) throw invalidArgument(`${what} must not contain NUL`);
  if (!dst.startsWith('/')) throw invalidArgument(`${what} ${JSON.stringify(dst)} must be an absolute path`);
  if (dst.split('/').includes('..')) throw invalidArgument(`${what} ${JSON.stringify(dst)} must not contain ".."`);
  return path.posix.normalize(dst);
}

export function parseMountFlag(s: string): Mount {
  const m: { type?: string; source?: string; destination?: string; options?: string[] } = {};
  if (s.includes('\0')) throw invalidArgument('mount specification must not contain NUL');
  for (const field of splitCsv(s)) {
    const eq = field.indexOf('=');
    if (eq < 0) throw invalidArgument(`invalid mount specification ${JSON.stringify(s)}: expected key=value`, { hint: 'e.g. type=bind,src=/tmp,dst=/host,options=rbind:ro' });
    const key = field.slice(0, eq);
    const val = field.slice(eq + 1);
    switch (key) {
      case 'type':
        m.type = val;
        break;
      case 'source':
      case 'src':
        m.source = val;
        break;
      case 'destination':
      case 'dst':
        m.destination = val;
        break;
      case 'options':
        m.options = val.split(':');
        break;
      default:
        throw invalidArgument(`mount option ${JSON.stringify(key)} not supported`, { hint: 'keys: type, src|source, dst|destination, options' });
    }
  }
  return normalizeMount(m);
}

/** Validates a mount (from --mount or built by a caller) and fills what runc needs. */
export function normalizeMount(m: Partial<Mount>): Mount {
  const type = m.type ?? '';
  if (!/^[a-z0-9._-]+$/.test(type)) throw invalidArgument(`mount type ${JSON.stringify(type)} is missing or invalid`, { hint: 'type=bind or type=tmpfs' });
  const destination = checkDestination(m.destination ?? '');
  const options = (m.options ?? []).filter((o) => o !== '');
  for (const o of options) if (/[\0,]/.test(o)) throw invalidArgument(`invalid mount option ${JSON.stringify(o)}`);
  if (type === 'bind') {
    const source = m.source ?? '';
    if (!source) throw invalidArgument(`bind mount on ${destination} needs src=`);
    if (!source.startsWith('/')) throw invalidArgument(`bind mount source ${JSON.stringify(source)} must be an absolute path`);
    if (!options.includes('bind') && !options.includes('rbind')) options.unshift('rbind');
    return { destination, type, source, options };
  }
  // ctr leaves the source of tmpfs & co. empty; runc passes "" to mount(2), which these filesystems ignore.
  const out: Mount = { destination, type };
  if (m.source) out.source = m.source;
  if (options.length) out.options = options;
  return out;
}
