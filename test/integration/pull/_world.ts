/**
 * Shared pieces of the `images pull` tests: a private root/state "box" that
 * runs the built CLI against it (asynchronously, so an in-process
 * misbehaving registry can answer), and an inspector that reads what a pull
 * left behind straight from the files (records, blob files re-hashed,
 * snapshot dirs against the backend DB, mounts, Go bbolt's check).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { viewFile, metaDbPath } from '../../../src/metadata/db.js';
import { listBlobs, listIngests } from '../../../src/metadata/content.js';
import { listImages } from '../../../src/metadata/images.js';
import { listLeases, listLeaseResources } from '../../../src/metadata/leases.js';
import { listSnapshotRecords, snapshotterNames } from '../../../src/metadata/snapshots.js';
import { listBackend } from '../../../src/snapshots/storage.js';
import { assertGoCheck, goSkipReason } from '../../helpers/bbolt.js';
import { fixtureUnavailable } from '../../helpers/fixtures.js';
import { runCtrx, type RunResult } from '../../helpers/run.js';
import { makeTempDir, mountsUnder, removeTempDir } from '../../helpers/tmp.js';

export const NS = 'default';

/** Why the pull tests cannot run here, or undefined. */
export function skipReason(opts: { containerd?: boolean } = {}): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mounts, containerd)';
  if (opts.containerd && !existsSync('/usr/bin/containerd')) return 'containerd is not installed';
  return fixtureUnavailable('busybox') ?? fixtureUnavailable('redis') ?? goSkipReason() ?? undefined;
}

export interface XOpts {
  env?: Record<string, string>;
  timeoutMs?: number;
  input?: string;
  /** containerd config.toml for -c (default: a file that does not exist). */
  config?: string;
  /** Another root/state than the box's (e.g. a running containerd's). */
  root?: string;
  state?: string;
}

export interface Box {
  dir: string;
  root: string;
  state: string;
  /** An empty docker config dir, so the host's ~/.docker is never read. */
  dockerConfig: string;
  /** `ctrx --root R --state S -c <missing> args…`, extra env merged over the test's. */
  x(args: string[], opts?: XOpts): Promise<RunResult>;
  /** Like x() but fails the test (with the output) unless the exit code is 0. */
  xOk(args: string[], opts?: XOpts): Promise<RunResult>;
  remove(): void;
}

export function newBox(prefix = 'ctrx-pull-'): Box {
  const dir = makeTempDir(prefix);
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const dockerConfig = join(dir, 'docker');
  mkdirSync(dockerConfig);
  const x: Box['x'] = (args, o = {}) =>
    runCtrx(['--root', o.root ?? root, '--state', o.state ?? state, '-c', o.config ?? join(dir, 'no-config.toml'), ...args], {
      env: { ...process.env, DOCKER_CONFIG: dockerConfig, ...(o.env ?? {}) },
      timeoutMs: o.timeoutMs ?? 90_000,
      ...(o.input !== undefined ? { input: o.input } : {}),
    });
  return {
    dir,
    root,
    state,
    dockerConfig,
    x,
    async xOk(args, o) {
      const r = await x(args, o);
      if (r.code !== 0) throw new Error(`ctrx ${args.join(' ')} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      return r;
    },
    remove: () => removeTempDir(dir),
  };
}

export const contentDir = (root: string) => join(root, 'io.containerd.content.v1.content');
export const snapshotterDir = (root: string, sn: string) => join(root, `io.containerd.snapshotter.v1.${sn}`);

const ls = (d: string): string[] => (existsSync(d) ? readdirSync(d).sort() : []);

/** Blob file names (`sha256:<hex>`). */
export function blobFiles(root: string): string[] {
  return ls(join(contentDir(root), 'blobs', 'sha256')).map((h) => `sha256:${h}`);
}
export function ingestDirs(root: string): string[] {
  return ls(join(contentDir(root), 'ingest'));
}
export function snapshotDirs(root: string, sn: string): string[] {
  return ls(join(snapshotterDir(root, sn), 'snapshots'));
}

/** Blob files whose bytes do not hash to their name. */
export function badBlobs(root: string): string[] {
  return blobFiles(root).filter((d) => {
    const h = createHash('sha256').update(readFileSync(join(contentDir(root), 'blobs', 'sha256', d.slice(7)))).digest('hex');
    return `sha256:${h}` !== d;
  });
}

export interface Snap {
  key: string;
  parent?: string;
  labels: Record<string, string>;
  /** backend key */
  name: string;
}

export interface State {
  images: { name: string; digest: string; mediaType: string; size: number }[];
  blobs: Map<string, Record<string, string>>;
  ingests: string[];
  leases: { id: string; labels: Record<string, string>; resources: string[] }[];
  /** Metadata records per snapshotter. */
  snapshots: Record<string, Snap[]>;
  /** Backend records per snapshotter: key → { id, kind, parent }. */
  backend: Record<string, { key: string; id: string; kind: string; parent?: string }[]>;
}

/** What the files say, read with ctrx's own bolt reader (meta.db and each snapshotter DB). */
export function readState(root: string, ns = NS): State {
  const st: State = { images: [], blobs: new Map(), ingests: [], leases: [], snapshots: {}, backend: {} };
  viewFile(metaDbPath(root), (tx) => {
    if (!tx) return;
    st.images = listImages(tx, ns).map((i) => ({ name: i.name, digest: i.target.digest, mediaType: i.target.mediaType, size: i.target.size }));
    for (const b of listBlobs(tx, ns)) st.blobs.set(b.digest, { ...b.labels });
    st.ingests = listIngests(tx, ns).map((i) => i.ref);
    st.leases = listLeases(tx, ns).map((l) => ({ id: l.id, labels: { ...l.labels }, resources: listLeaseResources(tx, ns, l.id).map((r) => `${r.type}:${r.id}`) }));
    for (const sn of snapshotterNames(tx, ns)) {
      st.snapshots[sn] = listSnapshotRecords(tx, ns, sn).map((s) => ({ key: s.key, name: s.name, labels: { ...s.labels }, ...(s.parent ? { parent: s.parent } : {}) }));
    }
  });
  for (const sn of ['overlayfs', 'native']) {
    const db = join(snapshotterDir(root, sn), 'metadata.db');
    if (!existsSync(db)) continue;
    st.backend[sn] = viewFile(db, (tx) => (tx ? listBackend(tx).map((b) => ({ key: b.key, id: String(b.id), kind: b.kind, ...(b.parent ? { parent: b.parent } : {}) })) : []));
  }
  return st;
}

/**
 * The invariants every pull (successful, failed or killed) must keep:
 * both DBs pass Go's check, every blob re-hashes to its name, every blob
 * record has its file, every backend snapshot has its dir and is named by a
 * metadata record, every record's backend exists, every snapshot dir is a
 * backend id, no mount is left under the root. After a kill, orphans that
 * containerd's GC removes are allowed (see below), nothing else.
 */
export function assertConsistent(root: string, what = '', opts: { afterKill?: boolean } = {}): State {
  const ctx = what ? ` (${what})` : '';
  const problems: string[] = [];
  if (existsSync(metaDbPath(root))) assertGoCheck(metaDbPath(root), `meta.db${ctx}`);
  for (const sn of ['overlayfs', 'native']) {
    const db = join(snapshotterDir(root, sn), 'metadata.db');
    if (existsSync(db)) assertGoCheck(db, `${sn} metadata.db${ctx}`);
  }
  const bad = badBlobs(root);
  if (bad.length) problems.push(`blobs not hashing to their name: ${bad.join(', ')}`);
  const st = readState(root);
  const files = new Set(blobFiles(root));
  for (const d of st.blobs.keys()) if (!files.has(d)) problems.push(`blob record without a file: ${d}`);
  for (const [sn, backend] of Object.entries(st.backend)) {
    const ids = new Set(backend.map((b) => b.id));
    const dirs = snapshotDirs(root, sn);
    // A process killed between creating a dir and committing its records leaves an orphan dir, as containerd
    // does; containerd's GC (overlay Cleanup) removes those. Never the other way round.
    if (!opts.afterKill) for (const d of dirs) if (!ids.has(d)) problems.push(`${sn}: snapshot dir ${d} has no backend record`);
    for (const b of backend) if (!dirs.includes(b.id)) problems.push(`${sn}: backend ${b.key} (id ${b.id}) has no dir`);
    const named = new Set((st.snapshots[sn] ?? []).map((s) => s.name));
    // A kill between the two commits of one session (the snapshotter DB first, then meta.db, as containerd
    // orders them) leaves the backend renamed under a name no record has yet, and the extraction record still
    // on the old name: containerd's GC removes the orphan backend at its next snapshot sweep and the record once
    // its lease expires. A committed chain snapshot
    // must never point at a missing backend: a later pull would skip unpacking it.
    if (!opts.afterKill) for (const b of backend) if (!named.has(b.key)) problems.push(`${sn}: backend ${b.key} is named by no metadata record`);
    for (const s of st.snapshots[sn] ?? []) {
      if (opts.afterKill && s.key.startsWith('extract-')) continue;
      if (!backend.some((b) => b.key === s.name)) problems.push(`${sn}: record ${s.key} points at missing backend ${s.name}`);
    }
  }
  const mounts = mountsUnder(root);
  if (mounts.length) problems.push(`mounts left: ${mounts.map((m) => m.mountPoint).join(', ')}`);
  if (problems.length) throw new Error(`inconsistent state${ctx}:\n${problems.join('\n')}`);
  return st;
}

/** The labels of every blob reachable from the image records (root, children through gc.ref.content labels). */
export function reachable(st: State): Set<string> {
  const seen = new Set<string>();
  const walk = (d: string) => {
    if (seen.has(d)) return;
    seen.add(d);
    for (const [k, v] of Object.entries(st.blobs.get(d) ?? {})) if (/^containerd\.io\/gc\.ref\.content(\.|\/|$)/.test(k)) walk(v);
  };
  for (const i of st.images) walk(i.digest);
  return seen;
}
