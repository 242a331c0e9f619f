/** Shared pieces of the task verbs: exit codes, signals, ensuring an image for run. */
import type { OpContext } from '../../src/context.js';
import type { CreatedContainer, CreateOptions } from '../../src/containers/create.js';
import { setExitCode } from '../../src/platform/index.js';

/** The container's exit status becomes ctrx's (128+N for a signal, as shells do). */
export function exitWith(status: number): void {
  setExitCode(status > 255 ? 255 : status);
}

/** `--pull missing|always|never` for run: pull when asked or when the image is absent. */
export async function ensureImage(ctx: OpContext, image: string, policy: string, opts: { quiet?: boolean; snapshotter?: string }): Promise<void> {
  const { findImage } = await import('../../src/images/image.js');
  const { isCategory, invalidArgument } = await import('../../src/errdefs.js');
  if (!['missing', 'always', 'never'].includes(policy)) throw invalidArgument('must be missing, always or never', { subject: '--pull' });
  let present = true;
  try {
    findImage(ctx, image);
  } catch (e) {
    if (!isCategory(e, 'not-found')) throw e;
    present = false;
  }
  if (policy === 'never' || (present && policy === 'missing')) return;
  const { pullImage } = await import('../../src/images/pull.js');
  const { pullProgress } = await import('./pull-view.js');
  const { onProgress, view } = await pullProgress(!opts.quiet);
  try {
    await pullImage(ctx, image, { onProgress, ...(opts.snapshotter ? { snapshotter: opts.snapshotter } : {}) });
  } finally {
    view.stop();
  }
}

/**
 * createContainer, as `ctr run` / `ctr c create` do it: an image pulled for
 * one snapshotter is unpacked into the one asked for from its local content
 * (under a lease, as a pull does), no registry involved, then created.
 */
export async function createWithUnpack(ctx: OpContext, opts: CreateOptions): Promise<CreatedContainer> {
  const { createContainer, isNotUnpacked } = await import('../../src/containers/create.js');
  try {
    return createContainer(ctx, opts);
  } catch (e) {
    if (!isNotUnpacked(e) || !opts.snapshotter) throw e;
  }
  await unpackLocal(ctx, opts.image, opts.snapshotter);
  return createContainer(ctx, opts);
}

async function unpackLocal(ctx: OpContext, image: string, snapshotter: string): Promise<void> {
  const { findImage } = await import('../../src/images/image.js');
  const { isUnpacked, manifestFor } = await import('../../src/images/check.js');
  const { viewMeta, writeMeta } = await import('../../src/metadata/db.js');
  const { createLease, deleteLease, expireLabel, randomLeaseId } = await import('../../src/metadata/leases.js');
  const target = findImage(ctx, image).target;
  const manifest = viewMeta(ctx, (tx) => (isUnpacked(ctx, tx, snapshotter, target) ? undefined : manifestFor(ctx, tx, target).desc));
  if (!manifest) return;
  const { unpackImage } = await import('../../src/images/unpack.js');
  const lease = randomLeaseId();
  writeMeta(ctx, (tx) => createLease(tx, ctx.namespace, lease, { 'containerd.io/gc.expire': expireLabel(3600_000) }));
  try {
    await unpackImage(ctx, manifest, { snapshotter, lease });
  } finally {
    writeMeta(ctx, (tx) => deleteLease(tx, ctx.namespace, lease));
  }
}

/**
 * Runs fn again while another ctrx holds meta.db or a snapshotter's
 * metadata.db for its write (milliseconds; the store refuses instead of
 * waiting): two `run`s at once must not fail on each other, and a
 * `run --rm` must not leave its container behind for that. A lock held by
 * containerd (the message says "the daemon") is final at once.
 */
export async function retryWhileLocked<T>(fn: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const { isCategory } = await import('../../src/errdefs.js');
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      return await fn();
    } catch (e) {
      const m = (e as Error).message ?? '';
      if (!isCategory(e, 'unavailable') || !m.startsWith('locked by ') || m.includes('the daemon') || Date.now() > deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
  }
}
