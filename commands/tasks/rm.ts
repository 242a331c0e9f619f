import { command } from '../_lib/define.js';

export const rm = command<{ ids: string[]; force?: boolean }>({
  name: 'rm',
  aliases: ['del', 'delete', 'remove'],
  positional: '<ids..>',
  describe: 'Delete tasks (refuses a running one unless -f, which kills it)',
  complete: 'tasks',
  options: (y) => y.positional('ids', { type: 'string', array: true }).option('force', { alias: 'f', type: 'boolean', description: 'Kill the task first' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { deleteTask } = await import('../../src/tasks/manager.js');
    const ctx = await contextFrom(argv);
    for (const id of argv.ids) await deleteTask(ctx, id, { ...(argv.force ? { force: true } : {}) });
  },
});
