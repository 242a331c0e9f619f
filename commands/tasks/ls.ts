import { command } from '../_lib/define.js';
import { outputFlags, renderList, type OutputArgs } from '../_lib/output.js';
import type { TaskInfo } from '../../src/tasks/manager.js';

/** Running (or paused) with nobody to log its output or record its exit: `rm -f` or kill still work. */
export const unsupervised = (t: TaskInfo): boolean => t.owner === 'ctrx' && t.supervised === false && t.status !== 'stopped';

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
      // ctr prints runc's status in upper case; containerd's tasks are marked, and so is a live task whose shim is gone.
      row: (t) => [t.id, String(t.pid), `${t.status.toUpperCase()}${t.owner === 'containerd' ? ' (containerd)' : t.owner === 'runc' ? ' (runc)' : ''}${unsupervised(t) ? ' (unsupervised)' : ''}`],
      id: (t) => t.id,
      json: (t) => ({ id: t.id, pid: t.pid, status: t.status, owner: t.owner, supervised: t.supervised ?? null, exitStatus: t.exit?.status ?? null, note: t.note ?? null }),
    });
  },
});
