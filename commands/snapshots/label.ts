import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';
import { snapshotterFlag } from './_flags.js';

export const label = command<{ key: string; labels: string[]; snapshotter?: string }>({
  name: 'label',
  positional: '<key> [labels..]',
  describe: 'Set and clear labels of a snapshot (an empty value clears)',
  complete: 'snapshots',
  options: (y) => snapshotterFlag(y.positional('key', { type: 'string' }).positional('labels', { type: 'string', array: true })),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { snapshotLabel } = await import('../../src/metadata/api.js');
    const { parseLabelArgs } = await import('../../src/metadata/validate.js');
    const { ctrLabels, variadic } = await import('../content/_ctrfmt.js');
    const { snapshotterOf } = await import('./_flags.js');
    const ctx = await contextFrom(argv);
    const s = snapshotLabel(ctx, await snapshotterOf(argv, ctx), String(argv.key), parseLabelArgs(variadic(argv, 'labels')));
    print(ctrLabels(s.labels, ''));
  },
});
