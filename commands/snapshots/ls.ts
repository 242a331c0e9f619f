import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';
import { snapshotterFlag } from './_flags.js';

export const ls = command<{ quiet: boolean; format: string; snapshotter?: string }>({
  name: 'ls',
  aliases: ['list'],
  describe: 'List snapshots',
  options: (y) => snapshotterFlag(outputFlags(y)),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { snapshotsList } = await import('../../src/metadata/api.js');
    const { renderCtr } = await import('../content/_ctrfmt.js');
    const { snapshotterOf } = await import('./_flags.js');
    const { snapshotJSON } = await import('./_view.js');
    const ctx = await contextFrom(argv);
    renderCtr(argv, snapshotsList(ctx, await snapshotterOf(argv, ctx)), {
      headers: ['KEY', 'PARENT', 'KIND'],
      row: (r) => [r.key, r.parent ?? '', r.kind],
      id: (r) => r.key,
      json: snapshotJSON,
    });
  },
});
