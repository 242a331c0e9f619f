import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';

export const ls = command<{ quiet: boolean; format: string }>({
  name: 'ls',
  aliases: ['list'],
  describe: 'List containers',
  options: (y) => outputFlags(y),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { containersList } = await import('../../src/metadata/api.js');
    const { renderCtr } = await import('../content/_ctrfmt.js');
    const { containerJSON } = await import('./_view.js');
    renderCtr(argv, containersList(await contextFrom(argv)), {
      headers: ['CONTAINER', 'IMAGE', 'RUNTIME'],
      row: (c) => [c.id, c.image || '-', c.runtime.name],
      id: (c) => c.id,
      json: containerJSON,
      // ctr: tabwriter.NewWriter(os.Stdout, 4, 8, 4, ' ', 0)
      tab: { minwidth: 4, tabwidth: 8, padding: 4, padchar: ' ' },
    });
  },
});
