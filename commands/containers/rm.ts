import { command } from '../_lib/define.js';

export const rm = command<{ ids: string[]; keepSnapshot: boolean }>({
  name: 'rm',
  aliases: ['del', 'delete', 'remove'],
  positional: '<ids..>',
  describe: 'Delete one or more containers and, unless --keep-snapshot, their snapshots',
  complete: 'containers',
  options: (y) =>
    y.positional('ids', { type: 'string', array: true }).option('keep-snapshot', { type: 'boolean', default: false, description: 'Do not clean up the snapshot with the container' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { containersRemove } = await import('../../src/metadata/api.js');
    const { notFound } = await import('../../src/errdefs.js');
    const res = containersRemove(await contextFrom(argv), argv.ids.map(String), argv.keepSnapshot);
    if (res.missing.length) throw notFound('not found', { subject: `container ${JSON.stringify(res.missing[0])}` });
  },
});
