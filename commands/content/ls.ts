import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';

export const ls = command<{ quiet: boolean; format: string }>({
  name: 'ls',
  aliases: ['list'],
  describe: 'List all blobs in the store',
  options: (y) => outputFlags(y),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { contentList } = await import('../../src/metadata/api.js');
    const { formatRFC3339Nano, timeToMillis } = await import('../../src/metadata/encoding.js');
    const { renderCtr, ctrLabels, goHumanSize, goHumanDuration } = await import('./_ctrfmt.js');
    const rows = contentList(await contextFrom(argv));
    const now = Date.now();
    renderCtr(argv, rows, {
      headers: ['DIGEST', 'SIZE', 'AGE', 'LABELS'],
      row: (r) => [r.digest, goHumanSize(r.size), goHumanDuration(r.createdAt ? now - timeToMillis(r.createdAt) : now), ctrLabels(r.labels)],
      id: (r) => r.digest,
      json: (r) => ({ digest: r.digest, size: r.size, labels: r.labels, createdAt: r.createdAt ? formatRFC3339Nano(r.createdAt) : null, updatedAt: r.updatedAt ? formatRFC3339Nano(r.updatedAt) : null }),
      // ctr's content ls pads with tabs and does not end its lines in a tab
      tab: { minwidth: 1, tabwidth: 8, padding: 1, padchar: '\t' },
      end: '',
    });
  },
});
