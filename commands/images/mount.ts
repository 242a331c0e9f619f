import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';
import { snapshotterFlag } from '../snapshots/_flags.js';

export const mount = command<{ ref: string; target: string; rw: boolean; platform?: string; snapshotter?: string }>({
  name: 'mount',
  positional: '<ref> <target>',
  describe: "Mount an image's root filesystem on a directory (a view, or a writable snapshot with --rw); prints the chainID and the target",
  complete: 'images',
  options: (y) =>
    snapshotterFlag(
      y
        .positional('ref', { type: 'string', describe: 'Image reference' })
        .positional('target', { type: 'string', describe: 'Directory to mount on (also the snapshot key and lease id, as ctr)' })
        .option('rw', { type: 'boolean', default: false, description: 'Mount a writable (active) snapshot' })
        .option('platform', { type: 'string', description: "Platform of the image to mount (default the host's)" }),
    ),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { mountImage } = await import('../../src/images/mount.js');
    const { pickSnapshotter } = await import('../content/_ctrfmt.js');
    const ctx = await contextFrom(argv);
    const r = await mountImage(ctx, String(argv.ref), String(argv.target), { rw: argv.rw, platform: argv.platform, snapshotter: await pickSnapshotter(argv.snapshotter, ctx.facts.snapshotter) });
    print(r.chainId);
    print(r.target);
  },
});
