import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CtrxError } from '../../../src/errdefs.js';
import { generateSpec, STOP_SIGNAL_LABEL, type SpecOptions } from '../../../src/containers/spec.js';
import { DEFAULT_PATH_ENV, defaultCaps, KNOWN_CAPS } from '../../../src/containers/spec-defaults.js';
import { capsFromBitmap } from '../../../src/containers/host-facts.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeTempDir));

const host = {
  hostname: () => 'the-host',
  currentCaps: () => ['CAP_CHOWN', 'CAP_SYS_ADMIN'],
  devices: () => [{ path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }],
};

function rootfs(): string {
  const d = makeTempDir('ctrx-spec-');
  dirs.push(d);
  mkdirSync(join(d, 'etc'));
  writeFileSync(join(d, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  writeFileSync(join(d, 'etc/group'), 'root:x:0:\nstaff:x:50:app\napp:x:1000:\n');
  return d;
}

const base = (o: Partial<SpecOptions> = {}): SpecOptions => ({
  namespace: 'default', id: 'c1', image: { Env: [DEFAULT_PATH_ENV], Cmd: ['sh'] }, host, ...o,
});

function invalid(o: Partial<SpecOptions>, category = 'invalid-argument'): void {
  assert.throws(() => generateSpec(base(o)), (e: unknown) => e instanceof CtrxError && e.category === category, JSON.stringify(o));
}

describe('defaults (containerd 1.6 populateDefaultUnixSpec + WithDefaultUnixDevices)', () => {
  const { spec } = generateSpec(base());
  test('process', () => {
    const p = spec.process!;
    assert.equal(spec.ociVersion, '1.0.2-dev');
    assert.deepEqual(p.user, { uid: 0, gid: 0, additionalGids: [0] });
    assert.deepEqual(p.args, ['sh']);
    assert.deepEqual(p.env, [DEFAULT_PATH_ENV]);
    assert.equal(p.cwd, '/');
    assert.equal(p.terminal, undefined);
    assert.equal(p.noNewPrivileges, true);
    assert.deepEqual(p.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    assert.equal(defaultCaps().length, 14);
    assert.deepEqual(p.capabilities, { bounding: defaultCaps(), effective: defaultCaps(), permitted: defaultCaps() });
  });
  test('linux', () => {
    const l = spec.linux!;
    assert.equal(l.cgroupsPath, '/default/c1');
    assert.deepEqual(l.namespaces!.map((n) => n.type), ['pid', 'ipc', 'uts', 'mount', 'network']);
    assert.deepEqual(l.resources!.devices![0], { allow: false, access: 'rwm' });
    assert.deepEqual(l.resources!.devices!.slice(1).map((d) => `${d.type} ${d.major}:${d.minor ?? '*'}`), [
      'c 1:3', 'c 1:8', 'c 1:7', 'c 5:0', 'c 1:5', 'c 1:9', 'c 5:1', 'c 136:*', 'c 5:2',
    ]);
    assert.deepEqual(l.resources!.cpu, { shares: 1024 });
    assert.equal(l.maskedPaths!.length, 10);
    assert.ok(l.readonlyPaths!.includes('/proc/sys'));
    assert.deepEqual(spec.mounts!.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/run']);
    assert.deepEqual(spec.root, { path: 'rootfs' });
    assert.equal(spec.hostname, undefined);
  });
});

describe('image config', () => {
  test('Env: the image over the default PATH, then --env-file, then --env; KEY alone unsets', () => {
    const d = makeTempDir('ctrx-envfile-');
    dirs.push(d);
    writeFileSync(join(d, 'env'), '# comment\r\nFROM_FILE=1\r\n\r\nB=file\n');
    const { spec } = generateSpec(base({
      image: { Env: ['PATH=/img', 'A=img', 'B=img', 'GONE=x'], Cmd: ['sh'] },
      envFile: join(d, 'env'),
      env: ['B=flag', 'GONE', 'NEW=1', 'NEW=2'],
    }));
    assert.deepEqual(spec.process!.env, ['PATH=/img', 'A=img', 'B=flag', 'FROM_FILE=1', 'NEW=2']);
  });

  test('env entries with NUL or an empty name are rejected', () => {
    invalid({ env: ['A=\0'] });
    invalid({ env: ['=x'] });
    invalid({ image: { Env: ['A=1\0'], Cmd: ['sh'] } });
  });

  test('args replace Cmd and keep the Entrypoint; entrypoint can be replaced', () => {
    const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
    assert.deepEqual(generateSpec(base({ image })).spec.process!.args, ['/entry', 'default']);
    assert.deepEqual(generateSpec(base({ image, args: ['x', 'y'] })).spec.process!.args, ['/entry', 'x', 'y']);
    assert.deepEqual(generateSpec(base({ image, entrypoint: [], args: ['x'] })).spec.process!.args, ['x']);
  });

  test('a hostile image config: wrong types are refused, not coerced', () => {
    for (const image of [{ Cmd: 'sh' }, { Cmd: [1] }, { Env: 'A=1', Cmd: ['sh'] }, { User: 0, Cmd: ['sh'] }, { WorkingDir: ['/'], Cmd: ['sh'] }, { Labels: ['x'], Cmd: ['sh'] }]) {
      invalid({ image: image as never });
    }
  });

  test('no Entrypoint, no Cmd, no args: a clear error', () => {
    invalid({ image: { Env: [] } });
    invalid({ image: { Entrypoint: null, Cmd: null } });
  });

  test('WorkingDir: empty is /, relative is taken from /; --cwd must be absolute', () => {
    assert.equal(generateSpec(base({ image: { Cmd: ['sh'], WorkingDir: '/data' } })).spec.process!.cwd, '/data');
    assert.equal(generateSpec(base({ image: { Cmd: ['sh'], WorkingDir: 'data' } })).spec.process!.cwd, '/data');
    assert.equal(generateSpec(base({ image: { Cmd: ['sh'], WorkingDir: '/data' }, cwd: '/tmp' })).spec.process!.cwd, '/tmp');
    invalid({ cwd: 'tmp' });
  });

  test('User from the image, --user overrides it; looked up in the rootfs', () => {
    const r = rootfs();
    const u1 = generateSpec(base({ rootfs: r, image: { Cmd: ['sh'], User: 'app' } })).spec.process!.user;
    assert.deepEqual(u1, { uid: 1000, gid: 1000, additionalGids: [1000, 50] });
    const u2 = generateSpec(base({ rootfs: r, image: { Cmd: ['sh'], User: 'app' }, user: '0:0' })).spec.process!.user;
    assert.deepEqual(u2, { uid: 0, gid: 0, additionalGids: [0] });
    invalid({ rootfs: r, user: '4294967296' });
    invalid({ rootfs: r, user: '-1' });
  });

  test('labels: stop signal (default SIGTERM), image labels without containerd.io/*, --label also as annotation', () => {
    const g = generateSpec(base({
      image: { Cmd: ['sh'], StopSignal: 'SIGQUIT', Labels: { 'containerd.io/gc.ref.content.x': 'sha256:x', keep: 'me', ['__proto__']: 'p' } },
      labels: { mine: 'yes' },
    }));
    assert.equal(g.labels[STOP_SIGNAL_LABEL], 'SIGQUIT');
    assert.equal(g.labels.keep, 'me');
    assert.equal(g.labels.mine, 'yes');
    assert.ok(!Object.keys(g.labels).some((k) => k.startsWith('containerd.io/')));
    assert.deepEqual(g.spec.annotations, { mine: 'yes' });
    assert.equal(generateSpec(base()).labels[STOP_SIGNAL_LABEL], 'SIGTERM');
    assert.deepEqual(generateSpec(base({ image: undefined, args: ['sh'] })).labels, {});
  });
});

describe('flags', () => {
  test('--net-host: no network namespace, host hosts/resolv.conf read-only, HOSTNAME', () => {
    const { spec } = generateSpec(base({ netHost: true }));
    assert.ok(!spec.linux!.namespaces!.some((n) => n.type === 'network'));
    assert.deepEqual(spec.mounts!.slice(-2), [
      { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
    ]);
    assert.deepEqual(spec.process!.env, [DEFAULT_PATH_ENV, 'HOSTNAME=the-host']);
  });

  test('--privileged: the caller\'s caps, no masked/readonly paths, rw sysfs, all devices', () => {
    const { spec } = generateSpec(base({ privileged: true }));
    assert.deepEqual(spec.process!.capabilities!.bounding, ['CAP_CHOWN', 'CAP_SYS_ADMIN']);
    assert.equal(spec.linux!.maskedPaths, undefined);
    assert.equal(spec.linux!.readonlyPaths, undefined);
    assert.deepEqual(spec.mounts!.find((m) => m.type === 'sysfs')!.options, ['nosuid', 'noexec', 'nodev', 'rw']);
    assert.deepEqual(spec.linux!.resources!.devices, [{ allow: true, access: 'rwm' }]);
    assert.equal(spec.linux!.devices!.length, 1);
  });

  test('--read-only, --tty, --hostname, --annotation, --mount', () => {
    const { spec } = generateSpec(base({
      readOnly: true, tty: true, hostname: 'box', annotations: { a: 'b' },
      mounts: [{ destination: '/data', type: 'bind', source: '/srv', options: ['ro'] }],
    }));
    assert.equal(spec.root!.readonly, true);
    assert.equal(spec.process!.terminal, true);
    assert.deepEqual(spec.process!.env, [DEFAULT_PATH_ENV, 'TERM=xterm']);
    assert.equal(spec.hostname, 'box');
    assert.deepEqual(spec.annotations, { a: 'b' });
    assert.deepEqual(spec.mounts!.at(-1), { destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'ro'] });
    invalid({ mounts: [{ destination: '../x', type: 'bind', source: '/srv' }] });
    invalid({ hostname: 'a/b' });
  });

  test('--cap-add/--cap-drop: with or without CAP_, any case, ALL', () => {
    const caps = (o: Partial<SpecOptions>) => generateSpec(base(o)).spec.process!.capabilities!;
    const c = caps({ capAdd: ['sys_admin', 'CAP_NET_ADMIN'], capDrop: ['net_raw', 'CAP_MKNOD'] });
    assert.ok(c.bounding!.includes('CAP_SYS_ADMIN') && c.bounding!.includes('CAP_NET_ADMIN'));
    assert.ok(!c.bounding!.includes('CAP_NET_RAW') && !c.effective!.includes('CAP_MKNOD') && !c.permitted!.includes('CAP_MKNOD'));
    assert.equal(c.bounding!.length, 14);
    assert.deepEqual(caps({ capDrop: ['ALL'], capAdd: ['chown'] }).bounding, ['CAP_CHOWN']);
    assert.deepEqual(caps({ capAdd: ['all'] }).bounding!.length, KNOWN_CAPS.length);
    invalid({ capAdd: ['CAP_NOPE'] });
    invalid({ capAdd: ['chown'], capDrop: ['CAP_CHOWN'] });
    invalid({ capAdd: ['ALL'], capDrop: ['ALL'] });
  });

  test('resources: memory, cpus, quota/period, shares, pids', () => {
    const r = (o: Partial<SpecOptions>) => generateSpec(base(o)).spec.linux!.resources!;
    assert.deepEqual(r({ memoryLimit: 64 << 20 }).memory, { limit: 67108864 });
    assert.deepEqual(r({ cpus: 1.5 }).cpu, { shares: 1024, quota: 150000, period: 100000 });
    assert.deepEqual(r({ cpuQuota: 50000, cpuPeriod: 100000, cpuShares: 512 }).cpu, { shares: 512, quota: 50000, period: 100000 });
    assert.deepEqual(r({ pidsLimit: 64 }).pids, { limit: 64 });
    for (const o of [{ memoryLimit: 0 }, { memoryLimit: -1 }, { memoryLimit: 1.5 }, { pidsLimit: 0 }, { cpus: 0 }, { cpus: Number.NaN }, { cpus: 1, cpuQuota: 50000 }]) {
      invalid(o);
    }
  });

  test('cgroups: --cgroup, "" disables, systemd needs slice:prefix:name', () => {
    assert.equal(generateSpec(base({ cgroup: '/mine/c1' })).spec.linux!.cgroupsPath, '/mine/c1');
    assert.equal(generateSpec(base({ cgroup: '' })).spec.linux!.cgroupsPath, undefined);
    assert.equal(generateSpec(base({ systemdCgroup: true, cgroup: 'system.slice:ctrx:c1' })).spec.linux!.cgroupsPath, 'system.slice:ctrx:c1');
    invalid({ systemdCgroup: true });
    invalid({ systemdCgroup: true, cgroup: '/a/b' });
    invalid({ cgroup: 'relative' });
    invalid({ cgroup: '/a/../../b' });
  });

  test('--allow-new-privs, --seccomp without a profile', () => {
    assert.ok(!generateSpec(base({ allowNewPrivileges: true })).spec.process!.noNewPrivileges);
    invalid({ seccomp: true }, 'not-implemented');
  });

  test('--seccomp-profile is read, bounded and checked', () => {
    const d = makeTempDir('ctrx-seccomp-');
    dirs.push(d);
    writeFileSync(join(d, 'ok.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] }));
    writeFileSync(join(d, 'bad.json'), '{"syscalls": [');
    assert.equal(generateSpec(base({ seccomp: true, seccompProfile: join(d, 'ok.json') })).spec.linux!.seccomp!.defaultAction, 'SCMP_ACT_ALLOW');
    invalid({ seccompProfile: join(d, 'bad.json') });
    invalid({ seccompProfile: join(d, 'missing.json') });
  });

  test('2 MB of arguments is refused before runc sees it', () => {
    invalid({ args: ['x'.repeat(200 * 1024)] });
    invalid({ args: Array.from({ length: 40 }, () => 'y'.repeat(60 * 1024)) });
    invalid({ args: ['a\0b'] });
  });
});

test('capsFromBitmap maps CapEff bits to names', () => {
  assert.deepEqual(capsFromBitmap('0000000000000001'), ['CAP_CHOWN']);
  assert.deepEqual(capsFromBitmap('0000000000200000'), ['CAP_SYS_ADMIN']);
  assert.equal(capsFromBitmap('000001ffffffffff').length, 41);
});
