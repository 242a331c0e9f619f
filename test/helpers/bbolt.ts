/**
 * The Go reference for ctrx's bolt engine: builds test/helpers/bbolt-go once
 * (GOPATH mode against Debian's go.etcd.io/bbolt) into a cache directory
 * keyed by the source and Go version, and runs its modes: check, dump, apply,
 * hold. Also a dump of a DB through ctrx's own API in the same JSON shape.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Bucket, Bytes, DB, Tx } from '../../src/bolt/index.js';

export interface DumpEntry {
  k: string;
  v?: string;
  b?: DumpBucket;
}
export interface DumpBucket {
  seq: string;
  entries: DumpEntry[];
}

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'ctrx') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the ctrx project root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

const GOPATH_SYSTEM = '/usr/share/gocode';

/** Why Go tests must be skipped, or null when go is installed. */
export function goSkipReason(): string | null {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'go is not installed (apt-get install golang-go golang-github-coreos-bbolt-dev)';
  return null;
}

let built: string | undefined;

/** Path of the built checker (built on first use; concurrent test processes share one build). */
export function bboltBinary(): string {
  if (built) return built;
  const src = join(projectRoot(), 'test', 'helpers', 'bbolt-go', 'main.go');
  const version = spawnSync('go', ['version'], { encoding: 'utf8' }).stdout.trim();
  const hash = createHash('sha256').update(readFileSync(src)).update(version).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `ctrx-bbolt-go-${hash}`);
  const bin = join(dir, 'bboltcheck');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(GOPATH_SYSTEM, 'src', 'go.etcd.io', 'bbolt'))) {
      throw new Error(`go.etcd.io/bbolt is missing under ${GOPATH_SYSTEM} (apt-get install golang-github-coreos-bbolt-dev)`);
    }
    const tmpBin = `${bin}.${process.pid}.tmp`;
    const r = spawnSync('go', ['build', '-o', tmpBin, src], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH: `${join(dir, 'gopath')}:${GOPATH_SYSTEM}`,
        GOCACHE: join(dir, 'gocache'),
        GOFLAGS: '',
      },
    });
    if (r.status !== 0) throw new Error(`building the bbolt checker failed:\n${r.stderr}${r.error ?? ''}`);
    renameSync(tmpBin, bin); // atomic: a parallel build of the same source just replaces it
  }
  built = bin;
  return bin;
}

function run(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(bboltBinary(), args, { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Go bbolt's tx.Check() plus the raw structural walk; null when clean, else the problems. */
export function goCheck(file: string): string | null {
  const r = run(['check', file]);
  if (r.status === 0 && r.stdout.trim() === 'ok') return null;
  return `${r.stdout}${r.stderr}`.trim() || `exit ${r.status}`;
}

export function assertGoCheck(file: string, context = ''): void {
  const problems = goCheck(file);
  if (problems) throw new Error(`Go bbolt check failed${context ? ` (${context})` : ''} for ${file}:\n${problems}`);
}

export function goDump(file: string): DumpBucket {
  const r = run(['dump', file]);
  if (r.status !== 0) throw new Error(`Go dump failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as DumpBucket;
}

export type GoOp =
  | { op: 'put'; path: string[]; key: string; value: string }
  | { op: 'delete'; path: string[]; key: string }
  | { op: 'createBucket'; path: string[]; key: string }
  | { op: 'deleteBucket'; path: string[]; key: string }
  | { op: 'setSequence'; path: string[]; seq: string }
  | { op: 'nextSequence'; path: string[] };

export interface GoScript {
  noFreelistSync?: boolean;
  pageSize?: number;
  txs: GoOp[][];
}

/** Apply transactions with Go bbolt (creates the file if missing). Keys, values and paths are hex. */
export function goApply(file: string, script: GoScript): void {
  const scriptFile = `${file}.script.json`;
  writeFileSync(scriptFile, JSON.stringify(script));
  try {
    const r = run(['apply', file, scriptFile]);
    if (r.status !== 0) throw new Error(`Go apply failed: ${r.stderr}`);
  } finally {
    rmSync(scriptFile, { force: true });
  }
}

export const hex = (s: string | Uint8Array): string => Buffer.from(s).toString('hex');

/** A Go process holding the database open read-write (flock LOCK_EX), like containerd. */
export interface GoHolder {
  pid: number;
  /** Commit one put through the holder (it creates the bucket if needed). */
  put(bucket: string, key: string, value: string): Promise<void>;
  /** Commit n transactions that each replace bucket "churn" (50 keys "<i>-<j>" = 200 × byte i, "counter" = i). */
  churn(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function goHold(file: string): Promise<GoHolder> {
  const child: ChildProcessWithoutNullStreams = spawn(bboltBinary(), ['hold', file], { stdio: 'pipe' });
  const lines = createInterface({ input: child.stdout });
  const queue: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  lines.on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else queue.push(l);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const l = queue.shift();
      if (l !== undefined) return resolve(l);
      const timer = setTimeout(() => reject(new Error(`Go holder did not answer: ${stderr}`)), 60_000);
      waiters.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
    });
  const ready = await nextLine();
  const m = /^ready (\d+)$/.exec(ready);
  if (!m) {
    child.kill('SIGKILL');
    throw new Error(`Go holder failed to start: ${ready} ${stderr}`);
  }
  return {
    pid: Number(m[1]),
    async put(bucket, key, value) {
      child.stdin.write(`put ${hex(bucket)} ${hex(key)} ${hex(value)}\n`);
      const l = await nextLine();
      if (l !== 'ok') throw new Error(`Go holder put failed: ${l} ${stderr}`);
    },
    async churn(n) {
      child.stdin.write(`churn ${n}\n`);
      const l = await nextLine();
      if (l !== 'ok') throw new Error(`Go holder churn failed: ${l} ${stderr}`);
    },
    async close() {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ---------------------------------------------------------------- ctrx-side dump

function dumpBucket(b: Bucket): DumpBucket {
  const entries: DumpEntry[] = [];
  b.forEach((k: Bytes, v: Bytes | null) => {
    if (v === null) entries.push({ k: hex(k), b: dumpBucket(b.bucket(k)!) });
    else entries.push({ k: hex(k), v: hex(v) });
  });
  return { seq: b.sequence().toString(), entries };
}

/** The whole tree through ctrx's API, in goDump's shape (the root's sequence is not part of it). */
export function tsDumpTx(tx: Tx): DumpBucket {
  const entries: DumpEntry[] = [];
  tx.forEach((k, v) => {
    if (v === null) entries.push({ k: hex(k), b: dumpBucket(tx.bucket(k)!) });
    else entries.push({ k: hex(k), v: hex(v) });
  });
  return { seq: '0', entries };
}

export function tsDump(db: DB): DumpBucket {
  return db.view(tsDumpTx);
}
