import { command } from '../_lib/define.js';
import { outputFlags, renderList, type OutputArgs } from '../_lib/output.js';

export const ps = command<OutputArgs & { id: string }>({
  name: 'ps',
  positional: '<id>',
  describe: "List the task's processes (host pids)",
  complete: 'tasks',
  options: (y) => outputFlags(y.positional('id', { type: 'string' })),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { taskProcesses } = await import('../../src/tasks/manager.js');
    const procs = await taskProcesses(await contextFrom(argv), argv.id);
    renderList(argv, procs, { headers: ['PID', 'INFO'], row: (p) => [String(p.pid), p.command || '-'], id: (p) => String(p.pid) });
  },
});
