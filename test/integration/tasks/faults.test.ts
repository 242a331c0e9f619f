import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteTask, inspectTask, killTask, listTasks, runForeground, startTask, taskStatus, waitTask } from '../../../src/tasks/manager.js';
import { readLogs } from '../../../src/tasks/logs.js';
import { isCategory } from '../../../src/errdefs.js';
import { selfExec } from '../../../src/platform/index.js';
import { descendants, isAlive, listProcesses, procInfo } from '../../helpers/procs.js';
import { mountsUnder } from '../../helpers/tmp.js';
import { makeWorld, runcAvailable, sleep, until, type World } from './rig.js';

const skip = runcAvailable();
let w: World;
const started: ChildProcess[] = [];
before(async () => {
  if (!skip) w = await makeWorld('flt');
});
after(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  w?.close();
});

const driverJs = path.join(path.dirname(fileURLToPath(import.meta.url)), 'driver.js');
/** The driver under the runtime running the tests (node, or `deno run -A`). */
const DRIVER = selfExec(driverJs);

function taskDir(id: string): string {
  return path.join(w.state, 'ctrx', w.ns, id);
}

/** Processes whose command line mentions this world's dir (shims, runc, fake runc): none may be left. */
function worldProcesses(): number[] {
  return listProcesses()
    .filter((p) => p.pid !== process.pid && p.argv.some((a) => a.includes(w.dir)))
    .map((p) => p.pid);
}

function assertNothingLeft(id: string): void {
  assert.equal(existsSync(taskDir(id)), false, 'no task dir');
  assert.ok(!w.runcIds().includes(id), 'no runc container');
  assert.deepEqual(mountsUnder(w.dir), [], 'no mounts');
  const socks = existsSync(path.join(w.state, 'ctrx', '_s')) ? readdirSync(path.join(w.state, 'ctrx', '_s')) : [];
  assert.deepEqual(socks, [], 'no sockets');
}

/** A runc stand-in: `mode` decides what the verbs do; everything else goes to the real runc. */
function fakeRunc(name: string, script: string): string {
  const file = path.join(w.dir, name);
  writeFileSync(file, `#!/bin/sh\n# args: "$@"\nLOG=\nprev=\nfor a in "$@"; do [ "$prev" = --log ] && LOG="$a"; prev="$a"; done\n${script}\nexec runc "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

test('shim SIGKILLed while the container runs: honest status, kill and wait still work, delete cleans up', { skip }, async () => {
  const id = 'orphan';
  const info = await startTask(w.ctx, { id, spec: w.spec(id, ['sh', '-c', 'trap "exit 3" TERM; echo up; sleep 60 & wait']) });
  const shim = info.supervisor!;
  const under = descendants(shim.pid).map((p) => ({ pid: p.pid, startTime: p.startTime }));
  process.kill(shim.pid, 'SIGKILL');
  await until(() => !isAlive(shim.pid, shim.startTime), 3000, 'shim death');

  const st = await taskStatus(w.ctx, id);
  assert.equal(st.status, 'running', 'the container still runs under runc');
  assert.equal(st.supervised, false);
  assert.match(st.note ?? '', /shim is gone/);
  assert.deepEqual((await listTasks(w.ctx)).map((t) => [t.id, t.status, t.supervised]), [[id, 'running', false]]);
  await assert.rejects(deleteTask(w.ctx, id), (e) => isCategory(e, 'failed-precondition'));

  await killTask(w.ctx, id, 'SIGTERM');
  const exit = await waitTask(w.ctx, id);
  assert.equal(exit.unknown, true, 'nobody could observe the status');
  const after = await taskStatus(w.ctx, id);
  assert.equal(after.status, 'stopped');
  assert.match(after.note ?? '', /no exit status/);
  await deleteTask(w.ctx, id);
  assertNothingLeft(id);
  await until(() => under.every((p) => !isAlive(p.pid, p.startTime)), 3000, 'the orphaned runc to exit');
});

test('shim SIGKILLed, then rm -f of the running container', { skip }, async () => {
  const id = 'orphan2';
  const info = await startTask(w.ctx, { id, spec: w.spec(id, ['sleep', '60']) });
  process.kill(info.supervisor!.pid, 'SIGKILL');
  await until(() => !isAlive(info.supervisor!.pid, info.supervisor!.startTime), 3000, 'shim death');
  await deleteTask(w.ctx, id, { force: true });
  assertNothingLeft(id);
  assert.equal(isAlive(info.pid), false);
});

test('a recycled shim pid is never taken for the shim nor signalled', { skip }, async () => {
  const id = 'recycled';
  const info = await startTask(w.ctx, { id, spec: w.spec(id, ['sleep', '60']) });
  const shim = info.supervisor!;
  process.kill(shim.pid, 'SIGKILL');
  await until(() => !isAlive(shim.pid, shim.startTime), 3000, 'shim death');
  // An unrelated process of ours now "has" the recorded pid: the record keeps the old start time.
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  started.push(bystander);
  const bs = procInfo(bystander.pid!)!;
  assert.notEqual(bs.startTime, shim.startTime);
  writeFileSync(path.join(taskDir(id), 'shim.json'), JSON.stringify({ pid: bystander.pid, startTime: shim.startTime, kind: 'shim' }));

  const st = await taskStatus(w.ctx, id);
  assert.equal(st.supervised, false, 'a pid with another start time is not the shim');
  await deleteTask(w.ctx, id, { force: true });
  assertNothingLeft(id);
  assert.ok(isAlive(bs.pid, bs.startTime), 'the unrelated process was not signalled');
  bystander.kill('SIGKILL');
});

test('a wiped state dir (reboot): no task, nothing stale listed, logs survive, the id can start again', { skip }, async () => {
  const id = 'reboot';
  const info = await startTask(w.ctx, { id, spec: w.spec(id, ['sh', '-c', 'echo before-reboot; sleep 60']) });
  await until(async () => {
    for await (const r of readLogs(w.ctx, id)) if (r.log === 'before-reboot\n') return true;
    return false;
  }, 3000, 'log line');
  // Power loss: every process dies at once, then /run is empty.
  const procs = [info.supervisor!.pid, ...descendants(info.supervisor!.pid).map((p) => p.pid)];
  for (const p of procs) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await until(() => procs.every((p) => !isAlive(p)), 3000, 'everything dead');
  rmSync(w.state, { recursive: true, force: true });

  assert.deepEqual(await listTasks(w.ctx), []);
  assert.equal(await inspectTask(w.ctx, id), undefined);
  await assert.rejects(taskStatus(w.ctx, id), (e) => isCategory(e, 'not-found'));
  assert.equal(existsSync(w.state), false, 'looking wrote nothing (runc would create its root)');
  const lines: string[] = [];
  for await (const r of readLogs(w.ctx, id)) lines.push(r.log);
  assert.ok(lines.includes('before-reboot\n'), 'the log lives under root');

  const again = await startTask(w.ctx, { id, spec: w.spec(id, ['sleep', '60']) });
  assert.equal(again.status, 'running');
  await deleteTask(w.ctx, id, { force: true });
  assertNothingLeft(id);
});

test('runc failing at create: its error is surfaced, nothing is left behind', { skip }, async () => {
  const bad = fakeRunc('runc-fail', `case " $* " in *" run "*|*" create "*)
  [ -n "$LOG" ] && echo '{"level":"error","msg":"fake runc: no cgroup for you","time":"2024-01-01T00:00:00Z"}' >> "$LOG"
  echo 'time="2024-01-01T00:00:00Z" level=error msg="fake runc: no cgroup for you"' >&2
  exit 1;;
esac`);
  for (const tty of [false, true]) {
    const id = tty ? 'badtty' : 'bad';
    const before = worldProcesses();
    let hookCalled = 0;
    await assert.rejects(
      startTask(w.ctx, { id, spec: w.spec(id, ['true'], { tty }), runcOptions: { binary: bad }, onFailure: () => void hookCalled++ }),
      (e: Error) => /fake runc: no cgroup for you/.test(e.message),
    );
    assert.equal(hookCalled, 1, 'the caller cleanup hook ran');
    assertNothingLeft(id);
    assert.deepEqual(worldProcesses().filter((p) => !before.includes(p)), [], 'no processes');
    assert.equal(existsSync(path.join(w.root, 'ctrx', w.ns, id, 'task.log')), false, 'no empty log left');
  }
  // Not even the binary: a clear error too.
  await assert.rejects(startTask(w.ctx, { id: 'nobin', spec: w.spec('nobin', ['true']), runcOptions: { binary: path.join(w.dir, 'no-such-runc') } }), /no-such-runc/);
  assertNothingLeft('nobin');
});

test('a hanging runc: start times out, the shim and runc are stopped, nothing is left', { skip }, async () => {
  const hang = fakeRunc('runc-hang', `case " $* " in *" run "*) exec sleep 60;; esac`);
  const before = worldProcesses();
  await assert.rejects(startTask(w.ctx, { id: 'hung', spec: w.spec('hung', ['true']), runcOptions: { binary: hang }, timeoutMs: 500 }), (e) => isCategory(e, 'failed-precondition') || isCategory(e, 'unavailable') || isCategory(e, 'internal'));
  assertNothingLeft('hung');
  await until(() => worldProcesses().filter((p) => !before.includes(p)).length === 0, 3000, 'no processes');
});

test('ctrx and its shim killed between create and start (tty: create + start)', { skip }, async () => {
  // This runc blocks in start, as if the machine froze there.
  const marker = path.join(w.dir, 'in-start');
  const slow = fakeRunc('runc-slow-start', `case " $* " in *" start "*) echo $$ > ${marker}; exec sleep 60;; esac`);
  const id = 'halfway';
  const driver = spawn(DRIVER[0]!, [...DRIVER.slice(1), JSON.stringify({
    op: 'start', ns: w.ns, root: w.root, state: w.state, config: path.join(w.dir, 'missing.toml'),
    opts: { id, spec: w.spec(id, ['sh'], { tty: true }), runcOptions: { binary: slow } },
  })], { stdio: 'ignore' });
  started.push(driver);
  await until(() => existsSync(marker) && readFileSync(marker, 'utf8').trim(), 10_000, 'runc start to be reached');
  const shim = JSON.parse(readFileSync(path.join(taskDir(id), 'shim.json'), 'utf8'));
  assert.equal((await taskStatus(w.ctx, id)).status, 'created');
  driver.kill('SIGKILL');
  // The shim and the runc it was running (not their process group: the waiting init is in it too).
  process.kill(shim.pid, 'SIGKILL');
  process.kill(Number(readFileSync(marker, 'utf8')), 'SIGKILL');
  await until(() => !isAlive(shim.pid, shim.startTime), 3000, 'shim death');

  // The shim held the pty master: with it closed the init, whose controlling terminal that was, got SIGHUP.
  const st = await until(async () => {
    const t = await taskStatus(w.ctx, id);
    return t.status === 'stopped' ? t : undefined;
  }, 3000, 'hung-up init');
  assert.equal(st!.supervised, false);
  assert.match(st!.note ?? '', /no exit status/);
  await deleteTask(w.ctx, id);
  assertNothingLeft(id);
});

test('a task left created (no tty): status created, unsupervised; rm refuses, rm -f cleans up', { skip }, async () => {
  // What a create + start flow leaves when killed in between: runc's container waiting for start, a dead supervisor.
  const id = 'created1';
  const dir = taskDir(id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(w.spec(id, ['sleep', '60'])));
  writeFileSync(path.join(dir, 'proc.json'), JSON.stringify({
    version: 1, kind: 'init', namespace: w.ns, id, runc: { binary: 'runc', root: w.runcRoot }, bundle: dir, tty: false, stdin: false,
    logPath: path.join(w.root, 'ctrx', w.ns, id, 'task.log'), attachSocket: path.join(w.state, 'ctrx', '_s', 'x.a'), createdAt: new Date().toISOString(),
  }));
  const gone = spawnSync('true');
  writeFileSync(path.join(dir, 'shim.json'), JSON.stringify({ pid: gone.pid, startTime: 1, kind: 'shim' }));
  assert.equal(spawnSync('runc', ['--root', w.runcRoot, 'create', '--bundle', dir, '--pid-file', path.join(dir, 'init.pid'), id], { stdio: 'ignore' }).status, 0);

  const st = await taskStatus(w.ctx, id);
  assert.equal(st.status, 'created');
  assert.equal(st.supervised, false);
  assert.match(st.note ?? '', /shim is gone/);
  const init = st.pid;
  assert.ok(isAlive(init));
  await assert.rejects(deleteTask(w.ctx, id), (e) => isCategory(e, 'failed-precondition'));
  await deleteTask(w.ctx, id, { force: true });
  assertNothingLeft(id);
  assert.equal(isAlive(init), false);
});

test('init killed right after create: start fails with runc\'s words, nothing left', { skip }, async () => {
  const killer = fakeRunc('runc-kill-init', `case " $* " in *" start "*)
  for a in "$@"; do id="$a"; done
  pid=$(runc --root ${w.runcRoot} state "$id" | sed -n 's/.*"pid": \\([0-9]*\\).*/\\1/p')
  kill -9 "$pid"; sleep 0.2;;
esac`);
  const id = 'stillborn';
  await assert.rejects(startTask(w.ctx, { id, spec: w.spec(id, ['sh'], { tty: true }), runcOptions: { binary: killer } }), (e: Error) => /stopped|not running|cannot start/i.test(e.message));
  assertNothingLeft(id);
});

test('an id that exists is refused; containerd\'s tasks are listed as containerd\'s and never deleted without force', { skip }, async () => {
  await startTask(w.ctx, { id: 'dup', spec: w.spec('dup', ['sleep', '60']) });
  await assert.rejects(startTask(w.ctx, { id: 'dup', spec: w.spec('dup', ['sleep', '60']) }), (e) => isCategory(e, 'already-exists'));
  await deleteTask(w.ctx, 'dup', { force: true });

  // A container created the way containerd's shim does: bundle under io.containerd.runtime.v2.task, same runc root.
  const cid = 'ctrd1';
  const bundle = path.join(w.dir, 'ctd', 'io.containerd.runtime.v2.task', w.ns, cid);
  mkdirSync(bundle, { recursive: true });
  writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(w.spec(cid, ['sleep', '60'])));
  const r = spawnSync('runc', ['--root', w.runcRoot, 'create', '--bundle', bundle, cid], { stdio: 'ignore' });
  assert.equal(r.status, 0);
  const row = (await listTasks(w.ctx)).find((t) => t.id === cid);
  assert.equal(row?.owner, 'containerd');
  assert.equal(row?.status, 'created');
  await assert.rejects(deleteTask(w.ctx, cid), (e) => isCategory(e, 'failed-precondition'));
  await assert.rejects(killTask(w.ctx, cid, 'SIGKILL'), (e) => isCategory(e, 'failed-precondition'));
  await assert.rejects(startTask(w.ctx, { id: cid, spec: w.spec(cid, ['true']) }), (e) => isCategory(e, 'already-exists'));
  assert.ok(w.runcIds().includes(cid), 'still there');
  await deleteTask(w.ctx, cid, { force: true });
  assert.ok(!w.runcIds().includes(cid));
  rmSync(path.join(w.dir, 'ctd'), { recursive: true });
});

test('closing the terminal (SIGHUP to the starter\'s process group) does not touch a detached task', { skip }, async () => {
  const id = 'hup';
  const driver = spawn(DRIVER[0]!, [...DRIVER.slice(1), JSON.stringify({
    op: 'start', ns: w.ns, root: w.root, state: w.state, config: path.join(w.dir, 'missing.toml'), hold: true,
    opts: { id, spec: w.spec(id, ['sleep', '60']) },
  })], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  started.push(driver);
  let out = '';
  driver.stdout!.on('data', (b: Buffer) => (out += b));
  await until(() => out.includes('RESULT'), 10_000, 'driver result');
  assert.match(out, /"ok":true/);
  process.kill(-driver.pid!, 'SIGHUP');
  await until(() => driver.exitCode !== null || driver.signalCode !== null, 3000, 'driver hangup');
  assert.equal(driver.signalCode, 'SIGHUP');
  await sleep(200);
  const st = await taskStatus(w.ctx, id);
  assert.equal(st.status, 'running');
  assert.equal(st.supervised, true);
  await deleteTask(w.ctx, id, { force: true });
  assertNothingLeft(id);
});

test('foreground: SIGTERM and SIGINT to ctrx reach the container; its status comes back', { skip }, async () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    const id = `fg${sig.toLowerCase()}`;
    const driver = spawn(DRIVER[0]!, [...DRIVER.slice(1), JSON.stringify({
      op: 'run', ns: w.ns, root: w.root, state: w.state, config: path.join(w.dir, 'missing.toml'),
      opts: { id, spec: w.spec(id, ['sh', '-c', `trap 'echo got-${sig}; exit 42' ${sig.slice(3)}; echo ready; sleep 60 & wait`]) },
    })], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(driver);
    let out = '';
    driver.stdout!.on('data', (b: Buffer) => (out += b));
    await until(() => out.includes('ready'), 10_000, 'container ready');
    driver.kill(sig);
    await until(() => out.includes('RESULT'), 10_000, 'driver result');
    assert.match(out, new RegExp(`got-${sig}`));
    const res = JSON.parse(out.slice(out.indexOf('RESULT ') + 7));
    assert.equal(res.ok, true, out);
    assert.equal(res.r.status, 42);
    assertNothingLeft(id);
  }
});

test('a full disk under the log: output is dropped, the task lives on, its exit is still recorded', { skip }, async () => {
  const small = path.join(w.dir, 'small');
  mkdirSync(small);
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]).status, 0);
  try {
    const id = 'diskfull';
    const logPath = path.join(small, 'task.log');
    await startTask(w.ctx, { id, io: { logPath }, spec: w.spec(id, ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo line-$i-padding-padding-padding; i=$((i+1)); done; exit 5']) });
    const exit = await waitTask(w.ctx, id);
    assert.equal(exit.status, 5, 'the task ran to its end although its log could not grow');
    assert.match(readFileSync(path.join(taskDir(id), 'shim.log'), 'utf8'), /log write failed.*ENOSPC|log write failed.*no space/i);
    await deleteTask(w.ctx, id);
  } finally {
    spawnSync('umount', [small]);
  }
  assertNothingLeft('diskfull');
});

test('the same id started by several callers at once: exactly one task, the others are told it exists', { skip }, async () => {
  const id = 'race';
  const specs = [1, 2, 3, 4].map((n) => w.spec(id, ['sh', '-c', `echo winner-${n}; sleep 60`]));
  const results = await Promise.allSettled(specs.map((spec) => startTask(w.ctx, { id, spec })));
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status === 'rejected' ? String(r.reason) : 'ok')));
  for (const r of results) if (r.status === 'rejected') assert.ok(isCategory(r.reason, 'already-exists'), String(r.reason));
  assert.deepEqual(w.runcIds().filter((x) => x === id), [id]);
  // The winner runs its own spec: no loser overwrote config.json.
  const n = results.findIndex((r) => r.status === 'fulfilled') + 1;
  await until(async () => {
    for await (const r of readLogs(w.ctx, id)) if (r.log === `winner-${n}\n`) return true;
    return false;
  }, 5000, 'the winner\'s output');
  await deleteTask(w.ctx, id, { force: true });
  assertNothingLeft(id);
});

test('ctrx SIGKILLed at random moments of a start: every outcome is an honest status and delete -f leaves nothing', { skip }, async (t) => {
  const outcomes: string[] = [];
  for (let i = 0; i < 8; i++) {
    const id = `rnd${i}`;
    const before = worldProcesses();
    const driver = spawn(DRIVER[0]!, [...DRIVER.slice(1), JSON.stringify({
      op: 'start', ns: w.ns, root: w.root, state: w.state, config: path.join(w.dir, 'missing.toml'),
      opts: { id, spec: w.spec(id, ['sleep', '60'], { tty: i % 2 === 1 }) },
    })], { stdio: 'ignore' });
    started.push(driver);
    // Spread the kills over the start (node boot, claim, fork, the shim's runc): 80–400 ms.
    await sleep(Math.floor(80 + (i / 8) * 320 + Math.random() * 40));
    driver.kill('SIGKILL');
    await until(() => driver.exitCode !== null || driver.signalCode !== null, 3000, 'driver death');
    await sleep(300); // a shim that was forked finishes its start meanwhile
    const st = await inspectTask(w.ctx, id);
    outcomes.push(st ? `${st.status}${st.supervised ? '' : '/unsupervised'}` : 'none');
    if (st) {
      assert.notEqual(st.status, 'unknown');
      if (st.status === 'running') assert.equal(st.supervised, true, 'a task that runs has its shim');
      await deleteTask(w.ctx, id, { force: true });
    }
    assertNothingLeft(id);
    await until(() => worldProcesses().filter((p) => !before.includes(p)).length === 0, 3000, 'no processes');
  }
  t.diagnostic(`outcomes: ${outcomes.join(', ')}`);
});

test('delete -f while the start is still under way (no runc container yet) leaves nothing', { skip }, async () => {
  // runc that takes its time before it creates anything.
  const slow = fakeRunc('runc-slow-run', `case " $* " in *" run "*) sleep 0.7;; esac`);
  const id = 'midstart';
  const before = worldProcesses();
  // Settled into a value at once: the rejection comes while this test is busy deleting.
  const starting = startTask(w.ctx, { id, spec: w.spec(id, ['sleep', '60']), runcOptions: { binary: slow } }).then(() => undefined, (e: unknown) => e);
  await until(() => existsSync(path.join(taskDir(id), 'shim.json')), 5000, 'the shim');
  const st = await taskStatus(w.ctx, id);
  assert.deepEqual([st.status, st.note], ['created', 'starting']);
  await assert.rejects(deleteTask(w.ctx, id), (e) => isCategory(e, 'failed-precondition'));
  await deleteTask(w.ctx, id, { force: true });
  const e = await starting;
  assert.ok(isCategory(e, 'unavailable') || isCategory(e, 'not-found') || isCategory(e, 'internal'), `the racing start failed: ${String(e)}`);
  assertNothingLeft(id);
  await until(() => worldProcesses().filter((p) => !before.includes(p)).length === 0, 3000, 'no processes');
});

test('foreground run with a failing runc: runc\'s error, the --rm cleanup still runs, nothing left', { skip }, async () => {
  const bad = fakeRunc('runc-fail-fg', `case " $* " in *" run "*)
  [ -n "$LOG" ] && echo '{"level":"error","msg":"fake runc: pivot_root: invalid argument","time":"2024-01-01T00:00:00Z"}' >> "$LOG"
  exit 1;;
esac`);
  let cleaned = 0;
  await assert.rejects(
    runForeground(w.ctx, { id: 'fgbad', spec: w.spec('fgbad', ['true']), runcOptions: { binary: bad }, stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' }, cleanup: () => void cleaned++ }),
    /fake runc: pivot_root/,
  );
  assert.equal(cleaned, 1);
  assertNothingLeft('fgbad');
  // The container's own exit 1 is a status, not a runc failure.
  const r = await runForeground(w.ctx, { id: 'fg1', spec: w.spec('fg1', ['sh', '-c', 'exit 1']), stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' }, cleanup: () => void cleaned++ });
  assert.equal(r.status, 1);
  assert.equal(cleaned, 2);
  assertNothingLeft('fg1');
});
