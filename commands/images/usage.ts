import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';
import { snapshotterFlag } from '../snapshots/_flags.js';

export const usage = command<{ ref: string; quiet: boolean; format: string; snapshotter?: string }>({
  name: 'usage',
  positional: '<ref>',
  describe: "Disk usage of an image's layer snapshots, top layer first",
  complete: 'images',
  options: (y) => snapshotterFlag(outputFlags(y.positional('ref', { type: 'string', describe: 'Image reference' }))),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { imageUsage } = await import('../../src/images/check.js');
    const { renderCtr, goBytes } = await import('../content/_ctrfmt.js');
    const { snapshotterOf } = await import('../snapshots/_flags.js');
    const ctx = await contextFrom(argv);
    const { layers } = imageUsage(ctx, String(argv.ref), await snapshotterOf(argv, ctx));
    renderCtr(argv, layers, {
      headers: ['KEY', 'SIZE', 'INODES'],
      row: (r) => [r.key, goBytes(r.size), String(r.inodes)],
      id: (r) => r.key,
      json: (r) => r,
    });
  },
});
