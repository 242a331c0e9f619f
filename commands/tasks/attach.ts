import { command } from '../_lib/define.js';

export const attach = command<{ id: string; 'exec-id'?: string }>({
  name: 'attach',
  positional: '<id>',
  describe: "Attach to a detached task's output and input (detach with ctrl-p ctrl-q)",
  complete: 'tasks',
  options: (y) => y.positional('id', { type: 'string' }).option('exec-id', { type: 'string', description: 'Attach to a detached exec' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { attachTask } = await import('../../src/tasks/attach.js');
    const { stdioStreams, onSignals } = await import('../../src/platform/index.js');
    const { exitWith } = await import('../_lib/tasks.js');
    const ctx = await contextFrom(argv);
    const io = stdioStreams();
    const raw = io.stdin.isTTY;
    const size = io.stdout.isTTY ? { rows: io.stdout.rows, cols: io.stdout.columns } : undefined;
    if (raw) io.stdin.setRawMode(true);
    try {
      const s = await attachTask(ctx, argv.id, { ...(argv['exec-id'] ? { execId: argv['exec-id'] } : {}), stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, ...(size ? { size } : {}) });
      const off = onSignals(['SIGWINCH'], () => s.resize(io.stdout.rows, io.stdout.columns));
      const r = await s.done;
      off();
      if (!r.detached && r.exit) exitWith(r.exit.status);
    } finally {
      if (raw) io.stdin.setRawMode(false);
      io.stdin.pause();
    }
  },
});
