import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';

export const label = command<{ name: string; labels: string[]; replaceAll: boolean }>({
  name: 'label',
  positional: '<name> [labels..]',
  describe: 'Set and clear labels of an image (an empty value clears)',
  complete: 'images',
  options: (y) =>
    y
      .positional('name', { type: 'string' })
      .positional('labels', { type: 'string', array: true, describe: 'key=value labels' })
      .option('replace-all', { alias: 'r', type: 'boolean', default: false, description: 'Replace all labels' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { imageLabel } = await import('../../src/metadata/api.js');
    const { parseLabelArgs } = await import('../../src/metadata/validate.js');
    const { ctrLabels, variadic } = await import('../content/_ctrfmt.js');
    const img = imageLabel(await contextFrom(argv), String(argv.name), parseLabelArgs(variadic(argv, 'labels')), argv.replaceAll);
    print(ctrLabels(img.labels, ''));
  },
});
