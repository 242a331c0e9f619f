/**
 * Reading extended attributes from the host side (Node has no xattr API and
 * Debian's `attr` tools are not a test dependency): lgetxattr/llistxattr
 * through koffi, loaded on first use.
 */
import { createRequire } from 'node:module';

type Fn = (...args: unknown[]) => number;
let fns: { lgetxattr: Fn; llistxattr: Fn; errno: () => number } | undefined;

function load(): NonNullable<typeof fns> {
  if (fns) return fns;
  const koffi = createRequire(import.meta.url)('koffi');
  const lib = koffi.load('libc.so.6');
  fns = {
    lgetxattr: lib.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, unsigned long size)'),
    llistxattr: lib.func('long llistxattr(const char *path, _Out_ uint8_t *list, unsigned long size)'),
    errno: () => koffi.errno() as number,
  };
  return fns;
}

const ENODATA = 61;
const ERANGE = 34;

/** The attribute's value, or undefined when the file does not have it. Does not follow symlinks. */
export function getXattr(path: string, name: string): Buffer | undefined {
  const f = load();
  for (let size = 256; ; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = f.lgetxattr(path, name, buf, size);
    if (n >= 0) return buf.subarray(0, n);
    const e = f.errno();
    if (e === ENODATA) return undefined;
    if (e !== ERANGE || size > 1 << 24) throw new Error(`lgetxattr(${path}, ${name}) failed: errno ${e}`);
  }
}

/** Names of the file's extended attributes (all namespaces the caller may read). */
export function listXattrs(path: string): string[] {
  const f = load();
  for (let size = 1024; ; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = f.llistxattr(path, buf, size);
    if (n >= 0) return buf.subarray(0, n).toString('utf8').split('\0').filter(Boolean);
    const e = f.errno();
    if (e !== ERANGE || size > 1 << 24) throw new Error(`llistxattr(${path}) failed: errno ${e}`);
  }
}
