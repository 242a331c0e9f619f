/**
 * Honest status from the command line when the world around a task breaks:
 * its shim SIGKILLed, ctrx's state wiped as by a reboot, the terminal that
 * started it closed. Never a stale RUNNING, never a container that cannot
 * be removed, nothing left behind.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ctrxBin } from '../../helpers/run.js';
import { descendants, isAlive, procInfo, signalIfSame, waitGone } from '../../helpers/procs.js';
import { guardedRemove, mountsUnder, unmountUnder } from '../../helpers/tmp.js';
import { makeWorld, skipReason, taskRow, until, type World } from './rig.js';

const skip = skipReason();
let w: World;
before(async () => {
  if (skip) return;
  w = await makeWorld('st');
  await w.ok(['images', 'pull', 'busybox']);
});
afterEach(async () => {
  await w?.reset();
});
after(async () => {
  await w?.close();
});

const taskDir = (id: string): string => path.join(w.state, 'ctrx', w.ns, id);
const shimOf = (id: string): { pid: number; startTime: number } => JSON.parse(readFileSync(path.join(taskDir(id), 'shim.json'), 'utf8'));
const psRow = async (id: string): Promise<string> => (await w.ok(['ps'])).split('\n').find((l) => l.startsWith(`${id} `)) ?? '';

async function lsJson(id: string): Promise<{ status: string; supervised: boolean | null; owner: string; note: string | null; pid: number } | undefined> {
  return (JSON.parse(await w.ok(['tasks', 'ls', '--format', 'json'])) as Array<{ id: string; status: string; supervised: boolean | null; owner: string; note: string | null; pid: number }>).find((t) => t.id === id);
}

/** SIGKILLs a detached task's whole tree as a crash or reboot would: shim, runc, the container. */
async function killTree(id: string): Promise<void> {
  const s = shimOf(id);
  const shim = procInfo(s.pid)!;
  assert.equal(shim.startTime, s.startTime);
  const tree = [shim, ...descendants(s.pid)];
  for (const p of tree) signalIfSame(p, 'SIGKILL');
  assert.deepEqual(await waitGone(tree, 5000), []);
}

test('shim SIGKILLed while the task runs: listed as running but unsupervised, rm refuses, rm -f cleans up', { skip }, async () => {
  await w.ok(['run', '-d', 'busybox', 'orphan', 'sleep', '600']);
  const s = shimOf('orphan');
  const init = Number(taskRow(await w.ok(['tasks', 'ls']), 'orphan')![1]);
  assert.ok(signalIfSame({ pid: s.pid, startTime: s.startTime }, 'SIGKILL'));
  assert.deepEqual(await waitGone([s], 5000), []);
  assert.ok(isAlive(init), 'the container outlives its shim');

  assert.deepEqual(taskRow(await w.ok(['tasks', 'ls']), 'orphan'), ['orphan', String(init), 'RUNNING', '(unsupervised)']);
  const j = (await lsJson('orphan'))!;
  assert.equal(j.supervised, false);
  assert.match(j.note ?? '', /shim is gone/);
  assert.match(await psRow('orphan'), /running \(unsupervised\)/);

  const rm = await w.cx(['containers', 'rm', 'orphan']);
  assert.equal(rm.code, 6, rm.stderr);
  assert.ok(isAlive(init));
  await w.ok(['containers', 'rm', '-f', 'orphan']);
  assert.equal(isAlive(init), false);
  assert.equal((await w.ok(['containers', 'ls', '-q'])).trim(), '');
  assert.deepEqual(w.leftovers(), []);
});

test("ctrx's state dir wiped under a live task (runc's record kept): still ctrx's task, unsupervised; rm -f kills and removes", { skip }, async () => {
  await w.ok(['run', '-d', 'busybox', 'wiped', 'sleep', '600']);
  const s = shimOf('wiped');
  signalIfSame(s, 'SIGKILL');
  await waitGone([s], 5000);
  unmountUnder(taskDir('wiped'));
  guardedRemove(path.join(w.state, 'ctrx'));
  const row = taskRow(await w.ok(['tasks', 'ls']), 'wiped');
  assert.deepEqual(row?.slice(2), ['RUNNING', '(unsupervised)'], `not runc's nor containerd's: ${row}`);
  assert.equal((await lsJson('wiped'))?.owner, 'ctrx');
  assert.equal((await w.cx(['containers', 'rm', 'wiped'])).code, 6);
  await w.ok(['containers', 'rm', '-f', 'wiped']);
  assert.deepEqual(w.runcIds(), []);
  assert.deepEqual(w.leftovers(), []);
});

test('reboot (tasks killed, rootfs unmounted, <state>/ctrx removed): no stale RUNNING; containers rm works and leaves nothing', { skip }, async () => {
  await w.ok(['run', '-d', 'busybox', 'boot1', 'sleep', '600']);
  await w.ok(['run', '-d', 'busybox', 'boot2', 'sleep', '600']);
  await killTree('boot1');
  await killTree('boot2');
  unmountUnder(path.join(w.state, 'ctrx'));
  guardedRemove(path.join(w.state, 'ctrx'));

  // runc's root survived here: it knows boot1 only as a stopped container.
  for (const id of ['boot1', 'boot2']) {
    const row = taskRow(await w.ok(['tasks', 'ls']), id);
    assert.deepEqual(row?.slice(1), ['0', 'STOPPED'], `${id}: ${row}`);
    assert.match(await psRow(id), /stopped/);
  }
  await w.ok(['containers', 'rm', 'boot1']);
  assert.deepEqual(w.runcIds(), ['boot2']);

  // A real reboot also empties runc's root (both live under a tmpfs /run): the container has no task at all.
  rmSync(w.runcRoot(), { recursive: true, force: true });
  assert.equal(taskRow(await w.ok(['tasks', 'ls']), 'boot2'), undefined);
  assert.match(await psRow('boot2'), /^boot2\s+\S+\s+created\s+-/);
  // Its snapshot is intact: the container runs again, then goes.
  await w.ok(['tasks', 'start', '-d', 'boot2']);
  assert.equal(taskRow(await w.ok(['tasks', 'ls']), 'boot2')?.[2], 'RUNNING');
  await w.ok(['containers', 'rm', '-f', 'boot2']);
  assert.equal((await w.ok(['containers', 'ls', '-q'])).trim(), '');
  assert.deepEqual(mountsUnder(w.dir), []);
  assert.deepEqual(w.leftovers(), []);
});

test('closing the terminal does not touch a detached task: SIGHUP to the starting process group, and a tmux pane killed', { skip }, async () => {
  const cx = [...ctrxBin(), ...w.g()].map((a) => `'${a}'`).join(' ');
  // A shell in its own process group starts the task, then lingers as a terminal's shell would.
  const sh = spawn('sh', ['-c', `${cx} run -d busybox hup1 sleep 600 && echo started; sleep 60`], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  sh.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  sh.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const gone = new Promise<string | null>((r) => sh.on('exit', (_c, sig) => r(sig)));
  await until(() => out.includes('started'), 20_000, 'run -d in the shell').catch((e) => {
    process.kill(-sh.pid!, 'SIGKILL');
    throw new Error(`${(e as Error).message}: ${out}`);
  });
  process.kill(-sh.pid!, 'SIGHUP');
  assert.equal(await gone, 'SIGHUP');

  const tmux = spawnSync('tmux', ['-V']).status === 0;
  if (tmux) {
    const sock = path.join(w.dir, 'tmux-hup.sock');
    const t = (...a: string[]) => spawnSync('tmux', ['-S', sock, ...a], { encoding: 'utf8' });
    assert.equal(t('new-session', '-d', '-s', 'hup', `${cx} run -d busybox hup2 sleep 600; echo started; sleep 60`).status, 0);
    try {
      await until(() => /started/.test(t('capture-pane', '-p', '-t', 'hup').stdout), 20_000, 'run -d in tmux');
    } finally {
      t('kill-server');
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  for (const id of tmux ? ['hup1', 'hup2'] : ['hup1']) {
    const row = taskRow(await w.ok(['tasks', 'ls']), id);
    assert.deepEqual(row?.slice(2), ['RUNNING'], `${id}: ${row}`);
    assert.ok(isAlive(shimOf(id).pid, shimOf(id).startTime), `${id}'s shim survived`);
    await w.ok(['stop', '-t', '0', id]);
    assert.equal((await w.cx(['wait', id])).stdout, '137\n', 'the status was still recorded by the shim');
    await w.ok(['containers', 'rm', id]);
  }
  assert.deepEqual(w.leftovers(), []);
});
