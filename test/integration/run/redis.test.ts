/**
 * The job ctrx exists for, from the command line: `ctrx run -d --net-host
 * redis redis1 redis-server --port P`, then everything a user does with a
 * detached task: redis-cli against it, ps / tasks ls, logs (tail, since,
 * timestamps, follow), metrics, tasks ps, pause/resume, exec with a
 * terminal, a refused rm, a graceful stop, wait, and rm -f of a running one.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../helpers/registry.js';
import { ctrxBin } from '../../helpers/run.js';
import { makeWorld, skipReason, taskRow, until, type World } from './rig.js';

const skip = skipReason();
let w: World;
let port: number;
before(async () => {
  if (skip) return;
  w = await makeWorld('rd');
  port = await freePort();
});
afterEach(async () => {
  await w?.reset();
});
after(async () => {
  await w?.close();
});

const redisCli = (...args: string[]) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });

/** A long-running ctrx command whose output is collected as it comes. */
function follow(args: string[]): { out: () => string; done: Promise<number | null>; kill: () => void } {
  const [cmd, ...pre] = ctrxBin();
  const child = spawn(cmd!, [...pre, ...w.g(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void done.then(() => clearTimeout(timer));
  return { out: () => out, done, kill: () => child.kill('SIGKILL') };
}

test('run -d --net-host redis: PONG, listed running, logs, metrics, ps, pause/resume, a refused rm, stop -t, wait', { skip }, async () => {
  const t0 = Date.now();
  const r = await w.cx(['run', '-d', '--net-host', 'redis', 'redis1', 'redis-server', '--port', String(port)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const runMs = Date.now() - t0;

  await until(() => redisCli('ping').stdout.trim() === 'PONG', 10_000, 'redis PONG');
  const ls = taskRow(await w.ok(['tasks', 'ls']), 'redis1');
  assert.equal(ls?.[2], 'RUNNING', String(ls));
  const pid = Number(ls![1]);
  assert.ok(pid > 0);
  const ps = (await w.ok(['ps'])).split('\n').find((l) => l.startsWith('redis1 '));
  assert.match(ps ?? '', /^redis1\s+docker\.io\/library\/redis:latest\s+running\s+(\d+)/, ps);
  assert.equal(Number(/running\s+(\d+)/.exec(ps!)![1]), pid);

  // Logs: redis's startup lines, then the options.
  const logs = await w.ok(['logs', 'redis1']);
  assert.match(logs, /Redis is starting/);
  assert.match(logs, new RegExp(`Running mode=standalone, port=${port}`));
  const lines = logs.trimEnd().split('\n');
  const tail = (await w.ok(['logs', '--tail', '2', 'redis1'])).trimEnd().split('\n');
  assert.deepEqual(tail, lines.slice(-2));
  const stamped = (await w.ok(['logs', '-t', '--tail', '1', 'redis1'])).trimEnd();
  assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z /);
  assert.equal(stamped.slice(stamped.indexOf(' ') + 1), lines.at(-1));
  const stampOf = new Date(stamped.slice(0, stamped.indexOf(' '))).getTime();
  assert.ok(Math.abs(stampOf - Date.now()) < 120_000, stamped);
  assert.deepEqual((await w.ok(['logs', '--since', '1h', 'redis1'])).trimEnd().split('\n'), lines);
  assert.equal(await w.ok(['logs', '--since', new Date(Date.now() + 3600_000).toISOString(), 'redis1']), '');
  assert.equal(await w.ok(['logs', '--until', '1h', 'redis1']), '', 'nothing is older than an hour');

  // Follow: new lines appear as redis writes them.
  const f = follow(['logs', '-f', '--tail', '0', 'redis1']);
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(redisCli('save').stdout.trim(), 'OK');
  await until(() => /DB saved on disk/.test(f.out()), 10_000, 'follow shows the SAVE').catch((e) => {
    throw new Error(`${(e as Error).message}; got ${JSON.stringify(f.out())}`);
  });
  assert.doesNotMatch(f.out(), /Redis is starting/, '--tail 0: no history');

  // Metrics: one sample from the task's cgroup.
  const m = JSON.parse(await w.ok(['tasks', 'metrics', '--format', 'json', 'redis1'])) as { memory: { usage: number }; pids: { current: number } };
  assert.ok(m.memory.usage > 0, JSON.stringify(m));
  assert.ok(m.pids.current >= 1, JSON.stringify(m));
  assert.match(await w.ok(['tasks', 'metrics', 'redis1']), /^METRIC\s+VALUE\n(.*\n)*memory\.usage\s+[1-9]\d*\n/m);
  const tps = (await w.ok(['tasks', 'ps', 'redis1'])).trim().split('\n');
  assert.deepEqual(tps[0]!.split(/\s+/), ['PID', 'INFO']);
  assert.ok(tps.some((l) => new RegExp(`^${pid}\\s+redis-server`).test(l)), tps.join('\n'));

  // Pause: the freezer holds redis (no answer), resume lets it go.
  await w.ok(['tasks', 'pause', 'redis1']);
  assert.equal(taskRow(await w.ok(['tasks', 'ls']), 'redis1')?.[2], 'PAUSED');
  assert.notEqual(spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8', timeout: 1000 }).stdout.trim(), 'PONG');
  await w.ok(['tasks', 'resume', 'redis1']);
  assert.equal(taskRow(await w.ok(['tasks', 'ls']), 'redis1')?.[2], 'RUNNING');
  assert.equal(redisCli('ping').stdout.trim(), 'PONG');

  // A running container is not removed without -f.
  const rm = await w.cx(['containers', 'rm', 'redis1']);
  assert.equal(rm.code, 6, rm.stderr);
  assert.match(rm.stderr, /container "redis1": cannot remove a container whose task is running/);
  assert.equal(redisCli('ping').stdout.trim(), 'PONG');

  // stop: redis honours SIGTERM (saves, exits 0) well before the 2 s timeout.
  const s0 = Date.now();
  await w.ok(['stop', '-t', '2', 'redis1']);
  const stopMs = Date.now() - s0;
  assert.ok(stopMs < 4000, `stop took ${stopMs} ms`);
  assert.match(await f.done.then(() => f.out()), /Redis is now ready to exit, bye bye/, 'follow saw the shutdown and ended with the task');
  assert.equal(await f.done, 0);
  const wait = await w.cx(['wait', 'redis1']);
  assert.equal(wait.code, 0);
  assert.equal(wait.stdout, '0\n');
  assert.match((await w.ok(['ps'])).split('\n').find((l) => l.startsWith('redis1 ')) ?? '', /exited \(0\)/);
  assert.match(await w.ok(['logs', 'redis1']), /bye bye/, 'the log outlives the task');
  await w.ok(['containers', 'rm', 'redis1']);
  assert.deepEqual(w.leftovers(), []);
  assert.ok(runMs < 20_000, `run -d took ${runMs} ms`);
});

test('logs -f of a busybox loop ends when the task exits; kill -s SIGKILL then wait prints 137; rm -f removes a running container', { skip }, async () => {
  await w.ok(['run', '-d', 'busybox', 'loop', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done; echo err >&2; exit 3']);
  const f = follow(['logs', '-f', 'loop']);
  assert.equal(await f.done, 0, f.out());
  assert.deepEqual(f.out().trimEnd().split('\n').sort(), ['err', 'line1', 'line2', 'line3']);
  const wait = await w.cx(['wait', 'loop']);
  assert.equal(wait.code, 3);
  assert.equal(wait.stdout, '3\n');
  await w.ok(['containers', 'rm', 'loop']);

  await w.ok(['run', '-d', 'busybox', 'sleeper', 'sleep', '600']);
  await w.ok(['tasks', 'kill', '-s', 'SIGKILL', 'sleeper']);
  const killed = await w.cx(['wait', 'sleeper']);
  assert.equal(killed.stdout, '137\n');
  assert.equal(killed.code, 137);
  await w.ok(['tasks', 'rm', 'sleeper']);
  await w.ok(['tasks', 'start', '-d', 'sleeper']);
  assert.equal(taskRow(await w.ok(['tasks', 'ls']), 'sleeper')?.[2], 'RUNNING', 'a container starts again after its task was deleted');
  const rm = await w.cx(['containers', 'rm', '-f', 'sleeper']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await w.ok(['containers', 'ls', '-q'])).trim(), '');
  assert.deepEqual(w.leftovers(), []);
});

const tmux = spawnSync('tmux', ['-V']).status === 0;

test('tasks exec -t in a terminal (tmux): a pty inside the task, keys reach it, its status comes back', { skip: skip ?? (tmux ? undefined : 'tmux missing') }, async () => {
  await w.ok(['run', '-d', 'busybox', 'box', 'sleep', '600']);
  const sock = path.join(w.dir, 'tmux.sock');
  const t = (...a: string[]) => spawnSync('tmux', ['-S', sock, ...a], { encoding: 'utf8' });
  const cx = [...ctrxBin(), ...w.g()].map((a) => `'${a}'`).join(' ');
  const script = `until [ "$(stty size)" = "20 90" ]; do sleep 0.05; done; ${cx} tasks exec -t --exec-id sh1 box sh -c 'tty; stty size; read x; echo got-$x; exit 5'; echo "EXIT=$?"; sleep 30`;
  assert.equal(t('new-session', '-d', '-s', 'ex', '-x', '90', '-y', '20', script).status, 0);
  try {
    const pane = (): string => t('capture-pane', '-p', '-J', '-t', 'ex').stdout;
    await until(() => /^\/dev\/pts\/\d+\s*$/m.test(pane()), 15_000, 'tty in the pane').catch((e) => {
      throw new Error(`${(e as Error).message}: pane:\n${pane()}`);
    });
    assert.match(pane(), /^20 90\s*$/m, 'the terminal size reached the exec');
    t('send-keys', '-t', 'ex', 'typed', 'Enter');
    const out = await until(() => (/EXIT=\d+/.test(pane()) ? pane() : undefined), 10_000, 'exec exit');
    assert.match(out, /got-typed/);
    assert.match(out, /EXIT=5/);
  } finally {
    t('kill-server');
  }
  await w.ok(['containers', 'rm', '-f', 'box']);
  assert.deepEqual(w.leftovers(), []);
});
