import { command, many } from '../_lib/define.js';

interface ExecArgs {
  id: string;
  args?: string[];
  '--'?: string[];
  'exec-id'?: string;
  tty?: boolean;
  detach?: boolean;
  user?: string;
  cwd?: string;
  env?: string[];
}

export const exec = command<ExecArgs>({
  name: 'exec',
  positional: '<id> [args..]',
  describe: 'Run another process in a running task (--exec-id is generated when omitted)',
  complete: 'tasks',
  passthrough: true,
  options: (y) =>
    y
      .positional('id', { type: 'string' })
      .positional('args', { type: 'string', array: true })
      .option('exec-id', { type: 'string', description: 'Exec process id (default: generated)' })
      .option('tty', { alias: 't', type: 'boolean', description: 'Allocate a terminal' })
      .option('detach', { alias: 'd', type: 'boolean', description: 'Run in the background; output goes to the task log' })
      .option('user', { alias: 'u', type: 'string', description: 'uid[:gid] or a user of the image' })
      .option('cwd', { type: 'string', description: 'Working directory' })
      .option('env', { type: 'string', coerce: many, description: 'KEY=VALUE' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { execInTask } = await import('../../src/tasks/exec.js');
    const { exitWith } = await import('../_lib/tasks.js');
    const { invalidArgument } = await import('../../src/errdefs.js');
    const ctx = await contextFrom(argv);
    const args = [...(argv.args ?? []), ...(argv['--'] ?? [])].map(String);
    if (args.length === 0) throw invalidArgument('a command is required', { subject: 'tasks exec' });
    let user: { uid: number; gid: number; additionalGids?: number[] } | undefined;
    if (argv.user !== undefined) {
      // Names are resolved inside the task's own rootfs, never on the host.
      const { resolveUser } = await import('../../src/containers/user.js');
      const { paths } = await import('../../src/tasks/manager.js');
      const path = await import('node:path');
      const u = resolveUser(argv.user, path.join(paths(ctx, argv.id).dir, 'rootfs'));
      user = { uid: u.uid, gid: u.gid, ...(u.additionalGids?.length ? { additionalGids: u.additionalGids } : {}) };
    }
    const r = await execInTask(ctx, argv.id, {
      args,
      ...(argv['exec-id'] ? { execId: argv['exec-id'] } : {}),
      ...(argv.tty ? { tty: true } : {}),
      ...(argv.detach ? { detach: true } : {}),
      ...(user ? { user } : {}),
      ...(argv.cwd ? { cwd: argv.cwd } : {}),
      ...(argv.env ? { env: argv.env } : {}),
    });
    if (r.exit) exitWith(r.exit.status);
  },
});
