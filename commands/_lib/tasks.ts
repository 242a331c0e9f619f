/** Shared pieces of the task verbs: exit codes, signals, ensuring an image for run. */
import type { OpContext } from '../../src/context.js';
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
