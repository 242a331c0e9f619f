/**
 * The job ctrx exists for — `ctrx run -d redis r1` — at the task level: a
 * redis image's layers unpacked, mounted at the bundle's rootfs as a
 * snapshot mount would be, the spec from the spec generator, a detached
 * task under the shim, redis answering, a graceful stop, and a delete that
 * unmounts the rootfs and leaves nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deleteTask, startTask, stopTask, taskBundleDir, taskStatus } from '../../../src/tasks/manager.js';
import { execInTask } from '../../../src/tasks/exec.js';
import { readLogs } from '../../../src/tasks/logs.js';
import { generateSpec } from '../../../src/containers/spec.js';
import { buildFixture, fixtureUnavailable } from '../../helpers/fixtures.js';
import { layerTars, platformImage } from '../../helpers/oci.js';
import { mountsUnder } from '../../helpers/tmp.js';
import { isAlive } from '../../helpers/procs.js';
import { makeWorld, runcAvailable, until, type World } from './rig.js';

const skip = runcAvailable() ?? fixtureUnavailable('redis');
let w: World;
before(async () => {
  if (!skip) w = await makeWorld('rds');
});
after(async () => {
  if (w) for (const m of mountsUnder(w.dir)) spawnSync('umount', ['-l', m.mountPoint]);
  w?.close();
});

test('run -d redis r1: a detached redis under the shim answers PING, stops on SIGTERM, delete unmounts and removes', { skip }, async (t) => {
  const image = await buildFixture('redis');
  const p = platformImage(image);
  const tree = path.join(w.dir, 'redis-tree');
  mkdirSync(tree);
  layerTars(image, p).forEach((tar, i) => {
    const f = path.join(w.dir, `layer${i}.tar`);
    writeFileSync(f, tar);
    assert.equal(spawnSync('tar', ['-xf', f, '-C', tree]).status, 0);
  });

  const id = 'r1';
  const bundle = taskBundleDir(w.ctx, id);
  const rootfs = path.join(bundle, 'rootfs');
  mkdirSync(rootfs);
  assert.equal(spawnSync('mount', ['--bind', tree, rootfs]).status, 0);
  const { spec } = generateSpec({ namespace: w.ns, id, image: p.config.config, rootfs });

  const t0 = Date.now();
  const info = await startTask(w.ctx, { id, spec });
  const startMs = Date.now() - t0;
  assert.equal(info.status, 'running');

  await until(async () => {
    for await (const r of readLogs(w.ctx, id)) if (/Ready to accept connections/.test(r.log)) return true;
    return false;
  }, 10_000, 'redis ready in the log');
  const ping = await execInTask(w.ctx, id, { args: ['redis-cli', 'ping'], stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' } });
  assert.equal(ping.stdout!.toString(), 'PONG\n');
  assert.equal((await taskStatus(w.ctx, id)).supervised, true);

  const exit = await stopTask(w.ctx, id, { timeoutMs: 10_000 });
  assert.equal(exit.status, 0, 'redis shuts down cleanly on SIGTERM');
  await deleteTask(w.ctx, id);
  assert.deepEqual(mountsUnder(w.dir), [], 'the rootfs mount is gone with the task');
  assert.equal(existsSync(bundle), false);
  assert.deepEqual(w.runcIds(), []);
  assert.equal(isAlive(info.pid), false);
  t.diagnostic(`startTask returned after ${startMs} ms (fork shim, runc run, pid file, runc state)`);
});
