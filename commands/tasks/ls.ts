import { command } from '../_lib/define.js';
import { outputFlags, renderList, type OutputArgs } from '../_lib/output.js';

export const ls = command<OutputArgs>({
  name: 'ls',
  aliases: ['list'],
  describe: "List tasks (ctrx's, and containerd's from the shared runc root)",
  options: (y) => outputFlags(y),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { listTasks } = await import('../../src/tasks/manager.js');
    const ctx = await contextFrom(argv);
    const tasks = await listTasks(ctx);
    renderList(argv, tasks, {
      headers: ['TASK', 'PID', 'STATUS'],
      // ctr prints runc's status in upper case; containerd's tasks are marked.
      row: (t) => [t.id, String(t.pid), `${t.status.toUpperCase()}${t.owner === 'containerd' ? ' (containerd)' : t.owner === 'runc' ? ' (runc)' : ''}`],
      id: (t) => t.id,
      json: (t) => ({ id: t.id, pid: t.pid, status: t.status, owner: t.owner, supervised: t.supervised ?? null, exitStatus: t.exit?.status ?? null, note: t.note ?? null }),
    });
  },
});
