import { command } from '../_lib/define.js';
import { snapshotterFlag } from './_flags.js';

export const rm = command<{ keys: string[]; snapshotter?: string }>({
  name: 'rm',
  aliases: ['del', 'delete', 'remove'],
  positional: '<keys..>',
  describe: 'Remove snapshots (refused while they have children)',
  complete: 'snapshots',
  options: (y) => snapshotterFlag(y.positional('keys', { type: 'string', array: true })),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { snapshotsRemove } = await import('../../src/metadata/api.js');
    const { snapshotterOf } = await import('./_flags.js');
    const ctx = await contextFrom(argv);
    snapshotsRemove(ctx, await snapshotterOf(argv, ctx), argv.keys.map(String));
  },
});
