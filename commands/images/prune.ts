import { command } from '../_lib/define.js';
import { print, printJSON } from '../_lib/output.js';

export const prune = command<{ all: boolean; format: string }>({
  name: 'prune',
  describe: 'Remove unused images: with --all, every image no container uses (as ctr, nothing without --all); then garbage collection',
  options: (y) =>
    y
      .option('all', { type: 'boolean', default: false, description: 'Remove all images not used by a container (required)' })
      .option('format', { type: 'string', default: 'table', description: 'Output format (table|json)' }),
  run: async (argv) => {
    const { stderr } = await import('../../src/platform/index.js');
    if (!argv.all) {
      // ctr 1.7 warns and succeeds
      stderr.write('ctrx: no images pruned: `images prune` requires --all to be specified\n');
      return;
    }
    const { contextFrom } = await import('../_lib/context.js');
    const { pruneImages } = await import('../../src/images/prune.js');
    const r = pruneImages(await contextFrom(argv));
    if (argv.format === 'json') return printJSON(r);
    for (const name of r.removed) print(name);
  },
});
