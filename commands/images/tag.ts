import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';

export const tag = command<{ source: string; targets: string[]; force: boolean }>({
  name: 'tag',
  positional: '<source> <targets..>',
  describe: 'Tag an image (a new image record with the same target and labels)',
  complete: 'images',
  options: (y) =>
    y
      .positional('source', { type: 'string' })
      .positional('targets', { type: 'string', array: true })
      .option('force', { type: 'boolean', default: false, description: 'Replace an existing image with the new name' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { imageTag } = await import('../../src/metadata/api.js');
    for (const t of imageTag(await contextFrom(argv), String(argv.source), argv.targets.map(String), argv.force)) print(t);
  },
});
