import type { Argv } from 'yargs';

/** --snapshotter as ctr: empty means $CONTAINERD_SNAPSHOTTER, then the config's default. Not a verb. */
export const snapshotterFlag = (y: Argv): Argv =>
  y.option('snapshotter', { type: 'string', description: 'Snapshotter name (default $CONTAINERD_SNAPSHOTTER or the config\'s, overlayfs)' });

export async function snapshotterOf(argv: { snapshotter?: string }, ctx: { facts: { snapshotter: string } }): Promise<string> {
  const { pickSnapshotter } = await import('../content/_ctrfmt.js');
  return pickSnapshotter(argv.snapshotter, ctx.facts.snapshotter);
}
