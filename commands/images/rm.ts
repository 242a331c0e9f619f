import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';

export const rm = command<{ refs: string[]; sync: boolean }>({
  name: 'rm',
  aliases: ['del', 'delete', 'remove'],
  positional: '<refs..>',
  describe: 'Remove one or more images; unreferenced content and snapshots are garbage-collected as containerd would',
  complete: 'images',
  options: (y) =>
    y
      .positional('refs', { type: 'string', array: true, describe: 'Image references' })
      .option('sync', { type: 'boolean', default: false, description: 'Accepted for ctr compatibility (ctrx always collects before returning)' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { imagesRemove } = await import('../../src/metadata/api.js');
    const { stderr } = await import('../../src/platform/index.js');
    const res = imagesRemove(await contextFrom(argv), argv.refs.map(String));
    for (const r of res.removed) print(r);
    // ctr warns and exits 0 for a name that is not there
    for (const m of res.missing) stderr.write(`ctrx: ${m}: image not found\n`);
  },
});
