import { command } from '../_lib/define.js';
import { containerFlags, containerOptions, type ContainerArgs } from '../_lib/container-flags.js';
import { env } from '../../src/platform/index.js';

export const create = command<ContainerArgs & { '--'?: string[] }>({
  name: 'create',
  positional: '<image> <id> [args..]',
  describe: 'Create a container from an image (the image must be pulled and unpacked)',
  complete: 'images',
  passthrough: true,
  options: containerFlags,
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { createWithUnpack, retryWhileLocked } = await import('../_lib/tasks.js');
    const ctx = await contextFrom(argv);
    const opts = await containerOptions(
      { ...argv, args: [...(argv.args ?? []), ...(argv['--'] ?? [])] },
      { snapshotter: env('CONTAINERD_SNAPSHOTTER') || ctx.facts.snapshotter, binaryName: ctx.facts.runc.binaryName, systemdCgroup: ctx.facts.runc.systemdCgroup },
    );
    // As ctr: an image unpacked for another snapshotter is unpacked for this one first.
    await retryWhileLocked(() => createWithUnpack(ctx, opts));
  },
});
