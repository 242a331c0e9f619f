/**
 * Opening containerd's databases for an OpContext. Reads go through the
 * engine's lock-free view() and work while containerd runs. Writes refuse
 * fast when containerd (or anyone) holds meta.db's flock, and take the locks
 * in containerd's order: meta.db first, then each snapshotter metadata.db.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DB, Tx } from '../bolt/types.js';
import { openDB } from '../bolt/index.js';
import { CtrxError, unavailable } from '../errdefs.js';
import { processName, flockHolders } from '../platform/index.js';
import type { OpContext } from '../context.js';
import { ensureWritableSchema } from './buckets.js';
import { META_DB, METADATA_DIR, SNAPSHOTTER_DB, snapshotterDir } from './schema.js';

export const metaDbPath = (root: string): string => join(root, METADATA_DIR, META_DB);
export const snapshotterRoot = (ctx: Pick<OpContext, 'root' | 'facts'>, name: string): string => {
  if (name === 'overlayfs' && ctx.facts.overlayfsRootPath) return ctx.facts.overlayfsRootPath;
  if (name === 'native' && ctx.facts.nativeRootPath) return ctx.facts.nativeRootPath;
  return join(ctx.root, snapshotterDir(name));
};
export const snapshotterDbPath = (ctx: Pick<OpContext, 'root' | 'facts'>, name: string): string => join(snapshotterRoot(ctx, name), SNAPSHOTTER_DB);

/** Who holds a file's flock: pid and command name, when /proc/locks tells. */
export function lockHolder(file: string): { pid?: number; name?: string } {
  try {
    const pids = flockHolders(statSync(file).ino);
    const pid = pids[0];
    return pid ? { pid, name: processName(pid) } : {};
  } catch {
    return {};
  }
}

function lockedError(file: string, db?: DB): CtrxError {
  let who = db?.lockedBy();
  if (!who?.pid) who = { locked: true, ...lockHolder(file) };
  const name = file.endsWith(META_DB) ? 'meta.db' : file.split('/').slice(-2).join('/');
  const holder = who.pid ? `${who.name || 'process'} (pid ${who.pid})` : 'another process';
  const daemon = !who.name || /containerd/.test(who.name);
  return unavailable(
    `locked by ${holder}: ctrx cannot write while ${daemon ? 'the daemon' : 'it'} runs; ${daemon ? 'stop it or use ctr' : 'try again when it is done'}`,
    { subject: name },
  );
}

function isLockError(e: unknown): boolean {
  return e instanceof CtrxError && e.category === 'unavailable';
}

/** A read over a DB file that may not exist yet: fn gets null then. */
export function viewFile<T>(file: string, fn: (tx: Tx | null) => T): T {
  if (!existsSync(file)) return fn(null);
  const db = openDB(file, { readOnly: true });
  try {
    return db.view((tx) => fn(tx));
  } finally {
    db.close();
  }
}

export function viewMeta<T>(ctx: Pick<OpContext, 'root'>, fn: (tx: Tx | null) => T): T {
  return viewFile(metaDbPath(ctx.root), fn);
}

export function viewSnapshotter<T>(ctx: Pick<OpContext, 'root' | 'facts'>, name: string, fn: (tx: Tx | null) => T): T {
  return viewFile(snapshotterDbPath(ctx, name), fn);
}

/** Opens a DB for writing, creating its directory and file with containerd's modes. */
function openForWrite(file: string, dirMode: number, fileMode: number): DB {
  const dir = file.slice(0, file.lastIndexOf('/'));
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: dirMode });
  return openDB(file, { create: true, mode: fileMode });
}

/**
 * One write session: meta.db's write tx wraps everything; the snapshotter
 * DBs named are locked inside it (containerd's order: meta.db first) and
 * commit before meta.db does. A snapshotter DB that does not exist is left
 * out of `sn` unless `create` is set. A lock held by another process becomes
 * an 'unavailable' error naming it, before anything is written.
 */
export function writeWith<T>(
  ctx: Pick<OpContext, 'root' | 'facts'>,
  snapshotters: string[],
  fn: (meta: Tx, sn: Record<string, Tx>) => T,
  opts: { create?: boolean } = {},
): T {
  const file = metaDbPath(ctx.root);
  const names = [...new Set(snapshotters)].filter((n) => opts.create || existsSync(snapshotterDbPath(ctx, n)));
  // Probe every lock first: a refused write must leave every file untouched.
  for (const f of [file, ...names.map((n) => snapshotterDbPath(ctx, n))]) {
    if (existsSync(f) && lockHolder(f).pid) throw lockedError(f);
  }
  const dbs: DB[] = [];
  try {
    const db = openForWrite(file, 0o711, 0o644);
    dbs.push(db);
    if (db.lockedBy().locked) throw lockedError(file, db);
    const sdbs = names.map((n) => {
      const sdb = openForWrite(snapshotterDbPath(ctx, n), 0o700, 0o600);
      dbs.push(sdb);
      return sdb;
    });
    const sn: Record<string, Tx> = {};
    const nest = (i: number, meta: Tx): T => {
      if (i === names.length) return fn(meta, sn);
      const sfile = snapshotterDbPath(ctx, names[i]!);
      try {
        return sdbs[i]!.update((stx) => {
          stx.createBucketIfNotExists('v1');
          sn[names[i]!] = stx;
          return nest(i + 1, meta);
        });
      } catch (e) {
        if (isLockError(e) && !(e as CtrxError).message.includes('ctrx cannot write')) throw lockedError(sfile, sdbs[i]);
        throw e;
      }
    };
    try {
      return db.update((meta) => {
        ensureWritableSchema(meta, 'meta.db');
        return nest(0, meta);
      });
    } catch (e) {
      if (isLockError(e) && !(e as CtrxError).message.includes('ctrx cannot write')) throw lockedError(file, db);
      throw e;
    }
  } finally {
    for (const d of dbs.reverse()) d.close();
  }
}

/** A write that touches meta.db only. */
export function writeMeta<T>(ctx: Pick<OpContext, 'root' | 'facts'>, fn: (meta: Tx) => T): T {
  return writeWith(ctx, [], (meta) => fn(meta));
}
