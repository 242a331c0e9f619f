import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';
import { snapshotterFlag } from './_flags.js';

export const info = command<{ key: string; snapshotter?: string; format: string }>({
  name: 'info',
  positional: '<key>',
  describe: 'Get info about a snapshot (ctr\'s JSON; --format json for ctrx\'s view)',
  complete: 'snapshots',
  options: (y) => snapshotterFlag(y.positional('key', { type: 'string' }).option('format', { type: 'string', default: 'ctr', choices: ['ctr', 'json'] })),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { snapshotStat } = await import('../../src/metadata/api.js');
    const { goJSON } = await import('../content/_ctrfmt.js');
    const { snapshotterOf } = await import('./_flags.js');
    const { ctrSnapshotInfo, snapshotJSON } = await import('./_view.js');
    const ctx = await contextFrom(argv);
    const s = snapshotStat(ctx, await snapshotterOf(argv, ctx), String(argv.key));
    print(argv.format === 'json' ? JSON.stringify(snapshotJSON(s), null, 2) : goJSON(ctrSnapshotInfo(s)));
  },
});
