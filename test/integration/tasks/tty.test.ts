import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { deleteTask, startTask, taskStatus, waitTask } from '../../../src/tasks/manager.js';
import { attachTask } from '../../../src/tasks/attach.js';
import { execExit, execInTask } from '../../../src/tasks/exec.js';
import { readLogs } from '../../../src/tasks/logs.js';
import { selfExec } from '../../../src/platform/index.js';
import { makeWorld, runcAvailable, until, type World } from './rig.js';

const skip = runcAvailable();
let w: World;
before(async () => {
  if (!skip) w = await makeWorld('tty');
});
after(async () => {
  w?.close();
});

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

async function logText(id: string): Promise<string> {
  let s = '';
  for await (const r of readLogs(w.ctx, id)) s += r.log;
  return s;
}

test('tty detached: the pty master comes over the console socket; attach sends input and a resize, gets output and the exit', { skip }, async () => {
  const id = 'tty1';
  const info = await startTask(w.ctx, { id, io: { tty: true }, spec: w.spec(id, ['sh', '-c', 'read x; echo got-$x; stty size; tty; exit 4'], { tty: true }) });
  assert.equal(info.status, 'running');
  assert.equal(info.tty, true);
  const out = new Sink();
  const s = await attachTask(w.ctx, id, { stdout: out, size: { rows: 40, cols: 100 } });
  s.write('hello\n');
  const r = await s.done;
  assert.equal(r.detached, false);
  assert.equal(r.exit?.status, 4);
  assert.match(out.text, /got-hello\r\n40 100\r\n\/dev\/pts\/\d+\r\n/);
  assert.equal((await waitTask(w.ctx, id)).status, 4);
  assert.match(await logText(id), /got-hello\r\n40 100\r\n/);
  await deleteTask(w.ctx, id);
});

test('detach keys (ctrl-p ctrl-q) leave the task running; a second attach ends it', { skip }, async () => {
  const id = 'tty2';
  await startTask(w.ctx, { id, spec: w.spec(id, ['sh'], { tty: true }) });
  const out = new Sink();
  const input = new PassThrough();
  const s = await attachTask(w.ctx, id, { stdout: out, stdin: input });
  input.write('echo one-$((40+2))\n');
  await until(() => out.text.includes('one-42'), 5000, 'echo');
  input.write(Buffer.from([0x10]));
  input.write(Buffer.from([0x11]));
  const r = await s.done;
  assert.equal(r.detached, true);
  assert.equal((await taskStatus(w.ctx, id)).status, 'running');

  const out2 = new Sink();
  const s2 = await attachTask(w.ctx, id, { stdout: out2 });
  s2.write('exit 5\n');
  assert.equal((await s2.done).exit?.status, 5);
  await deleteTask(w.ctx, id);
});

test('no tty, stdin kept: attach input reaches the process, closing stdin is EOF', { skip }, async () => {
  const id = 'pipe1';
  await startTask(w.ctx, { id, io: { stdin: true }, spec: w.spec(id, ['sh', '-c', 'read x; echo got-$x; cat; echo eof >&2']) });
  const out = new Sink();
  const err = new Sink();
  const s = await attachTask(w.ctx, id, { stdout: out, stderr: err });
  s.write('abc\n');
  await until(() => out.text.includes('got-abc'), 5000, 'read');
  s.write('through cat\n');
  s.closeStdin();
  const r = await s.done;
  assert.equal(r.exit?.status, 0);
  assert.equal(out.text, 'got-abc\nthrough cat\n');
  assert.equal(err.text, 'eof\n');
  await deleteTask(w.ctx, id);
});

test('detached exec: supervised by its own shim, output in the task log, exit recorded', { skip }, async () => {
  const id = 'host';
  await startTask(w.ctx, { id, spec: w.spec(id, ['sleep', '60']) });
  const r = await execInTask(w.ctx, id, { execId: 'bg', detach: true, args: ['sh', '-c', 'echo from-exec; exit 9'] });
  assert.equal(r.execId, 'bg');
  assert.ok((r.pid ?? 0) > 0);
  const exit = await until(() => execExit(w.ctx, id, 'bg'), 5000, 'exec exit');
  assert.equal(exit!.status, 9);
  assert.match(await logText(id), /from-exec\n/);
  await assert.rejects(execInTask(w.ctx, id, { execId: 'bg', args: ['true'] }), /in use/);
  // A tty exec, detached, goes through runc exec --detach and the console socket.
  const t = await execInTask(w.ctx, id, { execId: 'bgtty', detach: true, tty: true, args: ['sh', '-c', 'tty; exit 2'] });
  assert.ok((t.pid ?? 0) > 0);
  assert.equal((await until(() => execExit(w.ctx, id, 'bgtty'), 5000, 'tty exec exit'))!.status, 2);
  assert.match(await logText(id), /\/dev\/pts\/\d+\r\n/);
  await deleteTask(w.ctx, id, { force: true });
});

const tmux = spawnSync('tmux', ['-V']).status === 0;
const driverJs = path.join(path.dirname(fileURLToPath(import.meta.url)), 'driver.js');

test('foreground tty in a real terminal (tmux): runc takes the terminal, keys reach the container, the status comes back', { skip: skip ?? (tmux ? undefined : 'tmux missing') }, async () => {
  const id = 'fgtty';
  const req = path.join(w.dir, 'req.json');
  writeFileSync(req, JSON.stringify({
    op: 'run', ns: w.ns, root: w.root, state: w.state, config: path.join(w.dir, 'missing.toml'),
    opts: { id, tty: true, spec: w.spec(id, ['sh', '-c', 'stty size; read x; echo got-$x; exit 6'], { tty: true }) },
  }));
  const sock = path.join(w.dir, 'tmux.sock');
  const t = (...a: string[]) => spawnSync('tmux', ['-S', sock, ...a], { encoding: 'utf8' });
  // tmux gives a detached pane its size a moment after starting its command: wait for it first.
  const cmd = `until [ "$(stty size)" = "20 90" ]; do sleep 0.05; done; ${selfExec(driverJs).join(' ')} @${req}; sleep 30`;
  assert.equal(t('new-session', '-d', '-s', 'fg', '-x', '90', '-y', '20', cmd).status, 0);
  try {
    await until(() => /^20 90\s*$/m.test(t('capture-pane', '-p', '-t', 'fg').stdout), 10_000, 'stty size in the pane').catch((e) => {
      throw new Error(`${e.message}: pane:\n${t('capture-pane', '-p', '-J', '-S', '-', '-t', 'fg').stdout.trim()}`);
    });
    t('send-keys', '-t', 'fg', 'typed', 'Enter');
    const pane = await until(() => {
      const p = t('capture-pane', '-p', '-J', '-t', 'fg').stdout;
      return p.includes('RESULT') ? p : undefined;
    }, 10_000, 'result');
    assert.match(pane!, /got-typed/);
    assert.match(pane!, /"status":6/);
  } finally {
    t('kill-server');
  }
});
