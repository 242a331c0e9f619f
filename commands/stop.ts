import { command } from './_lib/define.js';

export const stop = command<{ ids: string[]; time: number; signal?: string }>({
  name: 'stop',
  positional: '<ids..>',
  describe: "Stop tasks: the image's stop signal (default SIGTERM), then SIGKILL after the timeout",
  complete: 'tasks',
  options: (y) =>
    y
      .positional('ids', { type: 'string', array: true })
      .option('time', { alias: 't', type: 'number', default: 10, description: 'Seconds to wait before SIGKILL' })
      .option('signal', { alias: 's', type: 'string', description: "Stop signal (default: the container's io.containerd.image.config.stop-signal label)" }),
  run: async (argv) => {
    const { contextFrom } = await import('./_lib/context.js');
    const { stopTask } = await import('../src/tasks/manager.js');
    const { getContainerRecord } = await import('../src/containers/task.js');
    const { STOP_SIGNAL_LABEL } = await import('../src/containers/spec.js');
    const { invalidArgument } = await import('../src/errdefs.js');
    if (!(argv.time >= 0)) throw invalidArgument('must be a number of seconds ≥ 0', { subject: '--time' });
    const ctx = await contextFrom(argv);
    for (const id of argv.ids) {
      let signal = argv.signal;
      if (!signal) {
        try {
          signal = getContainerRecord(ctx, id).labels[STOP_SIGNAL_LABEL];
        } catch {
          /* a task without a container record (runc's or containerd's own): SIGTERM */
        }
      }
      await stopTask(ctx, id, { timeoutMs: argv.time * 1000, signal: signal || 'SIGTERM' });
    }
  },
});
