/**
 * The content store's file side in one process: layout and modes as
 * containerd has them, commit rules, resume, digest checks, existing blobs,
 * the per-ref lock, and the readers' verification.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CtrxError } from '../../../src/errdefs.js';
import { ContentStore } from '../../../src/content/local-store.js';
import { digestOf, parseDigest } from '../../../src/digest.js';
import { backendRef, formatRFC3339Nano, ingestDirName, parseRFC3339 } from '../../../src/content/ingest.js';
import { cleanupTempDirs, makeTempDir } from '../../helpers/tmp.js';

after(() => cleanupTempDirs());

function store(): { root: string; cs: ContentStore } {
  const root = makeTempDir('ctrx-content-');
  return { root, cs: ContentStore.forRoot(root) };
}

function blobsUnder(cs: ContentStore): string[] {
  const dir = join(cs.contentRoot, 'blobs', 'sha256');
  return existsSync(dir) ? readdirSync(dir) : [];
}

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function rejectsWith(p: Promise<unknown>, category: string, re: RegExp): Promise<CtrxError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CtrxError, `expected CtrxError, got ${String(e)}`);
    assert.equal(e.category, category, e.message);
    assert.match(e.message, re);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('digests', () => {
  test('hostile digests are refused before any path is built', () => {
    const { cs } = store();
    const good = digestOf('x');
    assert.equal(cs.blobPath(good), join(cs.contentRoot, 'blobs', 'sha256', good.slice(7)));
    for (const bad of [
      'sha256:../../etc/passwd',
      'sha256:' + 'A'.repeat(64),
      'sha256:' + 'a'.repeat(63),
      'sha256:' + 'a'.repeat(65),
      'md5:' + 'a'.repeat(32),
      'sha256:' + 'a'.repeat(63) + '/',
      'sha256:' + 'a'.repeat(64) + '\n',
      '../sha256:' + 'a'.repeat(64),
      'sha256',
      '',
      '__proto__:' + 'a'.repeat(64),
      'constructor:' + 'a'.repeat(64),
    ]) {
      assert.throws(() => cs.blobPath(bad), (e: unknown) => e instanceof CtrxError && e.category === 'invalid-argument', bad);
    }
    assert.deepEqual(parseDigest('sha512:' + 'f'.repeat(128)), { algorithm: 'sha512', hex: 'f'.repeat(128), value: 'sha512:' + 'f'.repeat(128) });
  });

  test('RFC3339Nano as Go writes it', () => {
    assert.equal(formatRFC3339Nano(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 0))), '2024-01-02T03:04:05Z');
    assert.equal(formatRFC3339Nano(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 120))), '2024-01-02T03:04:05.12Z');
    assert.equal(formatRFC3339Nano(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 1)), 500), '2024-01-02T03:04:05.0010005Z');
    assert.equal(parseRFC3339('2024-01-02T04:04:05.123456789+01:00')?.toISOString(), '2024-01-02T03:04:05.123Z');
    assert.equal(parseRFC3339('2024-01-02 03:04:05'), undefined);
    // the verified example from the reference: sha256("default/1/ref2")
    assert.ok(ingestDirName('default/1/ref2').startsWith('6e01a1fb'));
    assert.equal(backendRef('default', 'layer-x'), 'default/1/layer-x');
  });
});

describe('writer', () => {
  test('ingest layout, commit, modes and cleanup match containerd', async () => {
    const { cs } = store();
    const data = bytes(300_000);
    const dgst = digestOf(data);
    const ref = backendRef('default', `layer-${dgst}`);
    const w = await cs.writer(ref, { total: data.length, expected: dgst });
    assert.equal(w.offset, 0);
    const dir = join(cs.contentRoot, 'ingest', createHash('sha256').update(ref).digest('hex'));
    assert.equal(w.dir, dir);
    assert.equal(readFileSync(join(dir, 'ref'), 'utf8'), ref);
    assert.equal(readFileSync(join(dir, 'total'), 'utf8'), String(data.length));
    assert.match(readFileSync(join(dir, 'startedat'), 'utf8'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(!existsSync(join(dir, 'startedat.tmp')));
    await w.write(data.subarray(0, 100_000));
    await w.write(data.subarray(100_000));
    const st = cs.ingestStatus(ref);
    assert.equal(st.offset, data.length);
    assert.equal(st.total, data.length);
    const listed = cs.listIngests();
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.ref, ref);
    const before = Date.now();
    const r = await w.commit(data.length, dgst);
    assert.deepEqual(r, { digest: dgst, size: data.length, alreadyExists: false });
    const p = cs.blobPath(dgst);
    const bst = statSync(p);
    assert.equal(bst.mode & 0o7777, 0o444);
    assert.equal(statSync(join(cs.contentRoot, 'blobs')).mode & 0o7777, 0o755);
    assert.equal(statSync(join(cs.contentRoot, 'blobs', 'sha256')).mode & 0o7777, 0o755);
    assert.ok(bst.mtimeMs >= before - 1000);
    assert.ok(!existsSync(dir), 'ingest dir removed');
    assert.deepEqual(readdirSync(join(cs.contentRoot, 'ingest')), []);
    assert.deepEqual(cs.listIngests(), []);
    assert.ok(readFileSync(p).equals(data));
    assert.equal(cs.info(dgst).size, data.length);
    // the lock file does not accumulate
    assert.deepEqual(readdirSync(cs.lockDir), []);
  });

  test('close keeps the ingest; reopening re-hashes data and resumes at its size', async () => {
    const { cs } = store();
    const data = bytes(250_000, 7);
    const dgst = digestOf(data);
    const ref = 'default/1/resume';
    const w1 = await cs.writer(ref, { total: data.length });
    await w1.write(data.subarray(0, 123_457));
    const started = readFileSync(join(w1.dir, 'startedat'), 'utf8');
    await w1.close();
    const w2 = await cs.writer(ref, { total: data.length });
    assert.equal(w2.offset, 123_457);
    assert.equal(w2.digest(), digestOf(data.subarray(0, 123_457)));
    assert.equal(readFileSync(join(w2.dir, 'startedat'), 'utf8'), started, 'startedat survives a resume');
    await w2.write(data.subarray(w2.offset));
    const r = await w2.commit(data.length, dgst);
    assert.equal(r.digest, dgst);
    assert.ok(readFileSync(cs.blobPath(dgst)).equals(data));
  });

  test('a different total or a foreign ref file restarts the ingest from 0', async () => {
    const { cs } = store();
    const ref = 'default/1/changed';
    const w1 = await cs.writer(ref, { total: 10 });
    await w1.write(Buffer.from('abcde'));
    await w1.close();
    const w2 = await cs.writer(ref, { total: 20 });
    assert.equal(w2.offset, 0);
    assert.equal(statSync(join(w2.dir, 'data')).size, 0);
    await w2.write(Buffer.from('x'));
    await w2.close();
    writeFileSync(join(w2.dir, 'ref'), 'default/1/other');
    const w3 = await cs.writer(ref);
    assert.equal(w3.offset, 0);
    assert.equal(readFileSync(join(w3.dir, 'ref'), 'utf8'), ref);
    await w3.abort();
    assert.ok(!existsSync(w3.dir));
  });

  test('wrong digest: nothing under blobs/, ingest reset to 0', async () => {
    const { cs } = store();
    const data = bytes(5000, 3);
    const ref = 'default/1/bad-digest';
    const w = await cs.writer(ref);
    await w.write(data);
    const wrong = digestOf('something else');
    await rejectsWith(w.commit(data.length, wrong), 'failed-precondition', /unexpected commit digest sha256:[0-9a-f]{64}, expected/);
    assert.deepEqual(blobsUnder(cs), []);
    const again = await cs.writer(ref);
    assert.equal(again.offset, 0, 'the next attempt starts from 0');
    await again.write(data);
    const r = await again.commit(data.length, digestOf(data));
    assert.equal(r.alreadyExists, false);
    assert.deepEqual(blobsUnder(cs), [digestOf(data).slice(7)]);
  });

  test('wrong size: too many bytes reset, too few keep the ingest for a resume', async () => {
    const { cs } = store();
    const data = bytes(4000, 4);
    const w = await cs.writer('default/1/size');
    await w.write(data);
    await rejectsWith(w.commit(3000, digestOf(data)), 'failed-precondition', /unexpected commit size 4000, expected 3000 \(the ingest was reset\)/);
    const reopened = await cs.writer('default/1/size');
    assert.equal(reopened.offset, 0);
    await reopened.abort();
    const { cs: cs2 } = store();
    const w2 = await cs2.writer('default/1/short');
    await w2.write(data.subarray(0, 1000));
    await rejectsWith(w2.commit(4000, digestOf(data)), 'failed-precondition', /unexpected commit size 1000, expected 4000 \(the ingest is kept/);
    const w3 = await cs2.writer('default/1/short');
    assert.equal(w3.offset, 1000);
    await w3.write(data.subarray(1000));
    assert.equal((await w3.commit(4000, digestOf(data))).alreadyExists, false);
    assert.deepEqual(blobsUnder(cs), []);
  });

  test('writing past a known total is refused and nothing extra reaches the disk', async () => {
    const { cs } = store();
    const w = await cs.writer('default/1/endless', { total: 10 });
    await w.write(Buffer.from('0123456789'));
    await rejectsWith(w.write(Buffer.from('x')), 'failed-precondition', /more data than expected: 11 bytes, total is 10/);
    assert.equal(statSync(join(w.dir, 'data')).size, 10);
    await w.commit(10, digestOf('0123456789'));
  });

  test('an existing blob commits without copying and without an ingest', async () => {
    const { cs } = store();
    const data = Buffer.from('hello content');
    const dgst = digestOf(data);
    const w = await cs.writer('default/1/a');
    await w.write(data);
    await w.commit(data.length, dgst);
    const ino = statSync(cs.blobPath(dgst)).ino;
    const w2 = await cs.writer('default/1/b', { expected: dgst, total: data.length });
    assert.deepEqual(w2.existing, { digest: dgst, size: data.length });
    assert.ok(!existsSync(join(cs.contentRoot, 'ingest', ingestDirName('default/1/b'))), 'no ingest dir for an existing blob');
    await rejectsWith(w2.write(Buffer.from('x')), 'failed-precondition', /already exists/);
    assert.deepEqual(await w2.commit(data.length, dgst), { digest: dgst, size: data.length, alreadyExists: true });
    // same bytes under another ref without an expected digest: found at commit, ingest removed
    const w3 = await cs.writer('default/1/c');
    await w3.write(data);
    assert.deepEqual(await w3.commit(0), { digest: dgst, size: data.length, alreadyExists: true });
    assert.ok(!existsSync(w3.dir));
    assert.equal(statSync(cs.blobPath(dgst)).ino, ino, 'the blob file was not replaced');
  });

  test('half-built ingest dirs of a crashed writer are swept after an hour and never listed', async () => {
    const { cs } = store();
    const root = join(cs.contentRoot, 'ingest');
    mkdirSync(root, { recursive: true });
    const stale = join(root, '.ctrx-new-0123456789abcdef-aaaaaaaaaaaa');
    const recent = join(root, '.ctrx-new-0123456789abcdef-bbbbbbbbbbbb');
    for (const d of [stale, recent]) {
      mkdirSync(d);
      writeFileSync(join(d, 'ref'), 'default/1/crashed');
      writeFileSync(join(d, 'data'), 'partial');
      writeFileSync(join(d, 'startedat'), '2024-01-01T00:00:00Z');
      writeFileSync(join(d, 'updatedat'), '2024-01-01T00:00:00Z');
    }
    const old = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(stale, old, old);
    assert.deepEqual(cs.listIngests().map((i) => i.ref), []);
    const w = await cs.writer('default/1/next');
    await w.abort();
    assert.ok(!existsSync(stale), 'swept');
    assert.ok(existsSync(recent), 'a recent one may still be in progress');
  });

  test('one writer per ref: a second one gets "ingest in use" or waits', async () => {
    const { cs } = store();
    const data = Buffer.from('locked bytes');
    const dgst = digestOf(data);
    const ref = 'default/1/locked';
    const w1 = await cs.writer(ref, { expected: dgst });
    const e = await rejectsWith(cs.writer(ref, { expected: dgst }), 'unavailable', /ingest in use/);
    assert.match(e.subject ?? '', /default\/1\/locked/);
    const waiting = cs.writer(ref, { expected: dgst, waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    await w1.write(data);
    await w1.commit(data.length, dgst);
    const w2 = await waiting;
    assert.ok(w2.existing, 'the waiter finds the committed blob');
    await w2.commit(data.length, dgst);
    // another ref is not blocked by this one
    const other = await cs.writer('default/1/other');
    await other.abort();
  });
});

describe('reader', () => {
  async function put(cs: ContentStore, data: Buffer): Promise<string> {
    const w = await cs.writer(`default/1/put-${digestOf(data)}`);
    await w.write(data);
    return (await w.commit(data.length, digestOf(data))).digest;
  }

  test('readAll caps the size and verifies the digest', async () => {
    const { cs } = store();
    const data = bytes(10_000, 9);
    const dgst = await put(cs, data);
    assert.ok((await cs.readAll(dgst, { maxSize: 10_000 })).equals(data));
    await rejectsWith(cs.readAll(dgst, { maxSize: 9_999 }), 'failed-precondition', /10000 bytes, more than the limit of 9999/);
    const p = cs.blobPath(dgst);
    chmodSync(p, 0o644);
    const bad = Buffer.from(data);
    bad[5000] ^= 1;
    writeFileSync(p, bad);
    await rejectsWith(cs.readAll(dgst, { maxSize: 1 << 20 }), 'failed-precondition', /content digest mismatch/);
    assert.ok((await cs.readAll(dgst, { maxSize: 1 << 20, verify: false })).equals(bad));
    await rejectsWith(cs.readAll(digestOf('missing'), { maxSize: 10 }), 'not-found', /not found/);
  });

  test('the verifying stream fails at the end on a mismatch; partial reads work', async () => {
    const { cs } = store();
    const data = bytes(3 << 20, 5);
    const dgst = await put(cs, data);
    const chunks: Buffer[] = [];
    for await (const c of cs.stream(dgst, { highWaterMark: 1 << 18 })) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data));
    const part: Buffer[] = [];
    for await (const c of cs.stream(dgst, { start: 100, end: 300 })) part.push(c as Buffer);
    assert.ok(Buffer.concat(part).equals(data.subarray(100, 300)));
    await rejectsWith((async () => { for await (const _ of cs.stream(dgst, { expectedSize: 5 })) void _; })(), 'failed-precondition', /expected 5/);
    const p = cs.blobPath(dgst);
    chmodSync(p, 0o644);
    const bad = Buffer.from(data);
    bad[bad.length - 1] ^= 0xff;
    writeFileSync(p, bad);
    let seen = 0;
    await rejectsWith(
      (async () => {
        for await (const c of cs.stream(dgst)) seen += (c as Buffer).length;
      })(),
      'failed-precondition',
      /content digest mismatch/,
    );
    assert.equal(seen, data.length, 'all bytes were delivered before the error');
    const h = await cs.open(dgst);
    assert.equal(h.size, data.length);
    assert.ok((await h.readAt(10, 5)).equals(bad.subarray(10, 15)));
    assert.equal((await h.readAt(data.length - 2, 10)).length, 2);
    await h.close();
  });

  test('walk lists valid blob files only; symlinks are never followed; delete', async () => {
    const { root, cs } = store();
    const a = await put(cs, Buffer.from('a'));
    const b = await put(cs, Buffer.from('b'));
    const dir = join(cs.contentRoot, 'blobs', 'sha256');
    const outside = join(root, 'outside');
    writeFileSync(outside, 'secret');
    const linkDigest = digestOf('secret');
    symlinkSync(outside, join(dir, linkDigest.slice(7)));
    writeFileSync(join(dir, 'not-a-digest'), 'x');
    mkdirSync(join(cs.contentRoot, 'blobs', 'md5'));
    writeFileSync(join(cs.contentRoot, 'blobs', 'md5', 'abc'), 'x');
    const walked = [...cs.walk()].map((i) => i.digest).sort();
    assert.deepEqual(walked, [a, b].sort());
    assert.equal(cs.has(linkDigest), false);
    await rejectsWith(cs.readAll(linkDigest, { maxSize: 100 }), 'failed-precondition', /symlink/);
    cs.delete(a);
    assert.equal(cs.has(a), false);
    assert.throws(() => cs.delete(a), (e: unknown) => e instanceof CtrxError && e.category === 'not-found');
    assert.ok(lstatSync(outside).isFile());
  });

  test('listIngests skips dirs without data or ref', async () => {
    const { cs } = store();
    const w = await cs.writer('default/1/listed', { total: 99 });
    await w.write(Buffer.from('12345'));
    await w.close();
    mkdirSync(join(cs.contentRoot, 'ingest', 'f'.repeat(64)));
    writeFileSync(join(cs.contentRoot, 'ingest', 'junk'), 'x');
    const list = cs.listIngests();
    assert.equal(list.length, 1);
    assert.equal(list[0]!.ref, 'default/1/listed');
    assert.equal(list[0]!.offset, 5);
    assert.equal(list[0]!.total, 99);
    assert.ok(list[0]!.updatedAt >= list[0]!.startedAt);
    await cs.abort('default/1/listed');
    assert.deepEqual(cs.listIngests(), []);
    await rejectsWith(cs.abort('default/1/listed'), 'not-found', /no ingest/);
  });
});
