import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';
import { snapshotterFlag } from './_flags.js';

export const usage = command<{ keys: string[]; b: boolean; quiet: boolean; format: string; snapshotter?: string }>({
  name: 'usage',
  positional: '[keys..]',
  describe: 'Disk usage of snapshots',
  complete: 'snapshots',
  options: (y) => snapshotterFlag(outputFlags(y.positional('keys', { type: 'string', array: true })).option('b', { type: 'boolean', default: false, description: 'Display size in bytes' })),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { snapshotsList, snapshotStat, snapshotUsage } = await import('../../src/metadata/api.js');
    const { renderCtr, goBytes, variadic } = await import('../content/_ctrfmt.js');
    const { snapshotterOf } = await import('./_flags.js');
    const ctx = await contextFrom(argv);
    const sn = await snapshotterOf(argv, ctx);
    const keys = variadic(argv, 'keys');
    const infos = keys.length ? keys.map((k) => snapshotStat(ctx, sn, k)) : snapshotsList(ctx, sn);
    const rows = infos.map((i) => ({ key: i.key, ...snapshotUsage(ctx, sn, i) }));
    renderCtr(argv, rows, {
      headers: ['KEY', 'SIZE', 'INODES'],
      row: (r) => [r.key, argv.b ? String(r.size) : goBytes(r.size), String(r.inodes)],
      id: (r) => r.key,
      json: (r) => r,
    });
  },
});
