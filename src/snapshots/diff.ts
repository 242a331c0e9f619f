/**
 * `ctr snapshots diff A [B]` without the daemon: the layer that turns A's
 * tree into B's (without B: A's parent into A), as containerd 1.6's walking
 * differ writes it (tar, or tar+gzip by default, with the uncompressed
 * digest as `containerd.io/uncompressed`). ctr stores the blob under a lease
 * that it drops on exit, so the blob only outlives the command with --keep
 * (a `containerd.io/gc.root` label); ctrx therefore writes to the content
 * store only with --keep and otherwise streams the layer without touching
 * containerd's state, which also works while containerd runs.
 *
 * Trees are read in place where the snapshotter's mount is a bind of one
 * directory; overlay chains are mounted read-only on a temporary directory
 * under `<state>/ctrx/tmpmounts` (upper dirs become lower dirs, as
 * containerd's read-only temp mounts do), and unmounted afterwards. No
 * snapshot records are created for these views.
 */
import { mkdirSync, mkdtempSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { OpContext } from '../context.js';
import { invalidArgument, notImplemented } from '../errdefs.js';
import { snapshotStat } from '../metadata/api.js';
import type { Labels } from '../metadata/buckets.js';
import { LABELS } from '../metadata/schema.js';
import { assertWritable } from '../metadata/writable.js';
import { formatRFC3339, timeNow } from '../metadata/encoding.js';
import { writeDiff } from '../archive/diff.js';
import { Digester } from '../digest.js';
import { ingest, readBlobStream } from '../content/namespaced.js';
import { checkSnapshotter, mounts as snapshotMounts, type SnapshotterName } from './snapshotter.js';
import { mountAll, unmountAll, type Mount } from './mount.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts' | 'state'>;

export const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const LAYER_TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const UNCOMPRESSED = 'containerd.io/uncompressed';

export interface SnapshotDiffOptions {
  /** LAYER_TAR_GZIP (default) or LAYER_TAR, the walking differ's two. */
  mediaType?: string;
  /** Ingest ref for the stored blob (default: containerd's unique ref). */
  ref?: string;
  /** Store the blob with a gc.root label (ctr --keep). */
  keep?: boolean;
  /** Labels for the stored blob. */
  labels?: Labels;
}

export interface SnapshotDiff {
  mediaType: string;
  /** The layer's bytes: from the content store with --keep, else as they are produced. */
  stream: AsyncIterable<Buffer>;
  /** Digest and size of the blob and its diffID, once `stream` is consumed. */
  result(): { digest: string; size: number; diffId: string; stored: boolean };
}

/** Read-only form of a snapshot's mounts (mount.readonlyMounts): overlay upper dirs become lower dirs. */
export function readonlyMounts(ms: Mount[]): Mount[] {
  return ms.map((m) => {
    if (m.type === 'overlay') {
      const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
      const upper = opt('upperdir');
      const lower = opt('lowerdir');
      const rest = m.options.filter((o) => !/^(upperdir|workdir|lowerdir)=/.test(o) && o !== 'rw' && o !== 'ro');
      const lowers = [upper, lower].filter((x): x is string => Boolean(x)).join(':');
      return { ...m, options: [...rest, `lowerdir=${lowers}`, 'ro'] };
    }
    return { ...m, options: [...m.options.filter((o) => o !== 'rw' && o !== 'ro'), 'ro'] };
  });
}

/** An overlay with one lower dir cannot be mounted: it is that dir. */
function singleDir(ms: Mount[]): string | undefined {
  if (ms.length !== 1) return undefined;
  const m = ms[0]!;
  if (m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind')) return m.source;
  const lower = m.options.find((o) => o.startsWith('lowerdir='))?.slice('lowerdir='.length);
  if (m.type === 'overlay' && lower && !lower.includes(':') && !m.options.some((o) => o.startsWith('upperdir='))) return lower;
  return undefined;
}

interface Tree {
  dir: string;
  release(): void;
}

/** A snapshot's tree, read-only: in place when possible, else a temporary read-only mount. */
function openTree(ctx: Ctx, sn: SnapshotterName, key: string): Tree {
  const ms = readonlyMounts(snapshotMounts(ctx, sn, key));
  const direct = singleDir(ms);
  if (direct) return { dir: direct, release: () => {} };
  const base = path.join(ctx.state, 'ctrx', 'tmpmounts');
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(path.join(base, 'diff-'));
  try {
    mountAll(ms, dir);
  } catch (e) {
    rmdirSync(dir);
    throw e;
  }
  return {
    dir,
    release: () => {
      unmountAll(dir, { detach: true });
      rmdirSync(dir);
    },
  };
}

/** containerd's walking differ reference: "<unix nanos>-<base64url of 9 random bytes>". */
function uniqueRef(): string {
  const t = timeNow();
  const b = new Uint8Array(9);
  globalThis.crypto.getRandomValues(b);
  return `${t.sec * 1000000000n + BigInt(t.nsec)}-${Buffer.from(b).toString('base64url')}`;
}

/**
 * The diff from `lowerKey`'s tree to `upperKey`'s (ctr: diff A B compares A
 * to B; diff A compares A's parent to A). The trees stay open until `stream`
 * has been consumed or fails.
 */
export function diffSnapshots(ctx: Ctx, snapshotter: string, idA: string, idB: string | undefined, opts: SnapshotDiffOptions = {}): SnapshotDiff {
  const sn = checkSnapshotter(snapshotter);
  if (!idA) throw invalidArgument('snapshot id must be provided');
  const mediaType = opts.mediaType || LAYER_TAR_GZIP;
  if (mediaType !== LAYER_TAR && mediaType !== LAYER_TAR_GZIP) throw notImplemented(`unsupported diff media type: ${mediaType}`, { subject: '--media-type', hint: `${LAYER_TAR} or ${LAYER_TAR_GZIP}` });
  if (opts.keep) assertWritable(ctx);
  let lowerKey: string | undefined;
  let upperKey: string;
  if (idB) {
    snapshotStat(ctx, sn, idA);
    snapshotStat(ctx, sn, idB);
    lowerKey = idA;
    upperKey = idB;
  } else {
    lowerKey = snapshotStat(ctx, sn, idA).parent;
    upperKey = idA;
  }
  const diffId = new Digester();
  const blob = new Digester();
  let stored: { digest: string; size: number } | undefined;
  const trees: Tree[] = [];
  const release = () => {
    for (const t of trees.splice(0).reverse()) t.release();
  };

  async function* layer(): AsyncGenerator<Buffer> {
    try {
      const lower = lowerKey ? openTree(ctx, sn, lowerKey) : undefined;
      if (lower) trees.push(lower);
      const upper = openTree(ctx, sn, upperKey);
      trees.push(upper);
      const tar = (async function* () {
        for await (const c of writeDiff(lower?.dir, upper.dir)) {
          diffId.update(c);
          yield c;
        }
      })();
      if (mediaType === LAYER_TAR) {
        for await (const c of tar) {
          blob.update(c);
          yield c;
        }
        return;
      }
      const gz = createGzip();
      const done = pipeline(Readable.from(tar), gz);
      for await (const c of gz as AsyncIterable<Buffer>) {
        blob.update(c);
        yield c;
      }
      await done;
    } finally {
      release();
    }
  }

  async function* kept(): AsyncGenerator<Buffer> {
    const root = formatRFC3339(timeNow());
    // the walking differ labels a compressed layer with its uncompressed digest, known once produced
    const labels = (): Labels => ({ ...(opts.labels ?? {}), [LABELS.gcRoot]: root, ...(mediaType === LAYER_TAR_GZIP ? { [UNCOMPRESSED]: diffId.digest() } : {}) });
    const r = await ingest(ctx, opts.ref || uniqueRef(), layer(), { labels });
    stored = { digest: r.digest, size: r.size };
    yield* readBlobStream(ctx, r.digest).stream as AsyncIterable<Buffer>;
  }

  return {
    mediaType,
    stream: opts.keep ? kept() : layer(),
    result: () => ({ digest: stored?.digest ?? blob.digest(), size: stored?.size ?? blob.size, diffId: diffId.digest(), stored: Boolean(stored) }),
  };
}
