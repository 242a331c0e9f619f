import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';

export const ls = command<{ quiet: boolean; format: string }>({
  name: 'ls',
  aliases: ['list'],
  describe: 'List all active leases',
  options: (y) => outputFlags(y),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { leasesList } = await import('../../src/metadata/api.js');
    const { formatRFC3339Nano, timeToMillis } = await import('../../src/metadata/encoding.js');
    const { renderCtr, ctrLabels, localRFC3339 } = await import('../content/_ctrfmt.js');
    renderCtr(argv, leasesList(await contextFrom(argv)), {
      headers: ['ID', 'CREATED AT', 'LABELS'],
      row: (r) => [r.id, r.createdAt ? localRFC3339(timeToMillis(r.createdAt)) : '0001-01-01T00:00:00Z', ctrLabels(r.labels)],
      id: (r) => r.id,
      json: (r) => ({ id: r.id, createdAt: r.createdAt ? formatRFC3339Nano(r.createdAt) : null, labels: r.labels }),
    });
  },
});
