import { command } from '../_lib/define.js';
import { snapshotterFlag } from './_flags.js';

export const mounts = command<{ target: string; key: string; snapshotter?: string }>({
  name: 'mounts',
  aliases: ['m', 'mount'],
  positional: '<target> <key>',
  describe: 'Print the mount commands of an active or view snapshot for TARGET',
  complete: 'snapshots',
  options: (y) => snapshotterFlag(y.positional('target', { type: 'string', describe: 'Mount target path' }).positional('key', { type: 'string' })),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { snapshotMounts } = await import('../../src/snapshots/ops.js');
    const { snapshotterOf } = await import('./_flags.js');
    const { mountLines } = await import('./_mounts.js');
    const { stdout } = await import('../../src/platform/index.js');
    const ctx = await contextFrom(argv);
    stdout.write(mountLines(String(argv.target), snapshotMounts(ctx, await snapshotterOf(argv, ctx), String(argv.key))));
  },
});
