import { command } from '../_lib/define.js';

export const pause = command<{ id: string }>({
  name: 'pause',
  positional: '<id>',
  describe: 'Pause a task (cgroup freezer)',
  complete: 'tasks',
  options: (y) => y.positional('id', { type: 'string' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { pauseTask } = await import('../../src/tasks/manager.js');
    await pauseTask(await contextFrom(argv), argv.id);
  },
});

export const resume = command<{ id: string }>({
  name: 'resume',
  positional: '<id>',
  describe: 'Resume a paused task',
  complete: 'tasks',
  options: (y) => y.positional('id', { type: 'string' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { resumeTask } = await import('../../src/tasks/manager.js');
    await resumeTask(await contextFrom(argv), argv.id);
  },
});
