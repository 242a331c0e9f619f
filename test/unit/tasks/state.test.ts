import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveTask, ownerOfBundle, type ProcFiles } from '../../../src/tasks/state.js';
import type { ProcConfig, SupervisorRecord } from '../../../src/shim/layout.js';
import type { RuncState } from '../../../src/runtime/runc/types.js';

const proc: ProcConfig = {
  version: 1, kind: 'init', namespace: 'default', id: 'a', runc: { binary: 'runc', root: '/r' }, bundle: '/b', tty: false, stdin: false,
  logPath: '/l', attachSocket: '/s', createdAt: '2024-01-01T00:00:00Z',
};
const shim: SupervisorRecord = { pid: 100, startTime: 5, kind: 'shim' };
const runc = (status: RuncState['status'], pid = 200, bundle = '/b'): RuncState => ({ ociVersion: '1.0.2', id: 'a', pid, status, bundle, rootfs: '/b/rootfs', created: 'x' });
const files = (f: Partial<ProcFiles>): ProcFiles => ({ dir: '/d', proc, supervisor: shim, ...f });
const alive = () => true;
const dead = () => false;

test('runc is the truth while it has the container; a dead supervisor is said, not hidden', () => {
  const t = deriveTask('a', 'default', files({ start: { ok: true, pid: 200 } }), runc('running'), alive)!;
  assert.deepEqual([t.status, t.pid, t.supervised, t.note, t.owner], ['running', 200, true, undefined, 'ctrx']);
  const u = deriveTask('a', 'default', files({ start: { ok: true, pid: 200 } }), runc('running'), dead)!;
  assert.deepEqual([u.status, u.supervised], ['running', false]);
  assert.match(u.note!, /shim is gone.*kill and rm -f still work/);
  assert.equal(deriveTask('a', 'default', files({}), runc('paused'), alive)!.status, 'paused');
  assert.equal(deriveTask('a', 'default', files({}), runc('creating'), dead)!.status, 'created');
  assert.equal(deriveTask('a', 'default', files({}), runc('created'), dead)!.status, 'created');
});

test('the exit file makes a task stopped with its status', () => {
  const t = deriveTask('a', 'default', files({ start: { ok: true, pid: 200 }, exit: { status: 143, signal: 'SIGTERM', exitedAt: 'x' } }), undefined, dead)!;
  assert.deepEqual([t.status, t.pid, t.exit?.status, t.note], ['stopped', 0, 143, undefined]);
});

test('no runc container and no exit file: starting, recording, or unknown — never running', () => {
  const starting = deriveTask('a', 'default', files({}), undefined, alive)!;
  assert.deepEqual([starting.status, starting.note], ['created', 'starting']);
  const recording = deriveTask('a', 'default', files({ start: { ok: true, pid: 200 } }), undefined, alive)!;
  assert.equal(recording.status, 'stopped');
  assert.match(recording.note!, /recording the exit status/);
  const lost = deriveTask('a', 'default', files({ start: { ok: true, pid: 200 } }), undefined, dead)!;
  assert.deepEqual([lost.status, lost.exit], ['stopped', undefined]);
  assert.match(lost.note!, /no exit status was recorded/);
  const failed = deriveTask('a', 'default', files({ start: { ok: false, error: 'boom' } }), undefined, dead)!;
  assert.match(failed.note!, /failed to start: boom/);
  // runc keeps a stopped container (killed init, tty path before delete): stopped too.
  assert.equal(deriveTask('a', 'default', files({ start: { ok: true } }), runc('stopped', 0), dead)!.status, 'stopped');
});

test('a prepared bundle dir without proc.json is no task; nothing at all is no task', () => {
  assert.equal(deriveTask('a', 'default', { dir: '/d' }, undefined, dead), undefined);
  assert.equal(deriveTask('a', 'default', undefined, undefined, dead), undefined);
});

test('tasks without a ctrx dir belong to containerd (bundle under its task dir) or to runc', () => {
  const c = deriveTask('a', 'default', undefined, runc('running', 300, '/run/containerd/io.containerd.runtime.v2.task/default/a'), dead)!;
  assert.deepEqual([c.owner, c.status, c.pid, c.supervised], ['containerd', 'running', 300, undefined]);
  assert.equal(deriveTask('a', 'default', undefined, runc('running', 300, '/srv/bundle'), dead)!.owner, 'runc');
  assert.equal(ownerOfBundle('/run/containerd/io.containerd.runtime.v1.linux/ns/x'), 'containerd');
  assert.equal(ownerOfBundle('/x/io.containerd.runtime.v2.taskish/y'), 'runc');
});
