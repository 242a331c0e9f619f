import { command } from '../_lib/define.js';
import { snapshotterFlag } from './_flags.js';

export const prepare = command<{ key: string; parent?: string; target?: string; mounts: boolean; snapshotter?: string }>({
  name: 'prepare',
  positional: '<key> [parent]',
  describe: 'Prepare an active snapshot (labelled containerd.io/gc.root, as ctr), optionally on a committed parent',
  complete: 'snapshots',
  options: (y) =>
    snapshotterFlag(
      y
        .positional('key', { type: 'string' })
        .positional('parent', { type: 'string' })
        .option('target', { alias: 't', type: 'string', description: 'Mount target path: print the mount commands for it' })
        .option('mounts', { type: 'boolean', default: false, description: 'Print the snapshot mounts as JSON' }),
    ),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { prepareSnapshot } = await import('../../src/snapshots/ops.js');
    const { snapshotterOf } = await import('./_flags.js');
    const { mountLines, mountsJSON } = await import('./_mounts.js');
    const { stdout } = await import('../../src/platform/index.js');
    const ctx = await contextFrom(argv);
    const m = prepareSnapshot(ctx, await snapshotterOf(argv, ctx), String(argv.key), argv.parent === undefined ? undefined : String(argv.parent));
    if (argv.target) stdout.write(mountLines(argv.target, m));
    if (argv.mounts) stdout.write(mountsJSON(m));
  },
});
