/**
 * containerd's getting-started walkthrough, verbatim, with ctrx in place of
 * ctr and no daemon: pull redis:alpine from docker.io (here a loopback
 * registry configured as docker.io's mirror in a hosts.toml), create the
 * container, start its task detached, exec `ps aux` in it, kill, delete the
 * task, delete the container. Nothing may be left.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeWorld, skipReason, taskRow, until, type World } from './rig.js';

const skip = skipReason();
let w: World;
before(async () => {
  if (!skip) w = await makeWorld('wt', { ns: 'example' });
});
after(async () => {
  await w?.close();
});

test('ctr walkthrough with ctrx: pull, containers create, tasks start -d, tasks exec ps aux, kill, tasks rm, containers rm', { skip }, async () => {
  const hosts = readFileSync(path.join(w.hostsDir, 'docker.io', 'hosts.toml'), 'utf8');
  assert.match(hosts, new RegExp(`\\[host\\."${w.reg.url.replace(/\./g, '\\.')}"\\]`), hosts);

  const pull = await w.cx(['images', 'pull', 'docker.io/library/redis:alpine']);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout + pull.stderr, /docker\.io\/library\/redis:alpine/);
  const images = await w.ok(['images', 'ls', '-q']);
  assert.deepEqual(images.trim().split('\n'), ['docker.io/library/redis:alpine']);

  await w.ok(['containers', 'create', 'docker.io/library/redis:alpine', 'redis-server']);
  assert.match(await w.ok(['containers', 'ls']), /^redis-server\s+docker\.io\/library\/redis:alpine\s+io\.containerd\.runc\.v2/m);

  const start = await w.cx(['tasks', 'start', '-d', 'redis-server']);
  assert.equal(start.code, 0, start.stderr);
  assert.equal(start.stdout, '', 'tasks start -d prints nothing, as ctr');
  const row = taskRow(await w.ok(['tasks', 'ls']), 'redis-server');
  assert.equal(row?.[2], 'RUNNING', `tasks ls: ${row}`);

  const ps = await w.cx(['tasks', 'exec', '--exec-id', 'ps', 'redis-server', 'ps', 'aux']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^\s*1\s+root\s+redis-server/m, ps.stdout);
  assert.match(ps.stdout, /ps aux/);

  await w.ok(['tasks', 'kill', 'redis-server']);
  // SIGTERM: redis saves and exits; the shim records its status.
  await until(async () => taskRow(await w.ok(['tasks', 'ls']), 'redis-server')?.[2] === 'STOPPED', 10_000, 'task stopped');
  await w.ok(['tasks', 'rm', 'redis-server']);
  assert.equal(taskRow(await w.ok(['tasks', 'ls']), 'redis-server'), undefined);
  await w.ok(['containers', 'rm', 'redis-server']);

  assert.equal((await w.ok(['containers', 'ls', '-q'])).trim(), '');
  // The container's snapshot went with it; only the image's committed layers remain.
  const snaps = (await w.ok(['snapshots', 'ls'])).trim().split('\n').slice(1);
  assert.ok(snaps.every((l) => /Committed\s*$/.test(l)), snaps.join('\n'));
  assert.deepEqual(w.leftovers(), []);
  assert.equal(existsSync(path.join(w.root, 'ctrx', 'example', 'redis-server')), false, 'the log dir goes with the container');
});
