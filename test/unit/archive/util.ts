/**
 * Building hostile tars and applying them next to a victim.
 *
 * Ordinary entries go through tar-stream's pack; what pack cannot express
 * (binary PAX values, bad checksums, base-256 numbers, GNU long names, huge
 * declared sizes, zero blocks in the middle) is written block by block here.
 *
 * Every apply runs in a fresh `<base>/root` with a sentinel tree next to it:
 * `<base>/victim/` (files, a dir, a symlink) and `<base>/rootx/hello` (a
 * sibling whose name shares the root's prefix). After the apply the sentinels,
 * the list of `<base>`'s entries and the host's /etc/passwd must be unchanged.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack, type Header } from 'tar-stream';
import { applyLayer, type ApplyOptions, type ApplyResult } from '../../../src/archive/apply.js';
import { CtrxError } from '../../../src/errdefs.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { diffTrees, snapshot } from './tree.js';

export interface PackEntry extends Partial<Header> {
  name: string;
  data?: Buffer | string;
}

/** A tar from tar-stream's pack (PAX records as text). */
export async function packTar(entries: PackEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const e of entries) {
    const { data, ...h } = e;
    const body = data === undefined ? undefined : Buffer.from(data);
    await new Promise<void>((resolve, reject) => {
      const header = { mtime: new Date(Date.UTC(2024, 0, 1)), uid: 0, gid: 0, ...h, size: body?.length ?? 0 } as Header;
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) p.entry(header, body, cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

// ---- raw blocks ----

export interface RawHeader {
  name?: string | Buffer;
  typeflag?: string;
  mode?: number;
  uid?: number | Buffer;
  gid?: number | Buffer;
  size?: number | Buffer;
  mtime?: number | Buffer;
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  /** Override the checksum field's value. */
  badChecksum?: boolean;
  format?: 'ustar' | 'gnu' | 'v7';
}

function octal(v: number, width: number): Buffer {
  const s = v.toString(8).padStart(width - 1, '0') + '\0';
  return Buffer.from(s, 'latin1');
}

/** Base-256 field of `width` bytes (negative values in two's complement). */
export function base256(v: bigint, width: number): Buffer {
  const b = Buffer.alloc(width);
  let x = v < 0n ? (1n << BigInt(width * 8)) + v : v;
  for (let i = width - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  b[0] = v < 0n ? 0xff : b[0]! | 0x80;
  return b;
}

export function rawHeader(h: RawHeader): Buffer {
  const b = Buffer.alloc(512);
  const put = (v: string | Buffer | number | undefined, off: number, width: number, numeric: boolean) => {
    if (v === undefined) return;
    const buf = typeof v === 'number' ? (numeric ? octal(v, width) : Buffer.from(String(v))) : Buffer.from(v);
    buf.copy(b, off, 0, Math.min(buf.length, width));
  };
  put(h.name ?? 'x', 0, 100, false);
  put(h.mode ?? 0o644, 100, 8, true);
  put(h.uid ?? 0, 108, 8, true);
  put(h.gid ?? 0, 116, 8, true);
  put(h.size ?? 0, 124, 12, true);
  put(h.mtime ?? 1704067200, 136, 12, true);
  b.write(h.typeflag ?? '0', 156, 'latin1');
  put(h.linkname, 157, 100, false);
  const format = h.format ?? 'ustar';
  if (format === 'ustar') b.write('ustar\x0000', 257, 'latin1');
  if (format === 'gnu') b.write('ustar  \x00', 257, 'latin1');
  if (format !== 'v7') {
    put(h.devmajor ?? 0, 329, 8, true);
    put(h.devminor ?? 0, 337, 8, true);
  }
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  if (h.badChecksum) sum += 1;
  octal(sum, 7).copy(b, 148);
  b[155] = 0x20;
  return b;
}

export const pad512 = (data: Buffer): Buffer => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

/** A regular or header-only entry with its data. */
export function rawEntry(h: RawHeader, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const d = Buffer.from(data);
  return Buffer.concat([rawHeader({ ...h, size: h.size ?? d.length }), pad512(d)]);
}

/** One PAX record "%d %s=%s\n" (the length counts itself). */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n = String(n).length + body.length;
  return Buffer.concat([Buffer.from(String(n)), body]);
}

/** A PAX header ('x', or 'g' for global) carrying `records`. */
export function paxEntry(records: [string, Buffer | string][], typeflag = 'x'): Buffer {
  const data = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  return rawEntry({ name: 'PaxHeader', typeflag }, data);
}

export const END = Buffer.alloc(1024);

export function tarBytes(...parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, END]);
}

// ---- applying next to a victim ----

export interface Scene {
  base: string;
  root: string;
  victim: string;
  rootx: string;
}

export function hostPasswdHash(): string {
  return createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex');
}

export function makeScene(): Scene {
  const base = makeTempDir('ctrx-archive-');
  const root = join(base, 'root');
  const victim = join(base, 'victim');
  const rootx = join(base, 'rootx');
  mkdirSync(root);
  mkdirSync(join(victim, 'sub'), { recursive: true });
  writeFileSync(join(victim, 'hello'), 'do not touch\n', { mode: 0o640 });
  writeFileSync(join(victim, 'sub', 'deep'), 'deep\n');
  symlinkSync('hello', join(victim, 'link'));
  mkdirSync(rootx);
  writeFileSync(join(rootx, 'hello'), 'sibling\n');
  return { base, root, victim, rootx };
}

export type Outcome = { ok: true; result: ApplyResult } | { ok: false; error: CtrxError };

/**
 * Applies `layers` in order into a fresh scene's root (stopping at the first
 * error), checks the sentinels, then hands the scene to `inspect` and removes it.
 * Any error that is not a CtrxError fails the test.
 */
export async function applyInScene(layersOf: Buffer[] | ((s: Scene) => Buffer[] | Promise<Buffer[]>), optsOf: ApplyOptions | ((s: Scene) => ApplyOptions), inspect?: (s: Scene, o: Outcome) => void | Promise<void>): Promise<Outcome> {
  const s = makeScene();
  const passwd = hostPasswdHash();
  const before = { victim: snapshot(s.victim), rootx: snapshot(s.rootx), base: readdirSync(s.base).sort() };
  let outcome: Outcome | undefined;
  try {
    const layers = typeof layersOf === 'function' ? await layersOf(s) : layersOf;
    const opts = typeof optsOf === 'function' ? optsOf(s) : optsOf;
    for (const layer of layers) {
      try {
        outcome = { ok: true, result: await applyLayer(Readable.from([layer]), s.root, opts) };
      } catch (e) {
        if (!(e instanceof CtrxError)) throw e;
        outcome = { ok: false, error: e };
        break;
      }
    }
    assert.deepEqual(diffTrees(before.victim, snapshot(s.victim)), [], 'victim tree unchanged');
    assert.deepEqual(diffTrees(before.rootx, snapshot(s.rootx)), [], 'sibling tree unchanged');
    assert.deepEqual(readdirSync(s.base).sort(), before.base, 'nothing new next to the root');
    assert.equal(hostPasswdHash(), passwd, "host's /etc/passwd unchanged");
    await inspect?.(s, outcome!);
    return outcome!;
  } finally {
    removeTempDir(s.base);
  }
}
