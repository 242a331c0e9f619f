import { command } from './_lib/define.js';

interface LogsArgs {
  id: string;
  follow?: boolean;
  tail?: number;
  since?: string;
  until?: string;
  timestamps?: boolean;
}

export const logs = command<LogsArgs>({
  name: 'logs',
  positional: '<id>',
  describe: "Print a detached task's output (kept after it exits, until the container is removed)",
  complete: 'containers',
  options: (y) =>
    y
      .positional('id', { type: 'string' })
      .option('follow', { alias: 'f', type: 'boolean', description: 'Keep printing new output until the task exits' })
      .option('tail', { type: 'number', description: 'Only the last N lines' })
      .option('since', { type: 'string', description: 'Only lines since a time (RFC 3339) or a duration ago (10m, 1h)' })
      .option('until', { type: 'string', description: 'Only lines before a time or a duration ago' })
      .option('timestamps', { alias: 't', type: 'boolean', description: 'Prefix each line with its time' }),
  run: async (argv) => {
    const { contextFrom } = await import('./_lib/context.js');
    const { readLogs, formatLogRecord } = await import('../src/tasks/logs.js');
    const { stdout, stderr, onSignals } = await import('../src/platform/index.js');
    const ctx = await contextFrom(argv);
    const ac = new AbortController();
    const off = onSignals(['SIGINT', 'SIGTERM'], () => ac.abort());
    try {
      for await (const r of readLogs(ctx, argv.id, {
        ...(argv.follow ? { follow: true } : {}),
        ...(argv.tail !== undefined ? { tail: argv.tail } : {}),
        ...(argv.since ? { since: argv.since } : {}),
        ...(argv.until ? { until: argv.until } : {}),
        signal: ac.signal,
      })) {
        (r.stream === 'stderr' ? stderr : stdout).write(formatLogRecord(r, { timestamps: Boolean(argv.timestamps) }));
      }
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    } finally {
      off();
    }
  },
});
