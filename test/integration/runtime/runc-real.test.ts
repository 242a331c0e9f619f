/**
 * ctrx's runc client and spec against the real runc (Debian's 1.1.5) on a
 * busybox bundle: foreground run, the create/start/state/exec/ps/pause/
 * resume/events/kill/delete cycle, and what the spec promises inside the
 * container (user, read-only root, network namespace). Everything lives in
 * temp dirs (runc --root, bundles, a private cgroup parent) and is deleted
 * with no container process or mount left behind.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CtrxError } from '../../../src/errdefs.js';
import { Runc } from '../../../src/runtime/runc/runc.js';
import type { RuncChild } from '../../../src/runtime/runc/types.js';
import type { SpecOptions } from '../../../src/containers/spec.js';
import { parseMountFlag } from '../../../src/containers/mounts.js';
import { makeTempDir, mountsUnder, removeTempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/run.js';
import { busyboxAvailable, runcAvailable, writeBundle } from './bundle.js';

const skip = runcAvailable() ?? busyboxAvailable();
const CG_PARENT = `ctrx-test-${process.pid}`;
const CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd'];

let base: string;
let runc: Runc;
const debug: string[] = [];
let seq = 0;

function bundle(opts: Partial<SpecOptions> & { args: string[] }): { id: string; dir: string } {
  const id = `c${++seq}`;
  const dir = join(base, id);
  writeBundle(dir, { namespace: 'ctrx-test', id, image: { Env: [], Cmd: [] }, cgroup: `/${CG_PARENT}/${id}`, ...opts });
  return { id, dir };
}

async function collect(child: RuncChild): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  const { status } = await child.wait();
  return { status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function runFg(opts: Partial<SpecOptions> & { args: string[] }) {
  const { id, dir } = bundle(opts);
  return collect(runc.run(id, { bundle: dir, stdio: { stdin: 'ignore' } }));
}

async function category(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'none';
  } catch (e) {
    assert.ok(e instanceof CtrxError, String(e));
    return e.category;
  }
}

describe('real runc', { skip }, () => {
  before(() => {
    base = makeTempDir('ctrx-runc-real-');
    runc = new Runc({ root: join(base, 'runc-root'), onDebug: (l) => debug.push(l), timeoutMs: 20_000 });
  });

  after(async () => {
    // Nothing may survive: containers force-deleted, cgroup parent removed, no mounts under the temp dir.
    const left = await runc.list().catch(() => []);
    for (const c of left) await runc.delete(c.id, { force: true }).catch(() => {});
    for (const ctl of CONTROLLERS) {
      const p = `/sys/fs/cgroup/${ctl}/${CG_PARENT}`;
      if (existsSync(p)) {
        try {
          rmdirSync(p);
        } catch {
          /* a controller that shares a hierarchy */
        }
      }
    }
    const mounts = mountsUnder(base);
    removeTempDir(base);
    assert.deepEqual(left.map((c) => c.id), [], 'tests left containers behind');
    assert.deepEqual(mounts.map((m) => m.mountPoint), [], 'mounts left under the temp dir');
  });

  test('run in the foreground: output captured, exit status propagated', async () => {
    const hi = await runFg({ args: ['echo', 'hi'] });
    assert.deepEqual(hi, { status: 0, stdout: 'hi\n', stderr: '' });
    const seven = await runFg({ args: ['sh', '-c', 'echo oops >&2; exit 7'] });
    assert.equal(seven.status, 7);
    assert.equal(seven.stderr, 'oops\n');
    assert.ok(debug.some((l) => / run --bundle /.test(l)), 'debug lines carry the command');
  });

  test("a command missing in the image is runc's error, not an exit status", async () => {
    const { id, dir } = bundle({ args: ['/no/such/binary'] });
    const child = runc.run(id, { bundle: dir, stdio: { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' } });
    await assert.rejects(child.wait(), (e: unknown) => e instanceof CtrxError && /no such file|not found/i.test(e.message));
  });

  test('create, start, state, ps, exec, pause/resume, events --stats, kill, delete', async () => {
    const { id, dir } = bundle({ args: ['sleep', '1000'] });
    await runc.create(id, { bundle: dir, pidFile: join(dir, 'init.pid') });
    try {
      const created = await runc.state(id);
      assert.equal(created.status, 'created');
      assert.equal(Number(readFileSync(join(dir, 'init.pid'), 'utf8')), created.pid);
      assert.equal(await category(runc.create(id, { bundle: dir })), 'already-exists');

      await runc.start(id);
      assert.equal((await runc.state(id)).status, 'running');
      assert.ok((await runc.list()).some((c) => c.id === id && c.status === 'running'));
      assert.deepEqual(await runc.ps(id), [created.pid]);

      const proc = { user: { uid: 0, gid: 0 }, args: ['sh', '-c', 'echo exec-ok; cat /proc/1/cmdline | tr "\\0" " "'], env: ['PATH=/bin'], cwd: '/' };
      const ex = await collect(runc.execForeground(id, proc, { stdio: { stdin: 'ignore' } }));
      assert.deepEqual(ex, { status: 0, stdout: 'exec-ok\nsleep 1000 ', stderr: '' });

      await runc.exec(id, { ...proc, args: ['sleep', '999'] }, { pidFile: join(dir, 'exec.pid') });
      const execPid = Number(readFileSync(join(dir, 'exec.pid'), 'utf8'));
      assert.deepEqual((await runc.ps(id)).sort(), [created.pid, execPid].sort());

      await runc.pause(id);
      assert.equal((await runc.state(id)).status, 'paused');
      assert.equal(await category(runc.pause(id)), 'failed-precondition');
      await runc.resume(id);
      assert.equal((await runc.state(id)).status, 'running');

      const stats = await runc.stats(id);
      assert.equal(stats.id, id);
      assert.equal(stats.data.pids?.current, 2);
      assert.ok((stats.data.memory?.usage?.usage ?? 0) > 0);

      await runc.update(id, { pids: { limit: 50 } });
      assert.equal((await runc.stats(id)).data.pids?.limit, 50);

      assert.equal(await category(runc.delete(id)), 'failed-precondition');
      await runc.kill(id, 'SIGKILL', { all: true });
      await waitFor('container stopped', async () => (await runc.state(id)).status === 'stopped');
      assert.ok(!existsSync(`/proc/${created.pid}`) || readFileSync(`/proc/${created.pid}/stat`, 'utf8').includes(') Z'));
      assert.ok(!existsSync(`/proc/${execPid}`));
      await runc.delete(id);
      assert.equal(await category(runc.state(id)), 'not-found');
    } finally {
      await runc.delete(id, { force: true }).catch(() => {});
    }
  });

  test('a user from the image\'s /etc/passwd takes effect, with its supplementary groups', async () => {
    const r = await runFg({ args: ['sh', '-c', 'id -u; id -g; id -G'], image: { User: 'app', Cmd: [] } });
    assert.deepEqual(r, { status: 0, stdout: '1000\n1000\n1000 50\n', stderr: '' });
    const numeric = await runFg({ args: ['id', '-u'], user: '4242:4242' });
    assert.equal(numeric.stdout, '4242\n');
  });

  test('--read-only: writing to the rootfs fails; without it, it works', async () => {
    const r = await runFg({ args: ['touch', '/x'], readOnly: true });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Read-only file system/);
    const rw = await runFg({ args: ['touch', '/x'] });
    assert.equal(rw.status, 0);
  });

  test('default network namespace has only lo; --net-host sees the host\'s interfaces', async () => {
    const ifaces = (text: string) => text.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();
    const own = await runFg({ args: ['cat', '/proc/net/dev'] });
    assert.deepEqual(ifaces(own.stdout), ['lo']);
    const hostIfaces = ifaces(readFileSync('/proc/net/dev', 'utf8'));
    const hostNet = await runFg({ args: ['cat', '/proc/net/dev'], netHost: true });
    assert.deepEqual(ifaces(hostNet.stdout), hostIfaces);
    assert.ok(hostIfaces.length > 1, 'host has more than lo');
  });

  test('capabilities and limits from the spec reach the process', async () => {
    const r = await runFg({ args: ['sh', '-c', 'grep CapEff /proc/self/status; ulimit -n'], capDrop: ['ALL'], capAdd: ['chown'] });
    assert.equal(r.stdout, 'CapEff:\t0000000000000001\n1024\n');
  });

  test('memory, pids and cpu limits land in the container\'s cgroup', async () => {
    const { id, dir } = bundle({ args: ['sleep', '1000'], memoryLimit: 64 * 1024 * 1024, pidsLimit: 20, cpus: 0.5 });
    await runc.create(id, { bundle: dir });
    try {
      const cg = (ctl: string, file: string) => readFileSync(`/sys/fs/cgroup/${ctl}/${CG_PARENT}/${id}/${file}`, 'utf8').trim();
      assert.equal(cg('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
      assert.equal(cg('pids', 'pids.max'), '20');
      assert.equal(cg('cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(cg('cpu', 'cpu.shares'), '1024');
    } finally {
      await runc.delete(id, { force: true });
    }
  });

  test('--mount: a bind without rbind (ctr would fail with ENODEV), read-only; a tmpfs without source', async () => {
    const src = join(base, 'shared');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'from host\n');
    const r = await runFg({
      args: ['sh', '-c', 'cat /data/f; grep " /scratch " /proc/mounts | cut -d" " -f3; touch /data/g'],
      mounts: [parseMountFlag(`type=bind,src=${src},dst=/data,options=ro`), parseMountFlag('type=tmpfs,dst=/scratch,options=size=1m')],
    });
    assert.equal(r.stdout, 'from host\ntmpfs\n');
    assert.notEqual(r.status, 0);
    assert.ok(!existsSync(join(src, 'g')));
  });

  test('no container is left in runc\'s root', async () => {
    assert.deepEqual(await runc.list(), []);
    assert.deepEqual(readdirSync(join(base, 'runc-root')), []);
  });
});
