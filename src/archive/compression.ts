/**
 * Layer decompression, chosen by magic bytes as containerd's
 * compression.DetectCompression does: gzip (1f 8b 08), zstd (28 b5 2f fd or
 * a skippable frame 0x184D2A5?), otherwise uncompressed.
 *
 * gzip is node:zlib; concatenated members are decoded one after the other,
 * and garbage after the last member is an error, as in Go's gzip reader.
 * (zlib tolerates trailing zero bytes; Go would call them a bad header.)
 *
 * zstd: Node 20 has none. This module is the one place that decides: the
 * runtime's zlib.createZstdDecompress when it exists (Deno 2, Node ≥ 22.15),
 * else Debian's `zstd` binary as a subprocess. No pure-JS decoder is used:
 * none is the clear, maintained standard, and the binary is the reference
 * implementation. Both refuse frames whose window exceeds 128 MiB (window log
 * 27), so a hostile frame cannot demand gigabytes of memory.
 */
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { invalidArgument, unavailable } from '../errdefs.js';
import { which } from '../host/which.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** Largest zstd window accepted: 2^27 = 128 MiB. */
export const ZSTD_WINDOW_LOG_MAX = 27;

export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 4) {
    if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
    const le = (head[0]! | (head[1]! << 8) | (head[2]! << 16) | (head[3]! << 24)) >>> 0;
    if ((le & 0xfffffff0) >>> 0 === 0x184d2a50) return 'zstd';
  }
  return 'none';
}

/** Which zstd decoder this runtime will use (for `ctrx info`-style reports and tests). */
export function zstdDecoder(): 'zlib' | 'zstd-binary' | undefined {
  if (typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function') return 'zlib';
  return which('zstd') ? 'zstd-binary' : undefined;
}

/** Reads from `source` until at least `n` bytes (or its end) and gives them back with the rest of the stream. */
async function peek(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, n: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it: AsyncIterator<Uint8Array> | Iterator<Uint8Array> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<Uint8Array>)[Symbol.iterator]();
  const got: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    got.push(b);
    len += b.length;
  }
  const head = Buffer.concat(got);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      }
    } finally {
      await it.return?.();
    }
  }
  return { head, rest: rest() };
}

function zlibError(e: unknown, what: Compression): Error {
  const msg = (e as Error)?.message ?? String(e);
  return invalidArgument(`invalid ${what} data: ${msg}`, { subject: 'layer', cause: e });
}

async function* throughTransform(input: AsyncIterable<Buffer>, t: NodeJS.ReadWriteStream & Readable, what: Compression): AsyncGenerator<Buffer> {
  const src = Readable.from(input, { objectMode: false });
  let srcError: unknown;
  src.on('error', (e) => {
    srcError = e;
    t.destroy(e);
  });
  src.pipe(t);
  try {
    for await (const c of t) yield c as Buffer;
  } catch (e) {
    // The source's own errors (a failing download, a bad blob) pass through unchanged.
    if (srcError !== undefined && e === srcError) throw e;
    throw zlibError(e, what);
  } finally {
    src.destroy();
    t.destroy();
  }
}

async function* zstdProcess(input: AsyncIterable<Buffer>, bin: string): AsyncGenerator<Buffer> {
  // --memory caps the window the decoder accepts (same limit as zlib's windowLogMax).
  const child = spawn(bin, ['-d', '-c', '-q', `--memory=${1 << (ZSTD_WINDOW_LOG_MAX - 20)}MB`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const spawnError = new Promise<never>((_, reject) => child.on('error', (e) => reject(unavailable(`cannot run ${bin}: ${e.message}`, { cause: e }))));
  spawnError.catch(() => {});
  let feedError: unknown;
  const feed = (async () => {
    try {
      for await (const c of input) {
        if (!child.stdin.write(c)) await new Promise<void>((r) => child.stdin.once('drain', () => r()));
      }
    } catch (e) {
      feedError = e;
    } finally {
      child.stdin.end();
    }
  })();
  child.stdin.on('error', () => {});
  let finished = false;
  try {
    for await (const c of child.stdout) yield c as Buffer;
    await feed;
    if (feedError) throw feedError;
    const { code, signal } = await Promise.race([exited, spawnError]);
    if (code !== 0) throw invalidArgument(`invalid zstd data: ${stderr.trim() || `zstd exited ${code ?? signal}`}`, { subject: 'layer' });
    finished = true;
  } finally {
    if (!finished && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await feed.catch(() => {});
  }
}

/**
 * Detects the compression of `source` and returns the uncompressed bytes.
 * `source` is read lazily; errors in the compressed data surface as
 * invalid-argument CtrxErrors while iterating.
 */
export async function decompress(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<{ compression: Compression; stream: AsyncIterable<Buffer> }> {
  const { head, rest } = await peek(source, 4);
  const compression = detectCompression(head);
  switch (compression) {
    case 'none':
      return { compression, stream: rest };
    case 'gzip':
      return { compression, stream: throughTransform(rest, zlib.createGunzip() as unknown as NodeJS.ReadWriteStream & Readable, 'gzip') };
    case 'zstd': {
      const z = zlib as unknown as { createZstdDecompress?: (o: object) => NodeJS.ReadWriteStream & Readable; constants: Record<string, number> };
      if (typeof z.createZstdDecompress === 'function') {
        const key = z.constants.ZSTD_d_windowLogMax;
        const params = key === undefined ? {} : { [key]: ZSTD_WINDOW_LOG_MAX };
        return { compression, stream: throughTransform(rest, z.createZstdDecompress({ params }), 'zstd') };
      }
      const bin = which('zstd');
      if (!bin) {
        throw unavailable('this layer is zstd-compressed and neither the runtime nor the host can decompress zstd', {
          subject: 'layer',
          hint: 'install the zstd package, or run ctrx under Deno 2 / Node ≥ 22.15',
        });
      }
      return { compression, stream: zstdProcess(rest, bin) };
    }
  }
}

/** gzip of a stream (containerd's diff media type application/vnd.oci.image.layer.v1.tar+gzip). */
export function gzipStream(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, level = 6): AsyncIterable<Buffer> {
  async function* bufs(): AsyncGenerator<Buffer> {
    for await (const c of source) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  }
  return throughTransform(bufs(), zlib.createGzip({ level }) as unknown as NodeJS.ReadWriteStream & Readable, 'gzip');
}
