import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { activeIngests, ingest, readBlobStream } from '../../../src/content/namespaced.js';
import { contentList } from '../../../src/metadata/api.js';
import { blobPath, listIngests } from '../../../src/metadata/content.js';
import { viewMeta } from '../../../src/metadata/db.js';
import { timeToMillis } from '../../../src/metadata/encoding.js';
import { CtrxError } from '../../../src/errdefs.js';
import { cleanup, newRoot, putBlob, sha } from './_store.js';

const dirs: string[] = [];
after(cleanup(dirs));
const cat = (c: string) => (e: unknown) => e instanceof CtrxError && e.category === c;

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}
async function* failing(first: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(first);
  throw new Error('source broke');
}
async function collect(s: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

test('ingest: blob file and a label-less record; the ingest record goes', async () => {
  const ctx = newRoot(dirs);
  const data = 'hello ingest\n';
  const r = await ingest(ctx, 'my-ref', chunks('hello ', 'ingest\n'), { expectedSize: data.length, expectedDigest: sha(data) });
  assert.deepEqual(r, { digest: sha(data), size: data.length, recorded: true, copied: data.length });
  assert.equal(readFileSync(blobPath(ctx.root, r.digest), 'utf8'), data);
  assert.deepEqual(contentList(ctx).map((b) => [b.digest, b.size, b.labels]), [[sha(data), data.length, {}]]);
  assert.deepEqual(viewMeta(ctx, (tx) => listIngests(tx!, 'default')), []);
  assert.deepEqual(activeIngests(ctx), []);
  // again with the expected digest: the namespace has it, nothing is read
  const again = await ingest(ctx, 'other', failing('never read'), { expectedDigest: sha(data) });
  assert.equal(again.recorded, false);
  assert.equal(again.copied, 0);
});

test('ingest: a blob another namespace holds is shared without copying', async () => {
  const ctx = newRoot(dirs);
  const d = putBlob(ctx, 'shared bytes', 'x');
  const other = { ...ctx, namespace: 'second' };
  const r = await ingest(other, 'ref', failing('never read'), { expectedDigest: d.digest, expectedSize: d.size });
  assert.equal(r.recorded, true);
  assert.equal(r.copied, 0);
  assert.deepEqual(contentList(other).map((b) => b.digest), [d.digest]);
});

test('ingest: a broken source keeps a resumable ingest (24 h expiry) that content active lists; resuming skips what is there', async () => {
  const ctx = newRoot(dirs);
  await assert.rejects(ingest(ctx, 'resume-me', failing('0123456789')), /source broke/);
  const [a] = activeIngests(ctx);
  assert.equal(a!.ref, 'resume-me');
  assert.equal(a!.backendRef, 'default/1/resume-me');
  assert.equal(a!.offset, 10);
  const ttl = timeToMillis(a!.expireAt!) - Date.now();
  assert.ok(ttl > 23.9 * 3600e3 && ttl <= 24 * 3600e3, `expiry in 24 h (${ttl})`);
  const full = '0123456789abcdef';
  const r = await ingest(ctx, 'resume-me', chunks('01234', '56789abc', 'def'), { expectedSize: full.length });
  assert.equal(r.digest, sha(full));
  assert.equal(r.copied, 6, 'only the missing tail was written');
  assert.equal(readFileSync(blobPath(ctx.root, r.digest), 'utf8'), full);
  assert.deepEqual(activeIngests(ctx), []);
});

test('ingest: size and digest mismatches fail without a blob record', async () => {
  const ctx = newRoot(dirs);
  await assert.rejects(ingest(ctx, 'big', chunks('too many bytes'), { expectedSize: 3 }), cat('failed-precondition'));
  await assert.rejects(ingest(ctx, 'wrong', chunks('abc'), { expectedDigest: sha('abd') }), cat('failed-precondition'));
  await assert.rejects(ingest(ctx, 'x', chunks('abc'), { expectedDigest: 'sha256:nothex' }), cat('invalid-argument'));
  await assert.rejects(ingest(ctx, '', chunks('abc')), cat('invalid-argument'));
  assert.deepEqual(contentList(ctx), []);
});

test('get: the namespace must have a record; the bytes are verified', async () => {
  const ctx = newRoot(dirs);
  const d = putBlob(ctx, 'some content', 'x');
  assert.equal((await collect(readBlobStream(ctx, d.digest).stream)).toString(), 'some content');
  assert.throws(() => readBlobStream({ ...ctx, namespace: 'other' }, d.digest), cat('not-found'));
  assert.throws(() => readBlobStream(ctx, sha('absent')), cat('not-found'));
  assert.throws(() => readBlobStream(ctx, 'sha256:xyz'), cat('invalid-argument'));
  const p = blobPath(ctx.root, d.digest);
  chmodSync(p, 0o644);
  writeFileSync(p, 'some CONTENT');
  await assert.rejects(collect(readBlobStream(ctx, d.digest).stream));
});
