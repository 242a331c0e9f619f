import { command } from '../_lib/define.js';
import { formatTable, printJSON } from '../_lib/output.js';
import { stdout } from '../../src/platform/index.js';

export const metrics = command<{ id: string; format: string }>({
  name: 'metrics',
  aliases: ['metric'],
  positional: '<id>',
  describe: 'One sample of cpu, memory and pids (cgroup v1 or v2)',
  complete: 'tasks',
  options: (y) => y.positional('id', { type: 'string' }).option('format', { type: 'string', default: 'table', choices: ['table', 'json'] }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { taskMetrics } = await import('../../src/tasks/metrics.js');
    const m = await taskMetrics(await contextFrom(argv), argv.id);
    if (argv.format === 'json') return printJSON(m);
    const v = (n: number | undefined) => (n === undefined ? '-' : String(n));
    stdout.write(
      formatTable(['METRIC', 'VALUE'], [
        ['cpu.usage_ns', v(m.cpu.usageNs)],
        ['cpu.user_ns', v(m.cpu.userNs)],
        ['cpu.system_ns', v(m.cpu.systemNs)],
        ['memory.usage', v(m.memory.usage)],
        ['memory.working_set', v(m.memory.workingSet)],
        ['memory.limit', m.memory.limit === undefined ? 'unlimited' : String(m.memory.limit)],
        ['pids.current', v(m.pids.current)],
        ['pids.limit', m.pids.limit === undefined ? 'unlimited' : String(m.pids.limit)],
      ]),
    );
  },
});
