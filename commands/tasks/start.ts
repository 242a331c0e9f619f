import { command } from '../_lib/define.js';

export const start = command<{ id: string; detach?: boolean; 'null-io'?: boolean; 'pid-file'?: string; tty?: boolean }>({
  name: 'start',
  positional: '<id>',
  describe: 'Start a container that has been created (foreground unless -d)',
  complete: 'containers',
  options: (y) =>
    y
      .positional('id', { type: 'string', describe: 'Container id' })
      .option('detach', { alias: 'd', type: 'boolean', description: 'Run in the background under ctrx-shim' })
      .option('null-io', { type: 'boolean', description: 'Discard the task output' })
      .option('pid-file', { type: 'string', description: "Write the task's pid to this file" }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { runAttached, startDetached } = await import('../../src/containers/task.js');
    const { exitWith } = await import('../_lib/tasks.js');
    const ctx = await contextFrom(argv);
    if (argv.detach) {
      const t = await startDetached(ctx, argv.id, { ...(argv['null-io'] ? { nullIO: true } : {}) });
      if (argv['pid-file']) (await import('node:fs')).writeFileSync(argv['pid-file'], `${t.pid}`);
      return;
    }
    exitWith(await runAttached(ctx, argv.id, argv['null-io'] ? { stdio: { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' } } : {}));
  },
});
