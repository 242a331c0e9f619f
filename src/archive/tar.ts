/**
 * Reading a tar stream: the framer (tar-frame.ts) decides what the archive
 * means, tar-stream (loaded on first use, so plain commands never load it)
 * slices out entry data. Everything that passes through is hashed, including
 * data after the end-of-archive marker, so the digest is the diff ID of the
 * whole uncompressed layer as containerd computes it.
 */
import { CtrxError, internal, invalidArgument } from '../errdefs.js';
import { Digester } from '../digest.js';
import { DEFAULT_FRAME_LIMITS, TarFramer, type FrameLimits, type RawEntry } from './tar-frame.js';

export interface TarReadOptions {
  frame?: FrameLimits;
  /** Refuse more than this many uncompressed bytes. */
  maxBytes?: number;
}

export interface TarEntry extends RawEntry {
  /** The entry's data; must be read to the end (or drained) before the next entry. */
  body: AsyncIterable<Buffer>;
}

interface ExtractEntry extends AsyncIterable<Buffer> {
  header: { size?: number; type?: string | null };
  resume(): void;
}

interface Extract extends AsyncIterable<ExtractEntry> {
  write(b: Buffer): boolean;
  end(): void;
  destroy(e?: Error): void;
  on(ev: string, fn: (...a: unknown[]) => void): void;
  off(ev: string, fn: (...a: unknown[]) => void): void;
  destroyed: boolean;
}

/**
 * Iterates the entries of an uncompressed tar stream. Every byte read goes
 * through `hasher` (complete once the iteration has finished).
 */
export async function* readTar(source: AsyncIterable<Buffer>, hasher: Digester, opts: TarReadOptions = {}): AsyncGenerator<TarEntry> {
  const { extract } = (await import('tar-stream')) as unknown as { extract: (o: object) => Extract };
  const ex = extract({ allowUnknownFormat: true, filenameEncoding: 'latin1' });
  const framer = new TarFramer(opts.frame ?? DEFAULT_FRAME_LIMITS);
  const maxBytes = opts.maxBytes ?? Infinity;
  let stopped = false;
  let feedError: unknown;

  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        ex.off('drain', done);
        ex.off('close', done);
        resolve();
      };
      ex.on('drain', done);
      ex.on('close', done);
    });

  const feeder = (async () => {
    try {
      for await (const chunk of source) {
        if (stopped) return;
        hasher.update(chunk);
        if (hasher.size > maxBytes) throw invalidArgument(`layer is larger than the limit of ${maxBytes} uncompressed bytes`, { subject: 'layer' });
        if (framer.ended) continue;
        for (const part of framer.push(chunk)) {
          if (ex.destroyed) return;
          if (!ex.write(part)) await drained();
        }
      }
      for (const part of framer.finish()) {
        if (!ex.write(part)) await drained();
      }
      ex.end();
    } catch (e) {
      feedError = e;
      ex.destroy(e as Error);
    }
  })();

  try {
    for await (const entry of ex) {
      const raw = framer.entries.shift();
      if (!raw) throw internal('tar reader out of step: an entry without a header');
      const hs = entry.header.size ?? 0;
      if (raw.typeflag !== '5' && hs !== raw.size) {
        throw internal(`tar reader out of step at byte ${raw.offset}: ${hs} bytes vs ${raw.size}`);
      }
      yield Object.assign(raw, { body: entry });
    }
    await feeder;
    if (feedError) throw feedError;
    if (framer.entries.length) throw internal(`tar reader out of step: ${framer.entries.length} header(s) without an entry`);
  } catch (e) {
    const err = feedError ?? e;
    if (err instanceof CtrxError) throw err;
    throw invalidArgument(`invalid tar archive: ${(err as Error)?.message ?? String(err)}`, { subject: 'layer', cause: err });
  } finally {
    stopped = true;
    if (!ex.destroyed) ex.destroy();
    feeder.catch(() => {});
  }
}

/** Reads an entry's data to the end, discarding it. */
export async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of body) void _;
}

export type { RawEntry };
