import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  deleteTask, inspectTask, killTask, listTasks, pauseTask, resumeTask, runForeground, startTask, stopTask, taskProcesses,
  taskStatus, waitTask,
} from '../../../src/tasks/manager.js';
import { execInTask } from '../../../src/tasks/exec.js';
import { readLogs } from '../../../src/tasks/logs.js';
import { taskMetrics } from '../../../src/tasks/metrics.js';
import { isCategory } from '../../../src/errdefs.js';
import { isAlive, procInfo } from '../../helpers/procs.js';
import { mountsUnder } from '../../helpers/tmp.js';
import { makeWorld, runcAvailable, until, type World } from './rig.js';

const skip = runcAvailable();
let w: World;
before(async () => {
  if (!skip) w = await makeWorld('life');
});
after(async () => {
  w?.close();
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('a detached task: start returns while it runs, logs, kill, exit status, delete leaves nothing', { skip }, async () => {
  const id = 'web1';
  const t0 = Date.now();
  const info = await startTask(w.ctx, { id, spec: w.spec(id, ['sh', '-c', 'trap "exit 143" TERM; echo hello; echo oops >&2; sleep 30 & wait']) });
  const took = Date.now() - t0;
  assert.equal(info.status, 'running');
  assert.equal(info.owner, 'ctrx');
  assert.equal(info.supervised, true);
  assert.ok(info.pid > 0 && isAlive(info.pid), 'init runs');
  assert.ok(took < 10_000, `start took ${took} ms`);
  const shimPid = info.supervisor!.pid;
  assert.notEqual(shimPid, process.pid);
  // The shim is in a session of its own (detached), not in ours.
  assert.equal(procInfo(shimPid)!.pgrp, shimPid);

  const lines = (await until(async () => {
    const r = await collect(readLogs(w.ctx, id));
    return r.length >= 2 ? r : undefined;
  }, 5000, 'log lines'))!;
  const hello = lines.find((l) => l.stream === 'stdout')!;
  assert.equal(hello.log, 'hello\n');
  assert.match(hello.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.ok(Math.abs(Date.parse(hello.time) - Date.now()) < 60_000);
  assert.deepEqual(lines.find((l) => l.stream === 'stderr')!.log, 'oops\n');
  const raw = readFileSync(path.join(w.root, 'ctrx', w.ns, id, 'task.log'), 'utf8').split('\n')[0]!;
  assert.deepEqual(Object.keys(JSON.parse(raw)), ['log', 'stream', 'time']);

  const listed = await listTasks(w.ctx);
  assert.deepEqual(listed.map((t) => [t.id, t.status, t.pid]), [[id, 'running', info.pid]]);
  assert.deepEqual(w.runcIds(), [id]);

  // A running task cannot be deleted without force.
  await assert.rejects(deleteTask(w.ctx, id), (e) => isCategory(e, 'failed-precondition'));

  await killTask(w.ctx, id, 'SIGTERM');
  const exit = await waitTask(w.ctx, id);
  assert.equal(exit.status, 143);
  assert.equal(exit.signal, 'SIGTERM');
  const onDisk = JSON.parse(readFileSync(path.join(w.state, 'ctrx', w.ns, id, 'exit.json'), 'utf8'));
  assert.equal(onDisk.status, 143);
  await until(() => !isAlive(shimPid), 5000, 'shim exit');
  const st = await taskStatus(w.ctx, id);
  assert.equal(st.status, 'stopped');
  assert.equal(st.exit?.status, 143);

  const del = await deleteTask(w.ctx, id);
  assert.equal(del?.status, 143);
  assert.equal(existsSync(path.join(w.state, 'ctrx', w.ns, id)), false, 'no task dir');
  assert.deepEqual(w.runcIds(), [], 'no runc container');
  assert.equal(isAlive(info.pid), false, 'no init process');
  assert.deepEqual(mountsUnder(w.dir), [], 'no mounts');
  assert.equal(await inspectTask(w.ctx, id), undefined);
  // The log outlives the task (it belongs with the container).
  assert.ok(existsSync(path.join(w.root, 'ctrx', w.ns, id, 'task.log')));
});

test('exit codes propagate: detached and foreground', { skip }, async () => {
  await startTask(w.ctx, { id: 'ex7', spec: w.spec('ex7', ['sh', '-c', 'exit 7']) });
  const e = await waitTask(w.ctx, 'ex7');
  assert.equal(e.status, 7);
  assert.equal(e.signal, undefined);
  await deleteTask(w.ctx, 'ex7');

  const fg = await runForeground(w.ctx, { id: 'fg7', spec: w.spec('fg7', ['sh', '-c', 'echo out; exit 7']), stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' } });
  assert.equal(fg.status, 7);
  assert.equal(fg.stdout?.toString(), 'out\n');
  // The foreground task is deleted at the end, as ctr run does.
  assert.equal(await inspectTask(w.ctx, 'fg7'), undefined);
  assert.deepEqual(w.runcIds(), []);
});

test('exec, ps, pause/resume, metrics, stop', { skip }, async () => {
  const id = 'busy';
  const info = await startTask(w.ctx, { id, spec: w.spec(id, ['sleep', '60']) });

  const r = await execInTask(w.ctx, id, { args: ['sh', '-c', 'echo in-$HOSTNAME-$FOO; id -u; exit 3'], env: ['FOO=bar'], stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' } });
  assert.match(r.execId, /^[0-9a-f]{12}$/);
  assert.equal(r.exit?.status, 3);
  assert.match(r.stdout!.toString(), /^in-.*-bar\n0\n$/);
  const named = await execInTask(w.ctx, id, { execId: 'e1', args: ['true'], stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' } });
  assert.equal(named.execId, 'e1');
  assert.equal(named.exit?.status, 0);

  // No fd of the shim or of ctrx leaks into the container: pid 1 has its stdio and nothing else.
  const fds = await execInTask(w.ctx, id, { args: ['ls', '/proc/1/fd'], stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' } });
  assert.equal(fds.stdout!.toString(), '0\n1\n2\n');

  const ps = await taskProcesses(w.ctx, id);
  assert.ok(ps.some((p) => p.pid === info.pid && /sleep/.test(p.command)), JSON.stringify(ps));

  await pauseTask(w.ctx, id);
  assert.equal((await taskStatus(w.ctx, id)).status, 'paused');
  await resumeTask(w.ctx, id);
  assert.equal((await taskStatus(w.ctx, id)).status, 'running');

  const m = await taskMetrics(w.ctx, id);
  assert.ok((m.memory.usage ?? 0) > 0, `memory ${JSON.stringify(m.memory)}`);
  assert.ok((m.pids.current ?? 0) >= 1, `pids ${JSON.stringify(m.pids)}`);
  assert.ok((m.cpu.usageNs ?? 0) > 0, `cpu ${JSON.stringify(m.cpu)}`);

  // SIGKILL is the one signal pid 1 of a pid namespace cannot ignore: a real signal death.
  await killTask(w.ctx, id, 'SIGKILL');
  const exit = await waitTask(w.ctx, id);
  assert.equal(exit.status, 137);
  assert.equal(exit.signal, 'SIGKILL');
  await deleteTask(w.ctx, id);
});

test('stop escalates to SIGKILL after the timeout', { skip }, async () => {
  const id = 'stubborn';
  // pid 1 of a pid namespace ignores signals it has no handler for: SIGTERM does nothing to sleep.
  await startTask(w.ctx, { id, spec: w.spec(id, ['sleep', '60']) });
  const t0 = Date.now();
  const exit = await stopTask(w.ctx, id, { timeoutMs: 500 });
  assert.equal(exit.status, 137);
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 >= 500);
  await deleteTask(w.ctx, id);

  await startTask(w.ctx, { id: 'polite', spec: w.spec('polite', ['sh', '-c', 'trap "exit 143" TERM; sleep 60 & wait']) });
  const t1 = Date.now();
  const e2 = await stopTask(w.ctx, 'polite', { timeoutMs: 5000 });
  assert.equal(e2.status, 143);
  assert.ok(Date.now() - t1 < 4000, 'stopped by the stop signal, not the timeout');
  await deleteTask(w.ctx, 'polite');
});

test('delete --force kills a running task and cleans up', { skip }, async () => {
  const id = 'forced';
  const info = await startTask(w.ctx, { id, spec: w.spec(id, ['sleep', '60']) });
  await deleteTask(w.ctx, id, { force: true });
  assert.equal(isAlive(info.pid), false);
  assert.equal(isAlive(info.supervisor!.pid), false);
  assert.equal(existsSync(path.join(w.state, 'ctrx', w.ns, id)), false);
  assert.deepEqual(w.runcIds(), []);
});
