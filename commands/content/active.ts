import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';

export const active = command<{ filters: string[]; quiet: boolean; format: string }>({
  name: 'active',
  positional: '[filters..]',
  describe: 'Display the ingests in progress (filters as ctr: ref==REF, ref~=REGEXP)',
  options: (y) => outputFlags(y.positional('filters', { type: 'string', array: true, describe: 'containerd filters on the field ref' })),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { activeIngests } = await import('../../src/content/namespaced.js');
    const { parseFilters } = await import('../../src/images/filters.js');
    const { formatRFC3339Nano } = await import('../../src/metadata/encoding.js');
    const { renderCtr, goHumanSize, goHumanDuration, variadic } = await import('./_ctrfmt.js');
    const f = parseFilters(variadic(argv, 'filters'));
    const rows = activeIngests(await contextFrom(argv)).filter((a) => f.match((p) => (p.length === 1 && p[0] === 'ref' ? a.ref : undefined)));
    const now = Date.now();
    renderCtr(argv, rows, {
      headers: ['REF', 'SIZE', 'AGE'],
      row: (r) => [r.ref, goHumanSize(r.offset), goHumanDuration(now - r.startedAt.getTime())],
      id: (r) => r.ref,
      json: (r) => ({
        ref: r.ref,
        backendRef: r.backendRef,
        offset: r.offset,
        total: r.total,
        startedAt: r.startedAt.toISOString(),
        updatedAt: r.updatedAt.toISOString(),
        expireAt: r.expireAt ? formatRFC3339Nano(r.expireAt) : null,
      }),
      // ctr pads this table with tabs
      tab: { minwidth: 1, tabwidth: 8, padding: 1, padchar: '\t' },
    });
  },
});
