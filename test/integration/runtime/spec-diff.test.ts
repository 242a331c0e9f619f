/**
 * Differential test: ctrx's generated spec against containerd 1.6's own.
 *
 *  1. `ctr oci spec` (needs no daemon) against ctrx's default spec;
 *  2. for each set of flags, the spec containerd stores in the container
 *     record for `ctr c create <flags> busybox <id>` (`ctr c info --spec`)
 *     against generateSpec() with the same options, on the same image
 *     (the rig's busybox fixture, plus variants whose config sets User,
 *     since ctr 1.6 has no --user flag).
 *
 * Whole specs are compared (namespaces, mounts, masked/readonly paths,
 * capabilities, rlimits, devices, env, args, cwd, user, cgroupsPath,
 * resources, annotations). DELIBERATE lists every difference ctrx makes on
 * purpose; a case that hits one says so, and anything else must be equal.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateSpec, type SpecOptions } from '../../../src/containers/spec.js';
import { defaultSpec } from '../../../src/containers/spec-defaults.js';
import { parseMountFlag } from '../../../src/containers/mounts.js';
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { buildFixture, fixtureUnavailable } from '../../helpers/fixtures.js';
import { assembleImage, layerTars, platformImage, writeOciArchive, type ContainerConfig } from '../../helpers/oci.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { runcAvailable } from './bundle.js';

/**
 * Differences from containerd 1.6.20's `ctr` that ctrx makes on purpose.
 * None of them shows up in the cases below except where a case names it.
 */
export const DELIBERATE = {
  argsKeepEntrypoint: 'ctr: args after the id replace Entrypoint and Cmd; ctrx: they replace Cmd only (docker run), --entrypoint replaces the Entrypoint',
  bindGetsRbind: 'ctr: a bind --mount without bind/rbind is passed on and runc fails with ENODEV (containerd#2831); ctrx adds rbind',
  relativeWorkingDir: 'ctr: a relative image WorkingDir reaches runc, which refuses it; ctrx takes it relative to /',
  envUnset: 'ctr: --env KEY (no "=") is dropped; ctrx unsets KEY from the image env',
  envDuplicates: 'ctr: the same --env name twice is appended twice; ctrx keeps the later value once',
  capNames: 'ctr: --cap-add/--cap-drop need the CAP_ prefix; ctrx takes any case, with or without CAP_, and ALL',
  emptyCommand: 'ctr: no Entrypoint/Cmd/args reaches runc ("args must not be empty"); ctrx refuses it first',
  idRange: 'ctr 1.6.20: uid/gid "-1" or 4294967296 wrap to 4294967295/0 (CVE-2024-40635); ctrx refuses ids outside [0, 2^31-1]',
  userUidGidGroups: 'ctr 1.7 --user uid:gid looks up supplementary groups of a user literally named "uid:gid" (none); ctrx uses the passwd entry of uid, as containerd does for an image User',
  rootfsPath: 'ctr --rootfs without an image leaves PATH unset; ctrx sets the default PATH',
  seccompDefault: "ctr --seccomp applies containerd's built-in profile; ctrx needs --seccomp-profile (not implemented without it)",
} as const;

const skip = runcAvailable() ?? fixtureUnavailable('busybox') ?? (spawnSync('ctr', ['--version']).status === 0 ? undefined : 'ctr missing');

type Json = Record<string, unknown>;
const roundTrip = (v: unknown): Json => JSON.parse(JSON.stringify(v)) as Json;

let cd: Containerd;
let work: string;
let rootfs: string;
let baseConfig: ContainerConfig;
let seq = 0;

const BUSYBOX = 'example.test/ctrx/busybox:latest';
// A namespace of our own: its cgroup parents (/<ns>/<id>) are ours to remove afterwards.
const NS = `ctrxdiff${process.pid}`;
const CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd'];
const VARIANTS: Record<string, Partial<ContainerConfig>> = {
  'example.test/ctrx/busybox-uid:latest': { User: '1000:1000' },
  'example.test/ctrx/busybox-app:latest': { User: 'app' },
  'example.test/ctrx/busybox-app-staff:latest': { User: 'app:staff' },
  'example.test/ctrx/busybox-wd:latest': { WorkingDir: '/home/app', Env: ['PATH=/bin', 'FROM_IMAGE=1'], StopSignal: 'SIGQUIT' },
};

/**
 * The spec containerd stores for `ctr run --null-io` (the task runs and
 * exits; a task that cannot start still leaves the record), or for
 * `ctr c create`, which lacks run's --cpus/--cpu-shares (so no cpu.shares).
 */
async function containerdSpec(ref: string, flags: string[], args: string[] = [], via: 'run' | 'create' = 'run'): Promise<{ id: string; spec: Json }> {
  const id = `diff${++seq}`;
  if (via === 'run') await cd.ctr(['run', '--null-io', ...flags, ref, id, ...args], { timeoutMs: 30_000, namespace: NS });
  else await cd.ctrOk(['containers', 'create', ...flags, ref, id, ...args], { namespace: NS });
  const r = await cd.ctrOk(['containers', 'info', '--spec', id], { namespace: NS });
  await cd.ctrOk(['containers', 'rm', id], { namespace: NS });
  return { id, spec: JSON.parse(r.stdout) as Json };
}

function ctrxSpec(id: string, ref: string, o: Partial<SpecOptions>): Json {
  const config = { ...baseConfig, ...(VARIANTS[ref] ?? {}) };
  return roundTrip(generateSpec({ namespace: NS, id, image: config, rootfs, ...o }).spec);
}

interface Case {
  name: string;
  ref?: string;
  flags: string[];
  args?: string[];
  opts: Partial<SpecOptions>;
  via?: 'run' | 'create';
}

describe('spec differential against containerd 1.6', { skip }, () => {
  before(async () => {
    work = makeTempDir('ctrx-spec-diff-');
    const [c, busybox] = await Promise.all([startContainerd(), buildFixture('busybox')]);
    cd = c;
    baseConfig = platformImage(busybox).config.config;
    const tar = layerTars(busybox)[0]!;
    rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(work, 'layer.tar'), tar);
    execFileSync('tar', ['-x', '-f', join(work, 'layer.tar'), '-C', rootfs]);
    const images: Array<[string, ReturnType<typeof assembleImage>]> = [[BUSYBOX, busybox]];
    for (const [ref, extra] of Object.entries(VARIANTS)) {
      images.push([ref, assembleImage({ layers: [{ tar }], config: { ...baseConfig, ...extra } })]);
    }
    for (const [ref, img] of images) {
      const file = join(work, `${seq++}.tar`);
      await writeOciArchive(img, file, { name: ref });
      await cd.ctrOk(['images', 'import', file], { namespace: NS });
    }
    mkdirSync(join(work, 'shared'));
  });

  after(async () => {
    await cd?.stop();
    if (work) removeTempDir(work);
    for (const ctl of CONTROLLERS) {
      try {
        rmdirSync(`/sys/fs/cgroup/${ctl}/${NS}`);
      } catch {
        /* never created for this controller */
      }
    }
  });

  test('`ctr oci spec` (no daemon) equals ctrx\'s default spec before the device allow-list', async () => {
    const r = spawnSync('ctr', ['--address', join(work, 'no-daemon.sock'), 'oci', 'spec'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const mine = defaultSpec('default', '');
    // `ctr oci spec` is populateDefaultUnixSpec alone: WithDefaultUnixDevices is ctr run's.
    mine.linux!.resources!.devices = mine.linux!.resources!.devices!.slice(0, 1);
    assert.deepEqual(roundTrip(mine), JSON.parse(r.stdout));
  });

  const cases: Case[] = [
    { name: 'default', flags: [], opts: {} },
    { name: 'command after the id', flags: [], args: ['echo', 'hi'], opts: { args: ['echo', 'hi'] } },
    { name: '--net-host', flags: ['--net-host'], opts: { netHost: true } },
    { name: '--privileged', flags: ['--privileged'], opts: { privileged: true } },
    { name: '--read-only', flags: ['--read-only'], opts: { readOnly: true } },
    { name: 'image User 1000:1000 (ctr 1.6 has no --user)', ref: 'example.test/ctrx/busybox-uid:latest', flags: [], opts: {} },
    { name: 'image User app (supplementary group staff)', ref: 'example.test/ctrx/busybox-app:latest', flags: [], opts: {} },
    { name: 'image User app:staff', ref: 'example.test/ctrx/busybox-app-staff:latest', flags: [], opts: {} },
    { name: 'image WorkingDir and Env, --env over them', ref: 'example.test/ctrx/busybox-wd:latest', flags: ['--env', 'FROM_IMAGE=2', '--env', 'A=1'], opts: { env: ['FROM_IMAGE=2', 'A=1'] } },
    { name: '--env A=1', flags: ['--env', 'A=1'], opts: { env: ['A=1'] } },
    { name: '--cwd /tmp', flags: ['--cwd', '/tmp'], opts: { cwd: '/tmp' } },
    { name: '--mount bind rbind:ro', flags: ['--mount', 'type=bind,src=SHARED,dst=/data,options=rbind:ro'], opts: { mounts: ['type=bind,src=SHARED,dst=/data,options=rbind:ro'] as never } },
    { name: '--mount tmpfs', flags: ['--mount', 'type=tmpfs,dst=/scratch,options=size=1m'], opts: { mounts: ['type=tmpfs,dst=/scratch,options=size=1m'] as never } },
    { name: '--memory-limit', flags: ['--memory-limit', '67108864'], opts: { memoryLimit: 67108864 } },
    { name: '--cap-add/--cap-drop', flags: ['--cap-add', 'CAP_SYS_ADMIN', '--cap-drop', 'CAP_NET_RAW'], opts: { capAdd: ['CAP_SYS_ADMIN'], capDrop: ['CAP_NET_RAW'] } },
    { name: '--cpus, --cpu-shares', flags: ['--cpus', '0.5', '--cpu-shares', '512'], opts: { cpus: 0.5, cpuShares: 512 } },
    // ctr run --tty needs a terminal: created instead, without run's cpu shares.
    { name: '--tty, --annotation, --label (ctr c create)', via: 'create', flags: ['--tty', '--annotation', 'a=b', '--label', 'l=v'], opts: { tty: true, annotations: { a: 'b' }, labels: { l: 'v' }, cpuShares: 0 } },
    { name: '--allow-new-privs, --cgroup', flags: ['--allow-new-privs', '--cgroup', '/custom/x'], opts: { allowNewPrivileges: true, cgroup: '/custom/x' } },
    {
      name: 'everything at once',
      flags: ['--net-host', '--read-only', '--env', 'A=1', '--cwd', '/tmp', '--memory-limit', '33554432', '--cap-drop', 'CAP_MKNOD', '--mount', 'type=bind,src=SHARED,dst=/d,options=rbind'],
      args: ['sh', '-c', 'true'],
      opts: { netHost: true, readOnly: true, env: ['A=1'], cwd: '/tmp', memoryLimit: 33554432, capDrop: ['CAP_MKNOD'], mounts: ['type=bind,src=SHARED,dst=/d,options=rbind'] as never, args: ['sh', '-c', 'true'] },
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const shared = join(work, 'shared');
      const flags = c.flags.map((f) => f.replace('SHARED', shared));
      const ref = c.ref ?? BUSYBOX;
      const { id, spec: theirs } = await containerdSpec(ref, flags, c.args, c.via);
      const opts = { ...c.opts };
      if (opts.mounts) opts.mounts = (opts.mounts as unknown as string[]).map((m) => parseMountFlag(m.replace('SHARED', shared)));
      const mine = ctrxSpec(id, ref, opts);
      assert.deepEqual(mine, theirs);
    });
  }

  test('container labels: the image stop signal (default SIGTERM) and --label, as ctr records them', async () => {
    for (const ref of [BUSYBOX, 'example.test/ctrx/busybox-wd:latest']) {
      const id = `diff${++seq}`;
      await cd.ctr(['run', '--null-io', '--label', 'l=v', ref, id], { timeoutMs: 30_000, namespace: NS });
      const info = JSON.parse((await cd.ctrOk(['containers', 'info', id], { namespace: NS })).stdout) as { Labels: Record<string, string> };
      await cd.ctrOk(['containers', 'rm', id], { namespace: NS });
      const config = { ...baseConfig, ...(VARIANTS[ref] ?? {}) };
      const { labels } = generateSpec({ namespace: NS, id, image: config, rootfs, labels: { l: 'v' } });
      assert.deepEqual(labels, info.Labels);
    }
  });

  test('deliberate difference: a bind --mount without rbind (ctr keeps it and runc fails with ENODEV)', async () => {
    const shared = join(work, 'shared');
    const { id, spec: theirs } = await containerdSpec(BUSYBOX, ['--mount', `type=bind,src=${shared},dst=/data,options=ro`]);
    const mine = ctrxSpec(id, BUSYBOX, { mounts: [parseMountFlag(`type=bind,src=${shared},dst=/data,options=ro`)] });
    const last = (s: Json) => (s.mounts as Json[]).at(-1);
    assert.deepEqual(last(theirs), { destination: '/data', type: 'bind', source: shared, options: ['ro'] });
    assert.deepEqual(last(mine), { destination: '/data', type: 'bind', source: shared, options: ['rbind', 'ro'] });
    (last(mine) as Json).options = ['ro'];
    assert.deepEqual(mine, theirs, DELIBERATE.bindGetsRbind);
  });

  test('deliberate difference: --env KEY unsets the image\'s KEY (ctr drops the entry)', async () => {
    const ref = 'example.test/ctrx/busybox-wd:latest';
    const { id, spec: theirs } = await containerdSpec(ref, ['--env', 'FROM_IMAGE']);
    const mine = ctrxSpec(id, ref, { env: ['FROM_IMAGE'] });
    assert.deepEqual((theirs.process as Json).env, ['PATH=/bin', 'FROM_IMAGE=1']);
    assert.deepEqual((mine.process as Json).env, ['PATH=/bin']);
    (mine.process as Json).env = (theirs.process as Json).env;
    assert.deepEqual(mine, theirs, DELIBERATE.envUnset);
  });
});
