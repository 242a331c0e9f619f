import { command } from './_lib/define.js';
import { containerFlags, containerOptions, type ContainerArgs } from './_lib/container-flags.js';
import { env } from '../src/platform/index.js';

interface RunArgs extends ContainerArgs {
  rm?: boolean;
  detach?: boolean;
  pull: string;
  'null-io'?: boolean;
  '--'?: string[];
}

export const run = command<RunArgs>({
  name: 'run',
  positional: '<image> <id> [args..]',
  describe: 'Run a container: pull if missing, create, start (foreground, or -d under a shim)',
  complete: 'images',
  passthrough: true,
  options: (y) =>
    containerFlags(y)
      .option('rm', { type: 'boolean', description: 'Remove the container (and its snapshot) when the task exits' })
      .option('detach', { alias: 'd', type: 'boolean', description: 'Run in the background under ctrx-shim; output goes to the log (ctrx logs ID)' })
      .option('pull', { type: 'string', default: 'missing', choices: ['missing', 'always', 'never'], description: 'Pull the image first' })
      .option('null-io', { type: 'boolean', description: 'Discard the task output' })
      // A conflict (unlike a check returning a message) reaches yargs' fail handler as a usage error: exit 2.
      .conflicts('rm', 'detach'),
  run: async (argv) => {
    // Loaded side by side: each is a chunk to read and compile before the container can start.
    const [{ contextFrom }, { ensureImage, exitWith, createWithUnpack, retryWhileLocked }, { runAttached, startDetached }, { removeContainers }] = await Promise.all([
      import('./_lib/context.js'),
      import('./_lib/tasks.js'),
      import('../src/containers/task.js'),
      import('../src/containers/remove.js'),
    ]);
    const ctx = await contextFrom(argv);
    const snapshotter = argv.snapshotter ?? (env('CONTAINERD_SNAPSHOTTER') || ctx.facts.snapshotter);
    const opts = await containerOptions(
      { ...argv, snapshotter, args: [...(argv.args ?? []), ...(argv['--'] ?? [])] },
      { snapshotter, binaryName: ctx.facts.runc.binaryName, systemdCgroup: ctx.facts.runc.systemdCgroup },
    );
    await ensureImage(ctx, argv.image, argv.pull, { snapshotter });
    const { record } = await retryWhileLocked(() => createWithUnpack(ctx, opts));
    const runcOptions = argv['runc-binary'] ? { binary: argv['runc-binary'] } : {};
    if (argv.detach) {
      try {
        await startDetached(ctx, record.id, { record, ...(argv.tty ? { tty: true } : {}), ...(argv['null-io'] ? { nullIO: true } : {}), runcOptions });
      } catch (e) {
        // Nothing half-made stays behind: the container goes with its failed task.
        await retryWhileLocked(() => removeContainers(ctx, [record.id], { force: true }));
        throw e;
      }
      return;
    }
    let status: number;
    try {
      status = await runAttached(ctx, record.id, { record, ...(argv.tty ? { tty: true } : {}), runcOptions, ...(argv['null-io'] ? { stdio: { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' } } : {}) });
    } finally {
      if (argv.rm) await retryWhileLocked(() => removeContainers(ctx, [record.id], { force: true }));
    }
    exitWith(status);
  },
});
