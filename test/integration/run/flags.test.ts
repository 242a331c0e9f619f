/**
 * ctr's container flags, checked where they matter: inside the running
 * container (and in its cgroup on the host), not in the generated spec.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cgroupDirs } from '../../helpers/procs.js';
import { makeWorld, skipReason, taskRow, type World } from './rig.js';

const skip = skipReason();
let w: World;
before(async () => {
  if (skip) return;
  w = await makeWorld('fl');
  await w.ok(['images', 'pull', 'busybox']);
});
afterEach(async () => {
  await w?.reset();
});
after(async () => {
  await w?.close();
});

async function runRm(flags: string[], script: string): Promise<string> {
  const r = await w.cx(['run', '--rm', ...flags, 'busybox', 'f', 'sh', '-c', script]);
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Capability sets from /proc/self/status as bigints. */
function caps(out: string): Record<string, bigint> {
  const o: Record<string, bigint> = {};
  for (const m of out.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm)) o[m[1]!] = BigInt(`0x${m[2]}`);
  return o;
}
const CAP_CHOWN = 1n << 0n;
const CAP_SYS_ADMIN = 1n << 21n;

test('--env, --env-file, --cwd, -u app (from the image\'s /etc/passwd), --hostname', { skip }, async () => {
  const envFile = path.join(w.dir, 'env.list');
  writeFileSync(envFile, 'FROM_FILE=1\nSPACED=two words\n');
  const out = await runRm(
    ['--env', 'X=y', '--env', 'Z=last=wins', '--env-file', envFile, '--cwd', '/home/app', '-u', 'app', '--hostname', 'box1'],
    'echo "X=$X Z=$Z FROM_FILE=$FROM_FILE SPACED=$SPACED"; pwd; id; hostname; echo "PATH=$PATH"',
  );
  const [env, cwd, id, host, p] = out.trimEnd().split('\n');
  assert.equal(env, 'X=y Z=last=wins FROM_FILE=1 SPACED=two words');
  assert.equal(cwd, '/home/app');
  assert.equal(id, 'uid=1000(app) gid=1000(app) groups=50(staff),1000(app)', 'uid, gid and supplementary groups from the image');
  assert.equal(host, 'box1');
  assert.match(p!, /^PATH=\/usr\/local\/sbin:/, "the image's env stays");
  // uid:gid given numerically
  assert.equal((await runRm(['-u', '1000:50'], 'id -u; id -g')).trim(), '1000\n50');
});

test('--read-only, bind mounts ro and rw, a tmpfs mount', { skip }, async () => {
  const ro = path.join(w.dir, 'ro-src');
  const rw = path.join(w.dir, 'rw-src');
  mkdirSync(ro);
  mkdirSync(rw);
  writeFileSync(path.join(ro, 'f'), 'from the host\n');
  const out = await runRm(
    ['--read-only', '--mount', `type=bind,src=${ro},dst=/data,options=rbind:ro`, '--mount', `type=bind,src=${rw},dst=/out,options=rbind:rw`, '--mount', 'type=tmpfs,dst=/scratch'],
    'touch /rootfile 2>/dev/null; echo root=$?; cat /data/f; touch /data/g 2>/dev/null; echo data=$?; echo written > /out/w; echo out=$?; touch /scratch/s; echo scratch=$?; grep " /scratch " /proc/mounts | cut -d" " -f3',
  );
  assert.equal(out, 'root=1\nfrom the host\ndata=1\nout=0\nscratch=0\ntmpfs\n');
  assert.equal(readFileSync(path.join(rw, 'w'), 'utf8'), 'written\n', 'the rw bind writes through to the host');
  assert.deepEqual(readdirSync(ro), ['f']);
});

test('--memory-limit and --pids-limit are in the task\'s cgroup and enforced; --net-host or only loopback', { skip }, async () => {
  const limit = 64 * 1024 * 1024;
  await w.ok(['run', '-d', '--memory-limit', String(limit), '--pids-limit', '6', 'busybox', 'lim', 'sleep', '600']);
  try {
    const pid = Number(taskRow(await w.ok(['tasks', 'ls']), 'lim')![1]);
    const dirs = cgroupDirs(pid);
    const read = (file: string): string | undefined => {
      for (const d of dirs) if (existsSync(path.join(d, file))) return readFileSync(path.join(d, file), 'utf8').trim();
      return undefined;
    };
    assert.equal(read('memory.limit_in_bytes') ?? read('memory.max'), String(limit));
    assert.equal(read('pids.max'), '6');
    const m = JSON.parse(await w.ok(['tasks', 'metrics', '--format', 'json', 'lim'])) as { memory: { limit?: number }; pids: { limit?: number } };
    assert.equal(m.memory.limit, limit);
    assert.equal(m.pids.limit, 6);
    // The pids limit bites: the 7th process cannot be forked.
    const ex = await w.cx(['tasks', 'exec', 'lim', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 30 & done 2>&1; echo done']);
    assert.match(ex.stdout + ex.stderr, /can't fork|Resource temporarily unavailable/, ex.stdout + ex.stderr);
  } finally {
    await w.ok(['containers', 'rm', '-f', 'lim']);
  }
  assert.equal((await runRm([], 'ls /sys/class/net')).trim(), 'lo', 'without --net-host: loopback only');
  const hostIfs = readdirSync('/sys/class/net').sort();
  assert.deepEqual((await runRm(['--net-host'], 'ls /sys/class/net')).trim().split(/\s+/).sort(), hostIfs);
});

test('--cap-drop ALL leaves no capability; --privileged has them all, host devices, and may mount', { skip }, async () => {
  const def = caps(await runRm([], 'grep Cap /proc/self/status'));
  assert.ok(def.CapEff! & CAP_CHOWN && !(def.CapEff! & CAP_SYS_ADMIN), 'default set: chown, no sys_admin');
  const none = await runRm(['--cap-drop', 'ALL'], 'grep Cap /proc/self/status; chown 1 /tmp 2>/dev/null; echo chown=$?');
  const c = caps(none);
  assert.equal(c.CapEff, 0n);
  assert.equal(c.CapBnd, 0n);
  assert.match(none, /chown=1/);
  const priv = await runRm(['--privileged'], 'grep Cap /proc/self/status; mkdir -p /mnt/t && mount -t tmpfs t /mnt/t && echo mounted; ls /dev | wc -l');
  assert.ok(caps(priv).CapEff! & CAP_SYS_ADMIN);
  assert.match(priv, /^mounted$/m);
  const devs = Number(priv.trim().split('\n').at(-1));
  const plain = Number((await runRm([], 'ls /dev | wc -l')).trim());
  assert.ok(devs > plain, `privileged sees the host's devices (${devs} vs ${plain})`);
});

test('containers create with flags: --label in containers info, the spec carries the flags, tasks start runs them', { skip }, async () => {
  await w.ok(['containers', 'create', '--label', 'org.example.team=infra', '--env', 'WHO=created', '--cwd', '/tmp', 'busybox', 'made', 'sh', '-c', 'echo $WHO in $(pwd)']);
  const info = JSON.parse(await w.ok(['containers', 'info', 'made'])) as { Labels: Record<string, string>; Spec: { process: { args: string[]; env: string[]; cwd: string } } };
  assert.equal(info.Labels['org.example.team'], 'infra');
  assert.deepEqual(info.Spec.process.args, ['sh', '-c', 'echo $WHO in $(pwd)']);
  assert.ok(info.Spec.process.env.includes('WHO=created'));
  const r = await w.cx(['tasks', 'start', 'made']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'created in /tmp\n');
  await w.ok(['containers', 'rm', 'made']);
  assert.deepEqual(w.leftovers(), []);
});

test('flags after the image and id belong to the container command', { skip }, async () => {
  // -c would be ctrx's --config, --env and -u ctrx's flags, if ctrx read them.
  const r = await w.cx(['run', '--rm', 'busybox', 't1', 'echo', '-c', '--env', 'X=1', '-u', 'app']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '-c --env X=1 -u app\n');
  const l = await w.cx(['run', '--rm', 'busybox', 't1', 'ls', '-d', '/etc']);
  assert.equal(l.stdout, '/etc\n', '-d is ls\'s, not ctrx run\'s --detach');
  assert.equal((await w.ok(['containers', 'ls', '-q'])).trim(), '');
  assert.deepEqual(w.leftovers(), []);
});
