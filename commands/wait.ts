import { command } from './_lib/define.js';

export const wait = command<{ id: string }>({
  name: 'wait',
  positional: '<id>',
  describe: "Wait for a task to exit; print its exit status and exit with it",
  complete: 'tasks',
  options: (y) => y.positional('id', { type: 'string' }),
  run: async (argv) => {
    const { contextFrom } = await import('./_lib/context.js');
    const { waitTask } = await import('../src/tasks/manager.js');
    const { print } = await import('./_lib/output.js');
    const { exitWith } = await import('./_lib/tasks.js');
    const r = await waitTask(await contextFrom(argv), argv.id);
    print(String(r.status));
    exitWith(r.status);
  },
});
