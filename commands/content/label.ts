import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';

export const label = command<{ digest: string; labels: string[] }>({
  name: 'label',
  positional: '<digest> [labels..]',
  describe: 'Add labels to content (an empty value clears)',
  complete: 'content',
  options: (y) => y.positional('digest', { type: 'string' }).positional('labels', { type: 'string', array: true, describe: 'key=value labels' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { contentLabel } = await import('../../src/metadata/api.js');
    const { parseLabelArgs, validateDigest } = await import('../../src/metadata/validate.js');
    const { ctrLabels, variadic } = await import('./_ctrfmt.js');
    validateDigest(String(argv.digest));
    const info = contentLabel(await contextFrom(argv), String(argv.digest), parseLabelArgs(variadic(argv, 'labels')));
    print(ctrLabels(info.labels, ''));
  },
});
