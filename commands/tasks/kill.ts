import { command } from '../_lib/define.js';

export const kill = command<{ id: string; signal: string; all?: boolean; 'exec-id'?: string; force?: boolean }>({
  name: 'kill',
  positional: '<id>',
  describe: 'Signal a task (default SIGTERM)',
  complete: 'tasks',
  options: (y) =>
    y
      .positional('id', { type: 'string', describe: 'Container id' })
      .option('signal', { alias: 's', type: 'string', default: 'SIGTERM', description: 'Signal name or number' })
      .option('all', { alias: 'a', type: 'boolean', description: 'Signal every process of the task' })
      .option('force', { alias: 'f', type: 'boolean', description: "Also signal tasks that containerd owns" }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { killTask } = await import('../../src/tasks/manager.js');
    const ctx = await contextFrom(argv);
    await killTask(ctx, argv.id, /^\d+$/.test(argv.signal) ? Number(argv.signal) : argv.signal, { ...(argv.all ? { all: true } : {}), ...(argv.force ? { force: true } : {}) });
  },
});
