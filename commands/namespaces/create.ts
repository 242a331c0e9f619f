import { command } from '../_lib/define.js';

export const create = command<{ name: string; labels: string[] }>({
  name: 'create',
  aliases: ['c'],
  positional: '<name> [labels..]',
  describe: 'Create a new namespace (labels as key=value)',
  options: (y) => y.positional('name', { type: 'string', describe: 'Namespace name' }).positional('labels', { type: 'string', array: true, describe: 'key=value labels' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { namespaceCreate } = await import('../../src/metadata/api.js');
    const { variadic } = await import('../content/_ctrfmt.js');
    const { parseLabelArgs } = await import('../../src/metadata/validate.js');
    namespaceCreate(await contextFrom(argv), String(argv.name), parseLabelArgs(variadic(argv, 'labels')));
  },
});
