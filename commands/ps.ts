import { command } from './_lib/define.js';
import { outputFlags, renderList, type OutputArgs } from './_lib/output.js';

export const ps = command<OutputArgs & { all?: boolean }>({
  name: 'ps',
  describe: 'List containers with their task status (what ctr needs two commands for)',
  options: (y) => outputFlags(y).option('all', { alias: 'a', type: 'boolean', default: true, description: 'Include containers without a running task' }),
  run: async (argv) => {
    const { contextFrom } = await import('./_lib/context.js');
    const { containersList } = await import('../src/metadata/api.js');
    const { listTasks } = await import('../src/tasks/manager.js');
    const { unsupervised } = await import('./tasks/ls.js');
    const ctx = await contextFrom(argv);
    const tasks = new Map((await listTasks(ctx)).map((t) => [t.id, t]));
    const rows = containersList(ctx).map((c) => {
      const t = tasks.get(c.id);
      const status = t ? (t.status === 'stopped' && t.exit ? `exited (${t.exit.status})` : `${t.status}${unsupervised(t) ? ' (unsupervised)' : ''}`) : 'created';
      return { id: c.id, image: c.image, status, pid: t?.pid ?? 0 };
    });
    renderList(argv, argv.all ? rows : rows.filter((r) => r.status.startsWith('running')), {
      headers: ['CONTAINER', 'IMAGE', 'STATUS', 'PID'],
      row: (r) => [r.id, r.image || '-', r.status, r.pid ? String(r.pid) : '-'],
      id: (r) => r.id,
    });
  },
});
