import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';
import { snapshotterFlag } from '../snapshots/_flags.js';

export const unmount = command<{ target: string; rm: boolean; snapshotter?: string }>({
  name: 'unmount',
  positional: '<target>',
  describe: 'Unmount an image mounted with images mount; --rm also removes its snapshot and lease',
  complete: 'files',
  options: (y) =>
    snapshotterFlag(
      y
        .positional('target', { type: 'string', describe: 'The directory given to images mount' })
        .option('rm', { type: 'boolean', default: false, description: 'Remove the snapshot after a successful unmount' }),
    ),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { unmountImage } = await import('../../src/images/mount.js');
    const { pickSnapshotter } = await import('../content/_ctrfmt.js');
    const ctx = await contextFrom(argv);
    const r = unmountImage(ctx, String(argv.target), { rm: argv.rm, snapshotter: await pickSnapshotter(argv.snapshotter, ctx.facts.snapshotter) });
    print(r.target);
  },
});
