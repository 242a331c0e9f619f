import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';

export const ls = command<{ quiet: boolean; format: string }>({
  name: 'ls',
  aliases: ['list'],
  describe: 'List namespaces',
  options: (y) => outputFlags(y),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { namespacesList } = await import('../../src/metadata/api.js');
    const { renderCtr, ctrLabels } = await import('../content/_ctrfmt.js');
    const rows = namespacesList(await contextFrom(argv));
    renderCtr(argv, rows, {
      headers: ['NAME', 'LABELS'],
      row: (r) => [r.name, ctrLabels(r.labels, '')],
      id: (r) => r.name,
      json: (r) => ({ name: r.name, labels: r.labels }),
    });
  },
});
