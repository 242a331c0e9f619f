import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';

export const rm = command<{ ids: string[] }>({
  name: 'rm',
  aliases: ['delete'],
  positional: '<ids..>',
  describe: 'Remove leases (what they held is garbage-collected as containerd would)',
  complete: 'leases',
  options: (y) => y.positional('ids', { type: 'string', array: true }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { leasesRemove } = await import('../../src/metadata/api.js');
    const { notFound } = await import('../../src/errdefs.js');
    const res = leasesRemove(await contextFrom(argv), argv.ids.map(String));
    for (const id of res.removed) print(id);
    if (res.missing !== undefined) throw notFound('not found', { subject: `lease ${JSON.stringify(res.missing)}` });
  },
});
