import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';

export const label = command<{ id: string; labels: string[] }>({
  name: 'label',
  positional: '<id> [labels..]',
  describe: 'Set and clear labels of a container (an empty value clears)',
  complete: 'containers',
  options: (y) => y.positional('id', { type: 'string' }).positional('labels', { type: 'string', array: true }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { containerLabel } = await import('../../src/metadata/api.js');
    const { parseLabelArgs } = await import('../../src/metadata/validate.js');
    const { ctrLabels, variadic } = await import('../content/_ctrfmt.js');
    const c = containerLabel(await contextFrom(argv), String(argv.id), parseLabelArgs(variadic(argv, 'labels')));
    print(ctrLabels(c.labels, ''));
  },
});
