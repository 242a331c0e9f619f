import { command } from '../_lib/define.js';
import { snapshotterFlag } from './_flags.js';

export const commit = command<{ name: string; key: string; snapshotter?: string }>({
  name: 'commit',
  positional: '<name> <key>',
  describe: 'Commit the active snapshot KEY as NAME (labelled containerd.io/gc.root, as ctr)',
  complete: 'snapshots',
  options: (y) => snapshotterFlag(y.positional('name', { type: 'string', describe: 'Name of the committed snapshot' }).positional('key', { type: 'string', describe: 'Key of the active snapshot' })),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { commitSnapshot } = await import('../../src/snapshots/ops.js');
    const { snapshotterOf } = await import('./_flags.js');
    const ctx = await contextFrom(argv);
    commitSnapshot(ctx, await snapshotterOf(argv, ctx), String(argv.name), String(argv.key));
  },
});
