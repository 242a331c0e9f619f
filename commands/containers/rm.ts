import { command } from '../_lib/define.js';

export const rm = command<{ ids: string[]; keepSnapshot: boolean; force?: boolean }>({
  name: 'rm',
  aliases: ['del', 'delete', 'remove'],
  positional: '<ids..>',
  describe: 'Delete containers and, unless --keep-snapshot, their snapshots (a running one only with -f)',
  complete: 'containers',
  options: (y) =>
    y
      .positional('ids', { type: 'string', array: true })
      .option('keep-snapshot', { type: 'boolean', default: false, description: 'Do not clean up the snapshot with the container' })
      .option('force', { alias: 'f', type: 'boolean', description: 'Kill and delete a running task first' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { removeContainers } = await import('../../src/containers/remove.js');
    const { retryWhileLocked } = await import('../_lib/tasks.js');
    const { notFound } = await import('../../src/errdefs.js');
    const ctx = await contextFrom(argv);
    const res = await retryWhileLocked(() => removeContainers(ctx, argv.ids.map(String), { keepSnapshot: argv.keepSnapshot, ...(argv.force ? { force: true } : {}) }));
    if (res.missing.length) throw notFound('not found', { subject: `container ${JSON.stringify(res.missing[0])}` });
  },
});
