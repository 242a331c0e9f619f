/**
 * The store across processes: a writer SIGKILLed mid-write resumes from what
 * reached the disk; N processes writing the same ref (or the same bytes under
 * different refs) end with exactly one commit and blobs that re-hash to their
 * names; a full disk keeps the ingest for a resume and puts nothing in blobs/.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { ContentStore } from '../../../src/content/local-store.js';
import { digestOf } from '../../../src/digest.js';
import { CtrxError } from '../../../src/errdefs.js';
import { cleanupTempDirs, makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { pattern } from './writer-child.js';

after(() => cleanupTempDirs());

const CHILD = fileURLToPath(new URL('./writer-child.js', import.meta.url));

interface Outcome {
  outcome: 'committed' | 'exists' | 'in-use' | 'error';
  message?: string;
  digest?: string;
  category?: string;
  hint?: string;
  at?: string;
}

function startChild(args: object, wrap: string[] = []): { pid: number; done: Promise<{ out: Outcome | undefined; signal: NodeJS.Signals | null }>; kill(): void } {
  const deno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
  const argv = [...wrap, process.execPath, ...(deno ? ['run', '-A', '--quiet'] : []), CHILD, JSON.stringify(args)];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  const done = new Promise<{ out: Outcome | undefined; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (_code, signal) => {
      const line = stdout.trim().split('\n').filter(Boolean).pop();
      if (!line && !signal) console.error(`writer child printed nothing; stderr: ${stderr}`);
      resolve({ out: line ? (JSON.parse(line) as Outcome) : undefined, signal });
    });
  });
  return { pid: child.pid!, done, kill: () => child.kill('SIGKILL') };
}

function verifyBlobs(cs: ContentStore): number {
  let n = 0;
  for (const b of cs.walk()) {
    const got = 'sha256:' + createHash('sha256').update(readFileSync(cs.blobPath(b.digest))).digest('hex');
    assert.equal(got, b.digest, 'every blob re-hashes to its name');
    assert.equal(statSync(cs.blobPath(b.digest)).mode & 0o777, 0o444);
    n++;
  }
  return n;
}

async function waitUntil(what: string, fn: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('content store across processes', () => {
  test('a writer killed with SIGKILL mid-write resumes from the data on disk', async () => {
    const root = makeTempDir('ctrx-content-kill-');
    const size = 2 << 20;
    const data = pattern(size, 42);
    const dgst = digestOf(data);
    const ref = `default/1/layer-${dgst}`;
    const cs = ContentStore.forRoot(root);
    const dataFile = join(cs.ingestDir(ref), 'data');
    const c = startChild({ root, ref, size, seed: 42, expected: dgst, chunk: 32 * 1024, delayMs: 10 });
    await waitUntil('half a megabyte on disk', () => existsSync(dataFile) && statSync(dataFile).size >= 512 * 1024);
    c.kill();
    const { signal } = await c.done;
    assert.equal(signal, 'SIGKILL');
    const onDisk = statSync(dataFile).size;
    assert.ok(onDisk > 0 && onDisk < size, `partial data (${onDisk})`);
    assert.equal([...cs.walk()].length, 0, 'nothing under blobs/');
    // The dead process's lock went with it.
    const w = await cs.writer(ref, { total: size, expected: dgst });
    assert.equal(w.offset, onDisk, 'resume offset is what reached the disk');
    assert.equal(w.digest(), digestOf(data.subarray(0, onDisk)));
    assert.equal(cs.listIngests()[0]?.offset, onDisk);
    await w.write(data.subarray(onDisk));
    const r = await w.commit(size, dgst);
    assert.equal(r.digest, dgst);
    assert.equal(verifyBlobs(cs), 1);
  });

  test('N processes on the same ref, waiting: exactly one commits, the rest find the blob', async () => {
    const root = makeTempDir('ctrx-content-race-');
    const go = join(root, 'go');
    const size = 600_000;
    const dgst = digestOf(pattern(size, 7));
    const ref = `default/1/layer-${dgst}`;
    const kids = Array.from({ length: 6 }, () => startChild({ root, ref, size, seed: 7, expected: dgst, waitMs: 60_000, chunk: 64 * 1024, delayMs: 1, goFile: go }));
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(go, '');
    const outs = (await Promise.all(kids.map((k) => k.done))).map((d) => d.out?.outcome);
    assert.equal(outs.filter((o) => o === 'committed').length, 1, JSON.stringify(outs));
    assert.equal(outs.filter((o) => o === 'exists').length, 5, JSON.stringify(outs));
    const cs = ContentStore.forRoot(root);
    assert.equal(verifyBlobs(cs), 1);
    assert.deepEqual(readdirSync(join(cs.contentRoot, 'ingest')), []);
    assert.deepEqual(readdirSync(cs.lockDir), [], 'no lock files left');
  });

  test('N processes on the same ref, failing fast: one commits, the others are told the ingest is in use', async () => {
    const root = makeTempDir('ctrx-content-nb-');
    const go = join(root, 'go');
    const size = 2 << 20;
    const dgst = digestOf(pattern(size, 8));
    const ref = `default/1/layer-${dgst}`;
    const kids = Array.from({ length: 5 }, () => startChild({ root, ref, size, seed: 8, expected: dgst, chunk: 64 * 1024, delayMs: 2, goFile: go }));
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(go, '');
    const outs = (await Promise.all(kids.map((k) => k.done))).map((d) => d.out);
    const committed = outs.filter((o) => o?.outcome === 'committed');
    assert.equal(committed.length, 1, JSON.stringify(outs));
    for (const o of outs) {
      assert.ok(o && ['committed', 'exists', 'in-use'].includes(o.outcome), JSON.stringify(o));
      if (o.outcome === 'in-use') assert.match(o.message!, /ingest in use/);
    }
    assert.equal(verifyBlobs(ContentStore.forRoot(root)), 1);
  });

  test('the same bytes under N different refs: exactly one rename, the rest report alreadyExists', async () => {
    const root = makeTempDir('ctrx-content-refs-');
    const go = join(root, 'go');
    const size = 300_000;
    const kids = Array.from({ length: 6 }, (_, i) => startChild({ root, ref: `default/1/ref-${i}`, size, seed: 9, chunk: 50_000, delayMs: 0, goFile: go }));
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(go, '');
    const outs = (await Promise.all(kids.map((k) => k.done))).map((d) => d.out?.outcome);
    assert.equal(outs.filter((o) => o === 'committed').length, 1, JSON.stringify(outs));
    assert.equal(outs.filter((o) => o === 'exists').length, 5, JSON.stringify(outs));
    const cs = ContentStore.forRoot(root);
    assert.equal(verifyBlobs(cs), 1);
    assert.deepEqual(readdirSync(join(cs.contentRoot, 'ingest')), []);
  });

  // strace counts syscalls per thread: the data's fdatasync runs on a libuv worker, the directory's fsync on the main thread.
  const strace = (inject: string) => ['strace', '-f', '-qq', '-o', '/dev/null', '-e', `trace=${inject.split(':')[0]}`, '-e', `inject=${inject}`];
  const haveStrace = () => spawnSync('strace', ['-V']).status === 0;

  test('EIO from fdatasync at commit (strace fault injection): clear error, ingest kept, resumable', async (t) => {
    if (!haveStrace()) return t.skip('strace is not installed');
    const root = makeTempDir('ctrx-content-eio-');
    const size = 200_000;
    const data = pattern(size, 13);
    const dgst = digestOf(data);
    const ref = 'default/1/eio';
    const c = startChild({ root, ref, size, seed: 13, expected: dgst, chunk: 50_000, delayMs: 0 }, strace('fdatasync:error=EIO:when=1'));
    const { out } = await c.done;
    assert.equal(out?.outcome, 'error', JSON.stringify(out));
    assert.equal(out?.at, 'commit');
    assert.equal(out?.category, 'internal');
    assert.match(out?.message ?? '', /syncing ingest data: I\/O error/);
    assert.match(out?.hint ?? '', /ingest is kept/);
    const cs = ContentStore.forRoot(root);
    assert.equal([...cs.walk()].length, 0, 'nothing under blobs/');
    const w = await cs.writer(ref, { total: size, expected: dgst });
    assert.equal(w.offset, size, 'all data is still in the ingest');
    assert.equal((await w.commit(size, dgst)).digest, dgst);
    assert.equal(verifyBlobs(cs), 1);
  });

  test('EIO from the blob directory fsync after the rename: reported as such, the blob is complete', async (t) => {
    if (!haveStrace()) return t.skip('strace is not installed');
    const root = makeTempDir('ctrx-content-eio-dir-');
    const size = 100_000;
    const dgst = digestOf(pattern(size, 14));
    // main-thread fsyncs: `ref` (1), `total` (2), the blob directory (3).
    const c = startChild({ root, ref: 'default/1/eio-dir', size, seed: 14, expected: dgst, chunk: 50_000, delayMs: 0 }, strace('fsync:error=EIO:when=3'));
    const { out } = await c.done;
    assert.equal(out?.outcome, 'error', JSON.stringify(out));
    assert.match(out?.message ?? '', new RegExp(`blob ${dgst} is in place, but syncing its directory failed \\(EIO\\)`));
    assert.equal(out?.hint, undefined, 'no claim that an ingest was kept');
    assert.equal(verifyBlobs(ContentStore.forRoot(root)), 1);
  });

  test('disk full: clear error, ingest kept, nothing under blobs/; more space → resume and commit', async (t) => {
    const root = makeTempDir('ctrx-content-enospc-');
    const mnt = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'ctrx-test-enospc', root], { encoding: 'utf8' });
    if (mnt.status !== 0) {
      t.skip(`cannot mount tmpfs: ${mnt.stderr}`);
      return;
    }
    try {
      const cs = ContentStore.forRoot(root);
      const size = 1 << 20;
      const data = pattern(size, 11);
      const dgst = digestOf(data);
      const ref = 'default/1/big';
      const w = await cs.writer(ref, { total: size, expected: dgst });
      let err: unknown;
      try {
        for (let off = 0; off < size; off += 64 * 1024) await w.write(data.subarray(off, off + 64 * 1024));
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof CtrxError, String(err));
      assert.equal(err.category, 'unavailable');
      assert.match(err.message, /no space left on device/);
      assert.match(err.hint ?? '', /ingest is kept/);
      await assert.rejects(w.write(Buffer.from('x')), /no space left/, 'a broken writer stays broken');
      await w.close();
      const dataFile = join(cs.ingestDir(ref), 'data');
      const partial = statSync(dataFile).size;
      assert.ok(partial > 0 && partial < size);
      assert.ok(!existsSync(join(cs.contentRoot, 'blobs')) || readdirSync(join(cs.contentRoot, 'blobs', 'sha256')).length === 0);
      const grow = spawnSync('mount', ['-o', 'remount,size=4m', root], { encoding: 'utf8' });
      assert.equal(grow.status, 0, grow.stderr);
      const w2 = await cs.writer(ref, { total: size, expected: dgst });
      assert.equal(w2.offset, partial);
      await w2.write(data.subarray(partial));
      assert.equal((await w2.commit(size, dgst)).digest, dgst);
      assert.equal(verifyBlobs(cs), 1);
    } finally {
      removeTempDir(root);
    }
  });
});
