import { command } from '../_lib/define.js';
import { snapshotterFlag } from './_flags.js';

type Args = { key: string; parent?: string; target?: string; mounts: boolean; snapshotter?: string };

/** `prepare` and `view` differ only in the kind of snapshot they make. */
function newSnapshot(name: 'prepare' | 'view', describe: string) {
  return command<Args>({
    name,
    positional: '<key> [parent]',
    describe,
    complete: 'snapshots',
    options: (y) =>
      snapshotterFlag(
        y
          .positional('key', { type: 'string' })
          .positional('parent', { type: 'string' })
          .option('target', { alias: 't', type: 'string', description: 'Mount target path: print the mount commands for it' })
          .option('mounts', { type: 'boolean', default: false, description: 'Print the snapshot mounts as JSON' }),
      ),
    run: async (argv) => {
      const { contextFrom } = await import('../_lib/context.js');
      const ops = await import('../../src/snapshots/ops.js');
      const { snapshotterOf } = await import('./_flags.js');
      const { mountLines, mountsJSON } = await import('./_mounts.js');
      const { stdout } = await import('../../src/platform/index.js');
      const ctx = await contextFrom(argv);
      const make = name === 'prepare' ? ops.prepareSnapshot : ops.viewSnapshot;
      const m = make(ctx, await snapshotterOf(argv, ctx), String(argv.key), argv.parent === undefined ? undefined : String(argv.parent));
      if (argv.target) stdout.write(mountLines(argv.target, m));
      if (argv.mounts) stdout.write(mountsJSON(m));
    },
  });
}

export const prepare = newSnapshot('prepare', 'Prepare an active snapshot (labelled containerd.io/gc.root, as ctr), optionally on a committed parent');
export const view = newSnapshot('view', 'Create a read-only snapshot of a committed snapshot (unlabelled, as ctr: the next GC removes it unless referenced)');
