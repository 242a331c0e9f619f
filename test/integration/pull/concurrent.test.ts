// Several `ctrx images pull` of the same image at once, released together
// through a FIFO: each succeeds (they take turns on the databases and wait
// for each other's ingests) and the result is one image record, blobs that
// re-hash to their names, and one consistent snapshot chain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants as C, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildFixture } from '../../helpers/fixtures.js';
import { pushImage, startRegistry, type Registry } from '../../helpers/registry.js';
import { ctrxBin, sleep, waitFor } from '../../helpers/run.js';
import { assertConsistent, blobFiles, ingestDirs, newBox, skipReason, type Box } from './_world.js';

const skip = skipReason();
let reg: Registry;
const boxes: Box[] = [];
const box = () => {
  const b = newBox();
  boxes.push(b);
  return b;
};

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  await pushImage(reg, 'library/redis', 'latest', await buildFixture('redis'));
  await pushImage(reg, 'library/layered', 'latest', await buildFixture('layered'));
}, { timeout: 120_000 });

after(async () => {
  await reg?.stop();
  for (const b of boxes) b.remove();
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts n pulls blocked on a FIFO, releases them at once, returns their outcomes. */
async function together(b: Box, n: number, args: string[]): Promise<Outcome[]> {
  const fifo = join(b.dir, `go-${Date.now()}`);
  spawnSync('mkfifo', [fifo]);
  const [cmd, ...pre] = ctrxBin();
  const procs = Array.from({ length: n }, () => {
    const child = spawn('sh', ['-c', 'read x < "$0" && exec "$@"', fifo, cmd!, ...pre, '--root', b.root, '--state', b.state, '-c', join(b.dir, 'none.toml'), ...args], {
      env: { ...process.env, DOCKER_CONFIG: b.dockerConfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { code: null as number | null, stdout: '', stderr: '' };
    child.stdout!.on('data', (c: Buffer) => (out.stdout += c));
    child.stderr!.on('data', (c: Buffer) => (out.stderr += c));
    const done = new Promise<Outcome>((r) => child.once('close', (code) => r({ ...out, code })));
    return { child, done };
  });
  const killer = setTimeout(() => procs.forEach((p) => p.child.kill('SIGKILL')), 90_000);
  try {
    // the writer end opens once a reader waits; keep it open until every shell has read its line and exec'd
    await sleep(100);
    const fd = await waitFor('a reader on the FIFO', () => {
      try {
        return openSync(fifo, C.O_WRONLY | C.O_NONBLOCK) + 1;
      } catch {
        return 0;
      }
    }).then((x) => x - 1);
    writeSync(fd, 'go\n'.repeat(n));
    await waitFor('every pull released', () =>
      procs.every((p) => p.child.exitCode !== null || !/^sh\0/.test(safeRead(`/proc/${p.child.pid}/cmdline`))),
    );
    closeSync(fd);
    return await Promise.all(procs.map((p) => p.done));
  } finally {
    clearTimeout(killer);
  }
}

const safeRead = (f: string) => {
  try {
    return readFileSync(f, 'latin1');
  } catch {
    return '';
  }
};

function assertOneImage(b: Box, names: string[]): void {
  const st = assertConsistent(b.root, 'after concurrent pulls');
  assert.deepEqual(st.images.map((i) => i.name).sort(), [...names].sort(), 'one record per image');
  assert.deepEqual(st.leases, [], 'every pull dropped its lease');
  assert.deepEqual(st.ingests, []);
  assert.deepEqual(ingestDirs(b.root), []);
  const keys = (st.snapshots.overlayfs ?? []).map((s) => s.key);
  assert.equal(new Set(keys).size, keys.length);
  for (const k of keys) assert.match(k, /^sha256:/, 'only committed chain snapshots');
  for (const d of st.blobs.keys()) assert.ok(blobFiles(b.root).includes(d));
}

test('two pulls of the same image released together both succeed; one record, blobs and snapshots consistent', { skip, timeout: 120_000 }, async () => {
  const b = box();
  const redis = `${reg.host}/library/redis:latest`;
  const layered = `${reg.host}/library/layered:latest`;
  for (const ref of [redis, layered]) {
    const outs = await together(b, 2, ['images', 'pull', ref]);
    for (const o of outs) assert.equal(o.code, 0, `a pull of ${ref} failed: ${o.stderr}`);
    assertOneImage(b, ref === redis ? [redis] : [redis, layered]);
  }
  assert.equal(assertConsistent(b.root).snapshots.overlayfs!.length, 4, 'busybox ← redis, busybox ← lower ← upper');
});

test('three pulls into a fresh root at once, native snapshotter', { skip, timeout: 120_000 }, async () => {
  const b = box();
  const layered = `${reg.host}/library/layered:latest`;
  const outs = await together(b, 3, ['images', 'pull', '--snapshotter', 'native', layered]);
  for (const o of outs) assert.equal(o.code, 0, o.stderr);
  const st = assertConsistent(b.root);
  assert.deepEqual(st.images.map((i) => i.name), [layered]);
  assert.equal(st.snapshots.native!.length, 3);
  assert.deepEqual(st.leases, []);
});

test('pulls SIGKILLed at random moments leave consistent state; a final pull completes', { skip, timeout: 120_000 }, async () => {
  const b = box();
  const refs = [`${reg.host}/library/redis:latest`, `${reg.host}/library/layered:latest`];
  const [cmd, ...pre] = ctrxBin();
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) {
    const delay = 150 + Math.floor(Math.random() * 1200);
    delays.push(delay);
    const child = spawn(cmd!, [...pre, '--root', b.root, '--state', b.state, '-c', join(b.dir, 'none.toml'), 'images', 'pull', refs[i % 2]!], {
      env: { ...process.env, DOCKER_CONFIG: b.dockerConfig },
      stdio: 'ignore',
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await sleep(delay);
    child.kill('SIGKILL');
    await exited;
    assertConsistent(b.root, `killed after ${delay} ms (delays so far ${delays.join(', ')})`, { afterKill: true });
  }
  for (const ref of refs) await b.xOk(['images', 'pull', ref]);
  const st = assertConsistent(b.root, 'after the final pulls', { afterKill: true });
  assert.deepEqual(st.images.map((i) => i.name).sort(), [...refs].sort());
  const check = await b.xOk(['images', 'check']);
  assert.equal(check.stdout.match(/complete \(\d+\/\d+\)/g)?.length, 2, check.stdout);
  assert.equal(check.stdout.match(/ true$/gm)?.length, 2, check.stdout);
});
