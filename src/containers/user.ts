/**
 * Users and groups of a container, resolved the way containerd 1.6 does
 * (oci.WithUser, WithUserID, WithUsername, WithAdditionalGIDs) but only
 * from the image's own /etc/passwd and /etc/group:
 *
 *  - paths are resolved inside the rootfs with symlinks followed as if the
 *    rootfs were `/` (an `etc/passwd -> /etc/shadow` link reads the image's
 *    /etc/shadow, never the host's);
 *  - the final file is opened O_NOFOLLOW|O_NONBLOCK and must be a regular
 *    file of at most 4 MiB: a FIFO, a device or a 2 GB file is refused
 *    without blocking or reading it;
 *  - numeric ids must lie in [0, 2^31-1] (CVE-2024-40635: 4294967296 or -1
 *    must never wrap to root); an entry whose uid/gid field is not a number
 *    is an error, not uid 0 as Go's parser makes it;
 *  - supplementary groups come from /etc/group membership (CVE-2023-25173),
 *    with the primary gid first, as containerd's ensureAdditionalGids.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { invalidArgument, notFound, failedPrecondition } from '../errdefs.js';

export const MAX_ID = 2 ** 31 - 1;
/** containerd reads these files unbounded; a few MiB is far more than any real image has. */
export const MAX_DB_BYTES = 4 * 1024 * 1024;
const MAX_SYMLINKS = 40;

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** 1-based line number, for messages. */
  line: number;
  /** Set when uid or gid is not a valid id. */
  invalid?: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
  line: number;
  invalid?: string;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Primary gid first, then supplementary groups from /etc/group. */
  additionalGids: number[];
}

/**
 * The host path of `p` inside `root`, every symlink resolved against
 * `root` (absolute targets restart at `root`, `..` stops at it). The last
 * component is returned unresolved when it is not a symlink; missing
 * components are returned as they are (the caller's open fails with ENOENT).
 */
export function resolveInRoot(root: string, p: string): string {
  const base = path.resolve(root);
  const pending = p.split('/').filter((c) => c && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const c = pending.shift()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    const host = path.join(base, ...done, c);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      done.push(c, ...pending.filter((x) => x !== '..'));
      return path.join(base, ...done);
    }
    if (!st.isSymbolicLink()) {
      done.push(c);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw invalidArgument(`too many levels of symbolic links resolving ${p} in the image`);
    const target = readlinkSync(host);
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter((x) => x && x !== '.'));
  }
  return path.join(base, ...done);
}

/**
 * Reads `/etc/<name>` of the image, bounded; undefined when it does not exist.
 * Throws for anything but a regular file of at most MAX_DB_BYTES.
 */
export function readImageFile(root: string, file: string, max = MAX_DB_BYTES): string | undefined {
  const host = resolveInRoot(root, file);
  let fd: number;
  try {
    fd = openSync(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP') throw invalidArgument(`${file} in the image is a symbolic link loop`);
    throw invalidArgument(`cannot open ${file} in the image: ${code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw invalidArgument(`${file} in the image is not a regular file`);
    if (st.size > max) throw invalidArgument(`${file} in the image is ${st.size} bytes, more than ${max}`);
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) break;
      off += n;
    }
    if (off > max) throw invalidArgument(`${file} in the image is more than ${max} bytes`);
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Parses a decimal id the way containerd accepts it (Go's Atoi: optional sign), then range-checks it. */
export function parseId(s: string, what: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw invalidArgument(`${what} ${JSON.stringify(s)} is not a number`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ID) throw invalidArgument(`${what} ${s} is out of range [0, ${MAX_ID}]`);
  return n;
}

function isNumeric(s: string): boolean {
  return /^[+-]?\d+$/.test(s);
}

function idField(s: string | undefined): { n: number; bad?: string } {
  if (s === undefined || !/^\d+$/.test(s.trim())) return { n: -1, bad: `id ${JSON.stringify(s ?? '')} is not a number` };
  const n = Number(s.trim());
  if (n > MAX_ID) return { n: -1, bad: `id ${s} is out of range` };
  return { n };
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const f = line.split(':');
    const uid = idField(f[2]);
    const gid = idField(f[3]);
    const bad = uid.bad ?? gid.bad;
    out.push({ name: f[0]!, uid: uid.n, gid: gid.n, home: f[5] ?? '', shell: f[6] ?? '', line: i + 1, ...(bad ? { invalid: bad } : {}) });
  });
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const f = line.split(':');
    const gid = idField(f[2]);
    const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean);
    out.push({ name: f[0]!, gid: gid.n, members, line: i + 1, ...(gid.bad ? { invalid: gid.bad } : {}) });
  });
  return out;
}

function checked<T extends { invalid?: string; line: number }>(e: T, file: string): T {
  if (e.invalid) throw invalidArgument(`${file} line ${e.line}: ${e.invalid}`);
  return e;
}

/** Image user databases, read lazily once. */
class Db {
  private passwd?: PasswdEntry[] | null;
  private group?: GroupEntry[] | null;
  constructor(private readonly root: string | undefined) {}
  users(): PasswdEntry[] | null {
    if (this.passwd === undefined) {
      const t = this.root === undefined ? undefined : readImageFile(this.root, '/etc/passwd');
      this.passwd = t === undefined ? null : parsePasswd(t);
    }
    return this.passwd;
  }
  groups(): GroupEntry[] | null {
    if (this.group === undefined) {
      const t = this.root === undefined ? undefined : readImageFile(this.root, '/etc/group');
      this.group = t === undefined ? null : parseGroup(t);
    }
    return this.group;
  }
  needRoot(what: string): void {
    if (this.root === undefined) throw failedPrecondition(`cannot resolve ${what} without the container's root filesystem`);
  }
}

function userByName(db: Db, name: string): PasswdEntry {
  db.needRoot(`user ${JSON.stringify(name)}`);
  const users = db.users();
  if (!users) throw notFound('no /etc/passwd in the image', { subject: `user "${name}"` });
  const u = users.find((x) => x.name === name);
  if (!u) throw notFound('no such user in the image\'s /etc/passwd', { subject: `user "${name}"` });
  return checked(u, '/etc/passwd');
}

function groupByName(db: Db, name: string): number {
  db.needRoot(`group ${JSON.stringify(name)}`);
  const groups = db.groups();
  if (!groups) throw notFound('no /etc/group in the image', { subject: `group "${name}"` });
  const g = groups.find((x) => x.name === name);
  if (!g) throw notFound('no such group in the image\'s /etc/group', { subject: `group "${name}"` });
  return checked(g, '/etc/group').gid;
}

/** Supplementary gids of the user named `name` (groups listing it, except its own-named group), primary first. */
function withGroups(db: Db, name: string | undefined, uid: number, gid: number): ResolvedUser {
  let extra: number[] = [];
  if (name !== undefined) {
    const groups = db.groups() ?? [];
    extra = groups.filter((g) => g.name !== name && g.members.includes(name)).map((g) => checked(g, '/etc/group').gid);
  }
  return { uid, gid, additionalGids: extra.includes(gid) ? extra : [gid, ...extra] };
}

/**
 * Resolves an OCI image `User` value (`user`, `uid`, `user:group`,
 * `uid:gid`, `uid:group`, `user:gid`; empty = root) against the rootfs at
 * `root` (undefined: numeric forms only).
 */
export function resolveUser(spec: string, root: string | undefined): ResolvedUser {
  const db = new Db(root);
  if (spec.includes('\0')) throw invalidArgument('user must not contain NUL');
  const parts = spec === '' ? [] : spec.split(':');
  if (parts.length > 2 || parts.some((p) => p === '')) throw invalidArgument(`invalid user ${JSON.stringify(spec)}: expected user[:group] or uid[:gid]`);
  if (parts.length === 0) {
    // containerd queries supplementary groups of "root" even when the image names no user.
    return root === undefined ? { uid: 0, gid: 0, additionalGids: [0] } : withGroups(db, 'root', 0, 0);
  }
  const [u, g] = parts as [string, string | undefined];
  let uid: number;
  let gid: number;
  let name: string | undefined;
  if (isNumeric(u)) {
    uid = parseId(u, 'uid');
    // WithUserID: the passwd entry with this uid gives the primary gid (0 when there is none).
    const entry = root === undefined ? undefined : db.users()?.find((x) => x.uid === uid && !x.invalid);
    name = entry?.name;
    gid = entry?.gid ?? 0;
  } else {
    const entry = userByName(db, u);
    uid = entry.uid;
    gid = entry.gid;
    name = entry.name;
  }
  if (g !== undefined) gid = isNumeric(g) ? parseId(g, 'gid') : groupByName(db, g);
  if (root === undefined) return { uid, gid, additionalGids: [gid] };
  return withGroups(db, name, uid, gid);
}
