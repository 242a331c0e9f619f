import { command } from '../_lib/define.js';

export const label = command<{ name: string; labels: string[] }>({
  name: 'label',
  positional: '<name> [labels..]',
  describe: 'Set and clear labels of a namespace (an empty value clears)',
  complete: 'namespaces',
  options: (y) => y.positional('name', { type: 'string' }).positional('labels', { type: 'string', array: true, describe: 'key=value labels' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { namespaceLabel } = await import('../../src/metadata/api.js');
    const { variadic } = await import('../content/_ctrfmt.js');
    const { parseLabelArgs } = await import('../../src/metadata/validate.js');
    namespaceLabel(await contextFrom(argv), String(argv.name), parseLabelArgs(variadic(argv, 'labels')));
  },
});
