/**
 * A separate process that calls the task manager, for tests that must kill
 * or signal "ctrx" itself: `node driver.js '<json request>'`. Prints one
 * line `RESULT <json>` when the operation returns (then lingers when `hold`).
 */
import { readFileSync } from 'node:fs';
import { resolveContext } from '../../../src/context.js';
import { runForeground, startTask } from '../../../src/tasks/manager.js';
import { CtrxError } from '../../../src/errdefs.js';

interface Request {
  op: 'start' | 'run';
  ns: string;
  root: string;
  state: string;
  config: string;
  opts: Record<string, unknown>;
  hold?: boolean;
}

// `@file` reads the request from a file (for tmux, whose command line is a shell string).
const arg = process.argv[2]!;
const req = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg) as Request;
const ctx = await resolveContext({ namespace: req.ns, root: req.root, state: req.state, config: req.config });
try {
  const r =
    req.op === 'start'
      ? await startTask(ctx, req.opts as never)
      : await runForeground(ctx, { ...(req.opts as object as { id: string }), stdio: req.opts.tty ? undefined : { stdin: 'ignore', stdout: 'inherit', stderr: 'inherit' } });
  process.stdout.write(`RESULT ${JSON.stringify({ ok: true, r })}\n`);
} catch (e) {
  const err = e as CtrxError;
  process.stdout.write(`RESULT ${JSON.stringify({ ok: false, message: err.message, category: err.category })}\n`);
}
if (req.hold) setInterval(() => {}, 1 << 30);
