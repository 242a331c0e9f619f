/**
 * A private containerd pulling the fixtures from the test registries and
 * running them: proves the images are real images and the daemon rig cleans
 * up after itself. One containerd and two registries for the whole file.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { buildFixture, LAYERED } from '../../helpers/fixtures.js';
import { writeDockerArchive, writeOciArchive } from '../../helpers/oci.js';
import { isAlive, type ProcInfo } from '../../helpers/procs.js';
import { freePort, pushImage, startRegistry, type Registry } from '../../helpers/registry.js';
import { run, waitFor } from '../../helpers/run.js';
import { liveTempDirs, makeTempDir, mountsUnder, removeTempDir } from '../../helpers/tmp.js';
import { getXattr } from '../../helpers/xattr.js';

const creds = { user: 'puller', password: 'pull-pass-1' };
let cd: Containerd;
let open: Registry;
let secured: Registry;
// Every process the suite caused, checked dead at the end.
const seen = new Map<number, Pick<ProcInfo, 'pid' | 'startTime'> | number>();
// Where the host's /run/containerd would have shim sockets if the rig leaked them.
const shimSockets: string[] = [];

/** containerd 1.6 names a shim socket sha256(<daemon address>/<namespace>/<id>) under <state>/s. */
function shimSocketName(c: Containerd, id: string, ns = 'default'): string {
  return createHash('sha256').update(`${c.address}/${ns}/${id}`).digest('hex');
}

function remember(c: Containerd): void {
  const pid = c.pid();
  if (pid) seen.set(pid, pid);
  for (const s of c.shims()) seen.set(s.pid, s);
}

async function taskPid(c: Containerd, id: string): Promise<number> {
  const r = await c.ctrOk(['tasks', 'ls']);
  const line = r.stdout.split('\n').find((l) => l.split(/\s+/)[0] === id);
  assert.ok(line, `task ${id} listed:\n${r.stdout}`);
  return Number(line.split(/\s+/)[1]);
}

before(async () => {
  const [c, o, s, busybox, layered, redis] = await Promise.all([
    startContainerd(),
    startRegistry(),
    startRegistry({ auth: creds }),
    buildFixture('busybox'),
    buildFixture('layered', { style: 'docker' }),
    buildFixture('redis'),
  ]);
  cd = c;
  open = o;
  secured = s;
  remember(cd);
  await Promise.all([
    pushImage(open, 'library/busybox', 'latest', busybox),
    pushImage(open, 'library/layered', 'latest', layered),
    pushImage(open, 'library/redis', 'latest', redis),
    pushImage(secured, 'private/busybox', 'latest', busybox, creds),
  ]);
});

after(async () => {
  const dirs = cd ? [cd.root, cd.state, join(cd.address, '..')] : [];
  await Promise.all([cd?.stop(), open?.stop(), secured?.stop()]);
  for (const [pid, p] of seen) {
    const alive = typeof p === 'number' ? isAlive(pid) : isAlive(p.pid, p.startTime);
    assert.equal(alive, false, `process ${pid} survived`);
  }
  for (const d of dirs) {
    assert.deepEqual(mountsUnder(d), [], `mounts left under ${d}`);
    assert.equal(existsSync(d), false, `${d} left behind`);
  }
  assert.deepEqual(liveTempDirs(), []);
  for (const sock of shimSockets) assert.equal(existsSync(sock), false, `${sock} on the host`);
});

describe('containerd on a private root', () => {
  test('pulls busybox (OCI) from the open registry and runs it', async () => {
    const ref = `${open.host}/library/busybox:latest`;
    await cd.ctrOk(['images', 'pull', '--plain-http', ref]);
    const r = await cd.ctrOk(['run', '--rm', ref, 't1', 'echo', 'ok']);
    assert.equal(r.stdout, 'ok\n');
    const id = await cd.ctrOk(['run', '--rm', ref, 't2', 'id', 'app']);
    assert.equal(id.stdout, 'uid=1000(app) gid=1000(app) groups=1000(app),50(staff)\n');
  });

  test('pulls layered (Docker schema 2) and shows whiteout, opaque, hardlink, symlink, setuid, xattr, fifo', async () => {
    const ref = `${open.host}/library/layered:latest`;
    await cd.ctrOk(['images', 'pull', '--plain-http', ref]);
    const script = [
      `echo keep=$(cat ${LAYERED.kept})`,
      `test -e ${LAYERED.whitedOutFile} && echo gone=present || echo gone=absent`,
      `test -e ${LAYERED.whitedOutDir} && echo olddir=present || echo olddir=absent`,
      `echo opaque=$(ls -A ${LAYERED.opaqueDir} | tr '\\n' ,)`,
      `echo ino=$(stat -c %i ${LAYERED.hardlinks.join(' ')} | tr '\\n' ,)`,
      `echo nlink=$(stat -c %h ${LAYERED.hardlinks[0]})`,
      `echo symlink=$(readlink ${LAYERED.symlink.path})`,
      `echo suid=$(stat -c %a ${LAYERED.setuid.path})`,
      `test -p ${LAYERED.fifo} && echo fifo=yes || echo fifo=no`,
    ].join('; ');
    const r = await cd.ctrOk(['run', '--rm', ref, 't3', 'sh', '-c', script]);
    const got = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
    const [ino1, ino2] = got.ino!.split(',');
    assert.deepEqual(
      { ...got, ino: ino1 === ino2 && ino1 !== '' ? 'same' : got.ino },
      { keep: 'keep', gone: 'absent', olddir: 'absent', opaque: 'new.txt,', ino: 'same', nlink: '2', symlink: 'file1', suid: '4755', fifo: 'yes' },
    );
    // Busybox has no getfattr: read the xattr from the unpacked snapshot on the host.
    const snaps = join(cd.root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots');
    const withFile = readdirSync(snaps).map((id) => join(snaps, id, 'fs', LAYERED.xattr.path)).filter((p) => existsSync(p));
    assert.equal(withFile.length, 1);
    assert.equal(getXattr(withFile[0]!, LAYERED.xattr.name)?.toString(), LAYERED.xattr.value);
  });

  test('the htpasswd registry: pull works with -u and fails without', async () => {
    const ref = `${secured.host}/private/busybox:latest`;
    const denied = await cd.ctr(['images', 'pull', '--plain-http', ref]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /401|unauthorized/i);
    await cd.ctrOk(['images', 'pull', '--plain-http', '-u', `${creds.user}:${creds.password}`, ref]);
    const ls = await cd.ctrOk(['images', 'ls', '-q']);
    assert.ok(ls.stdout.split('\n').includes(ref));
  });

  test('redis runs detached on the host network and answers PING', async () => {
    const ref = `${open.host}/library/redis:latest`;
    await cd.ctrOk(['images', 'pull', '--plain-http', ref]);
    const port = String(await freePort());
    await cd.ctrOk(['run', '-d', '--net-host', ref, 'r1', 'redis-server', '--port', port, '--protected-mode', 'no']);
    remember(cd);
    // The shim socket lands in this instance's state dir, not in the host's /run/containerd.
    const sock = shimSocketName(cd, 'r1');
    assert.equal(existsSync(join(cd.state, 's', sock)), true);
    shimSockets.push(join('/run/containerd/s', sock));
    try {
      const pong = await waitFor('redis PONG', async () => {
        const r = await run('redis-cli', ['-p', port, 'ping'], { timeoutMs: 2000 });
        return r.stdout.trim() === 'PONG' && r.stdout;
      }, { timeoutMs: 15_000, intervalMs: 100 });
      assert.equal(pong.trim(), 'PONG');
      // The image's own redis-cli proves its libraries are complete.
      const inside = await cd.ctrOk(['tasks', 'exec', '--exec-id', 'cli', 'r1', 'redis-cli', '-p', port, 'ping']);
      assert.equal(inside.stdout.trim(), 'PONG');
      const cwd = await cd.ctrOk(['tasks', 'exec', '--exec-id', 'cwd', 'r1', 'pwd']);
      assert.equal(cwd.stdout.trim(), '/data');
    } finally {
      await cd.ctr(['tasks', 'kill', 'r1']);
      await waitFor('r1 stopped', async () => /STOPPED/.test((await cd.ctr(['tasks', 'ls'])).stdout), { timeoutMs: 10_000 });
      await cd.ctrOk(['tasks', 'rm', 'r1']);
      await cd.ctrOk(['containers', 'rm', 'r1']);
    }
  });

  test('imports the OCI and docker archives and runs them', async () => {
    const dir = makeTempDir();
    try {
      const multi = await buildFixture('busybox', { multiPlatform: true, compression: 'none' });
      await writeOciArchive(multi, join(dir, 'oci.tar'), { name: 'example.test/imported/oci:v1' });
      await writeDockerArchive(await buildFixture('layered'), join(dir, 'docker.tar'), ['imported/docker:v1']);
      await cd.ctrOk(['images', 'import', join(dir, 'oci.tar')]);
      await cd.ctrOk(['images', 'import', join(dir, 'docker.tar')]);
      const a = await cd.ctrOk(['run', '--rm', 'example.test/imported/oci:v1', 'i1', 'echo', 'oci']);
      const b = await cd.ctrOk(['run', '--rm', 'docker.io/imported/docker:v1', 'i2', 'cat', '/etc/layer3']);
      assert.deepEqual([a.stdout, b.stdout], ['oci\n', 'layer 3\n']);
    } finally {
      removeTempDir(dir);
    }
  });

  test('restart keeps images and reconnects to a running task', async () => {
    const ref = `${open.host}/library/busybox:latest`;
    await cd.ctrOk(['run', '-d', ref, 'keep', 'sleep', '300']);
    remember(cd);
    const pid = await taskPid(cd, 'keep');
    seen.set(pid, pid);
    const before = cd.pid();
    await cd.restart({ killShims: false });
    remember(cd);
    assert.notEqual(cd.pid(), before);
    assert.equal(isAlive(pid), true);
    assert.equal(await taskPid(cd, 'keep'), pid);
    assert.match((await cd.ctrOk(['tasks', 'ls'])).stdout, /keep\s+\d+\s+RUNNING/);
    assert.ok((await cd.ctrOk(['images', 'ls', '-q'])).stdout.includes(ref));
  });

  test('a second daemon on the same root and state sees the same images; its stop keeps the given dirs', async () => {
    await cd.stop({ keepDirs: true });
    assert.equal(cd.running(), false);
    const other = await startContainerd({ root: cd.root, state: cd.state });
    try {
      remember(other);
      const ls = await other.ctrOk(['images', 'ls', '-q']);
      assert.ok(ls.stdout.includes(`${open.host}/library/layered:latest`));
      const r = await other.ctrOk(['run', '--rm', `${open.host}/library/busybox:latest`, 't9', 'echo', 'again']);
      assert.equal(r.stdout, 'again\n');
    } finally {
      await other.stop();
    }
    assert.equal(existsSync(join(cd.root, 'io.containerd.metadata.v1.bolt', 'meta.db')), true);
    assert.equal(existsSync(join(other.address, '..')), false);
  });
});
