/**
 * ctrx and containerd on the same root and state, one after the other and
 * side by side: containerd lists ctrx's containers with their specs, runs
 * them, keeps their snapshots through its GC and leaves ctrx's running task
 * alone; ctrx lists containerd's task (from the shared runc root) as
 * containerd's and refuses to delete or signal it unless forced, and
 * refuses to write while the daemon holds meta.db.
 *
 * The rig runs containerd in a private mount namespace with /run/containerd
 * bound to the state dir, so its shims use runc's root `<state>/runc/<ns>`:
 * the same directory ctrx's tasks use and `ctrx tasks ls` reads.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { makeWorld, skipReason, taskRow, until, type World } from './rig.js';

const skip = skipReason();
let w: World;
let cd: Containerd | undefined;
before(async () => {
  if (!skip) w = await makeWorld('io');
});
after(async () => {
  await cd?.stop().catch(() => {});
  await w?.close();
});

test('containerd on ctrx\'s root: lists, inspects and runs ctrx\'s containers, its GC keeps their snapshots; ctrx sees its task as containerd\'s', { skip }, async () => {
  // ctrx, no daemon: an image, a created container, and a running one.
  await w.ok(['images', 'pull', 'busybox']);
  await w.ok(['containers', 'create', '--label', 'made-by=ctrx', '--hostname', 'byctrx', 'busybox', 'byctrx', 'sh', '-c', 'echo hello from $(hostname)']);
  await w.ok(['run', '-d', 'busybox', 'live', 'sleep', '600']);
  const livePid = Number(taskRow(await w.ok(['tasks', 'ls']), 'live')![1]);
  // Held by nothing: proof below that containerd's GC ran.
  await w.ok(['snapshots', 'prepare', 'unreferenced']);
  await w.ok(['snapshots', 'label', 'unreferenced', 'containerd.io/gc.root=']);

  cd = await startContainerd({ root: w.root, state: w.state });
  const ctr = (args: string[]) => cd!.ctr(args, { namespace: w.ns });
  const ctrOk = (args: string[]) => cd!.ctrOk(args, { namespace: w.ns });

  const cls = (await ctrOk(['containers', 'ls'])).stdout;
  assert.match(cls, /^byctrx\s+docker\.io\/library\/busybox:latest\s+io\.containerd\.runc\.v2\s*$/m, cls);
  assert.match(cls, /^live\s+/m);
  const info = JSON.parse((await ctrOk(['containers', 'info', 'byctrx'])).stdout) as { Labels: Record<string, string>; Spec: { process: { args: string[] }; hostname?: string } };
  assert.equal(info.Labels['made-by'], 'ctrx');
  assert.deepEqual(info.Spec.process.args, ['sh', '-c', 'echo hello from $(hostname)']);

  // containerd's startup left ctrx's task alone.
  assert.equal(taskRow(await w.ok(['tasks', 'ls']), 'live')?.[2], 'RUNNING');
  assert.ok(existsSync(path.join(w.state, 'ctrx', w.ns, 'live', 'shim.json')));

  // containerd runs the container ctrx created.
  const run = await ctr(['tasks', 'start', 'byctrx']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'hello from byctrx');
  assert.doesNotMatch((await ctrOk(['tasks', 'ls'])).stdout, /byctrx/, 'ctr deletes a foreground task itself');

  // A GC pass (a lease deleted synchronously) keeps the snapshots ctrx's records hold.
  await ctrOk(['leases', 'create', '--id', 'gc-trigger']);
  await ctrOk(['leases', 'rm', '--sync', 'gc-trigger']);
  const snaps = (await ctrOk(['snapshots', 'ls'])).stdout;
  assert.doesNotMatch(snaps, /^unreferenced\s/m, 'the GC ran and removed what nothing holds');
  assert.match(snaps, /^byctrx\s+sha256:\S+\s+Active/m, snaps);
  assert.match(snaps, /^live\s+sha256:\S+\s+Active/m, snaps);

  // containerd's own task, seen through the shared runc root.
  await ctrOk(['run', '-d', 'docker.io/library/busybox:latest', 'bycd', 'sleep', '600']);
  assert.ok(existsSync(path.join(w.state, 'runc', w.ns, 'bycd')), "containerd's runc state lands in <state>/runc/<ns>");
  const row = taskRow(await w.ok(['tasks', 'ls']), 'bycd');
  assert.deepEqual(row?.slice(2), ['RUNNING', '(containerd)'], String(row));
  const j = (JSON.parse(await w.ok(['tasks', 'ls', '--format', 'json'])) as Array<{ id: string; owner: string }>).find((t) => t.id === 'bycd');
  assert.equal(j?.owner, 'containerd');
  for (const verb of [['tasks', 'rm'], ['tasks', 'kill'], ['tasks', 'pause']]) {
    const r = await w.cx([...verb, 'bycd']);
    assert.equal(r.code, 6, `${verb.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /containerd's; refusing to/);
  }
  assert.equal((await ctrOk(['tasks', 'ls'])).stdout.match(/^bycd\s+\d+\s+RUNNING/m)?.length, 1, 'still running for containerd');

  // The daemon holds meta.db: ctrx refuses to write, and says why.
  const locked = await w.cx(['run', '--rm', 'busybox', 'nope', 'true']);
  assert.equal(locked.code, 7, locked.stderr);
  assert.match(locked.stderr, /locked by .*containerd.*ctrx cannot write while the daemon runs/);

  // Forced, ctrx signals it through runc; containerd's shim records the exit.
  await w.ok(['tasks', 'kill', '-f', '-s', 'SIGKILL', 'bycd']);
  await until(async () => /^bycd\s+\d+\s+STOPPED/m.test((await ctr(['tasks', 'ls'])).stdout), 10_000, 'containerd sees its task stopped');
  await ctrOk(['tasks', 'rm', 'bycd']);
  await ctrOk(['containers', 'rm', 'bycd']);

  // ctrx's own task still stops and deletes (no meta.db write) while the daemon runs.
  await w.ok(['stop', '-t', '0', 'live']);
  await w.ok(['tasks', 'rm', 'live']);
  assert.equal(existsSync(`/proc/${livePid}`), false);
  await cd.stop();
  cd = undefined;

  // The daemon gone, the snapshot it kept still runs with ctrx.
  const again = await w.cx(['tasks', 'start', 'byctrx']);
  assert.equal(again.stdout.trim(), 'hello from byctrx', again.stderr);
  await w.ok(['containers', 'rm', 'byctrx', 'live']);
  assert.equal((await w.ok(['containers', 'ls', '-q'])).trim(), '');
  assert.deepEqual(w.leftovers(), []);
});
