/**
 * The content store against a real containerd 1.6 on a private root, both
 * ways (records are written with the metadata module's API, files with ours):
 *
 * - a blob ingested by containerd reads back, verified, through our reader,
 *   and our writer produces the same path and modes containerd does;
 * - a blob committed by our writer is listed and served by `ctr content
 *   ls/get` after a restart;
 * - an ingest we left half-written shows in `ctr content active` and
 *   containerd resumes and commits it;
 * - an ingest containerd left half-written is resumed and committed by us,
 *   and containerd then serves the blob.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContentStore } from '../../../src/content/local-store.js';
import { digestOf } from '../../../src/digest.js';
import { createBlob, createIngest, deleteIngest, listIngests } from '../../../src/metadata/content.js';
import { viewMeta, writeMeta } from '../../../src/metadata/db.js';
import { timeFromDate } from '../../../src/metadata/encoding.js';
import type { OpContext } from '../../../src/context.js';
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { cleanupTempDirs, makeTempDir } from '../../helpers/tmp.js';

let cd: Containerd;
let ctx: Pick<OpContext, 'root' | 'facts'>;

before(async () => {
  cd = await startContainerd();
  // containerd runs a GC ~100 ms after it starts; an unlabelled blob ingested before that
  // would be collected under the test (deletions and 100 mutations trigger the next one).
  await new Promise((r) => setTimeout(r, 1000));
  ctx = { root: cd.root, facts: {} as OpContext['facts'] };
});

after(async () => {
  await cd?.stop();
  cleanupTempDirs();
});

/** Text payloads: the rig decodes ctr's stdout as UTF-8. */
const payload = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);

function modes(p: string): { file: number; alg: number; blobs: number } {
  return { file: statSync(p).mode & 0o7777, alg: statSync(join(p, '..')).mode & 0o7777, blobs: statSync(join(p, '..', '..')).mode & 0o7777 };
}

async function contentList(): Promise<string> {
  return (await cd.ctrOk(['content', 'ls'])).stdout;
}

describe('content store and containerd', () => {
  test('a blob ingested by containerd reads back through our reader; our blobs have its paths and modes', async () => {
    const data = payload(1_500_000);
    const dgst = digestOf(data);
    await cd.ctrOk(['content', 'ingest', '--expected-size', String(data.length), '--expected-digest', dgst, 'from-containerd'], { input: data });
    assert.match(await contentList(), new RegExp(dgst));
    const cs = ContentStore.forRoot(cd.root);
    assert.equal((await cs.readAll(dgst, { maxSize: 2 << 20 })).toString(), data);
    const chunks: Buffer[] = [];
    for await (const c of cs.stream(dgst)) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), data);
    assert.equal(cs.info(dgst).size, data.length);
    assert.ok([...cs.walk()].some((b) => b.digest === dgst));

    const mine = ContentStore.forRoot(makeTempDir('ctrx-content-mine-'));
    const w = await mine.writer('default/1/mine', { total: data.length, expected: dgst });
    await w.write(Buffer.from(data));
    await w.commit(data.length, dgst);
    assert.equal(relative(mine.contentRoot, mine.blobPath(dgst)), relative(cs.contentRoot, cs.blobPath(dgst)));
    assert.deepEqual(modes(mine.blobPath(dgst)), modes(cs.blobPath(dgst)));
    assert.deepEqual(modes(cs.blobPath(dgst)), { file: 0o444, alg: 0o755, blobs: 0o755 });
  });

  test('ctrx → containerd: a committed blob is served, a half-written ingest is listed and resumed by containerd', async () => {
    await cd.stop({ keepDirs: true });
    const cs = ContentStore.forRoot(cd.root);
    const blob = payload(300_000);
    const blobDigest = digestOf(blob);
    const w = await cs.writer('default/1/ctrx-blob', { total: blob.length, expected: blobDigest });
    await w.write(Buffer.from(blob));
    const committed = await w.commit(blob.length, blobDigest);
    assert.equal(committed.alreadyExists, false);

    const partial = payload(800_000);
    const partialDigest = digestOf(partial);
    // Record first (it names the backend ref), then the file side; both before containerd starts.
    const rec = writeMeta(ctx, (tx) => {
      createBlob(tx, 'default', blobDigest, blob.length, { 'containerd.io/gc.root': 'true' });
      return createIngest(tx, 'default', 'ctrx-partial', { expireAt: timeFromDate(new Date(Date.now() + 3_600_000)) });
    });
    assert.match(rec.backendRef, /^default\/\d+\/ctrx-partial$/);
    const pw = await cs.writer(rec.backendRef, { total: partial.length });
    await pw.write(Buffer.from(partial.slice(0, 300_000)));
    await pw.close();

    await cd.start();
    assert.match(await contentList(), new RegExp(blobDigest));
    assert.equal((await cd.ctrOk(['content', 'get', blobDigest])).stdout, blob);
    const active = (await cd.ctrOk(['content', 'active'])).stdout;
    assert.match(active, /ctrx-partial/);
    assert.match(active, /ctrx-partial\s+300kB\s+(Less than a second|About a second|[0-9]+ seconds?)/, 'offset and startedat read from our files');
    // containerd reopens our ingest (same backend ref from the record), re-hashes our data and continues;
    // ctr seeks its input to the offset containerd reports, so it reads a file rather than a pipe.
    const input = join(makeTempDir('ctrx-content-input-'), 'partial');
    writeFileSync(input, partial);
    // A shell redirect, so ctr gets the file itself as stdin under either runtime.
    const r = spawnSync(
      'sh',
      ['-c', 'exec ctr --address "$1" --namespace default content ingest --expected-size "$2" --expected-digest "$3" ctrx-partial < "$4"', 'sh', cd.address, String(partial.length), partialDigest, input],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await cd.ctrOk(['content', 'get', partialDigest])).stdout, partial);
    assert.doesNotMatch((await cd.ctrOk(['content', 'active'])).stdout, /ctrx-partial/);
  });

  test('containerd → ctrx: an ingest containerd left half-written is resumed and committed by us', async () => {
    const data = payload(600_000);
    const dgst = digestOf(data);
    const half = data.slice(0, 250_000);
    // The commit fails on the size check and containerd keeps the ingest (expireat +24h without a lease).
    const r = await cd.ctr(['content', 'ingest', '--expected-size', String(data.length), '--expected-digest', dgst, 'cd-partial'], { input: half });
    assert.notEqual(r.code, 0);
    assert.match((await cd.ctrOk(['content', 'active'])).stdout, /cd-partial/);
    await cd.stop({ keepDirs: true });

    const ingest = viewMeta(ctx, (tx) => listIngests(tx!, 'default')).find((i) => i.ref === 'cd-partial');
    assert.ok(ingest, 'containerd wrote an ingest record');
    const cs = ContentStore.forRoot(cd.root);
    assert.equal(cs.ingestStatus(ingest.backendRef).offset, half.length);
    assert.ok(cs.listIngests().some((i) => i.ref === ingest.backendRef && i.total === data.length));
    const w = await cs.writer(ingest.backendRef, { total: data.length, expected: dgst });
    assert.equal(w.offset, half.length, 'resumes where containerd stopped');
    await w.write(Buffer.from(data.slice(w.offset)));
    const c = await w.commit(data.length, dgst);
    assert.deepEqual(c, { digest: dgst, size: data.length, alreadyExists: false });
    writeMeta(ctx, (tx) => {
      createBlob(tx, 'default', dgst, data.length, { 'containerd.io/gc.root': 'true' });
      deleteIngest(tx, 'default', 'cd-partial');
    });

    await cd.start();
    assert.match(await contentList(), new RegExp(dgst));
    assert.equal((await cd.ctrOk(['content', 'get', dgst])).stdout, data);
    assert.doesNotMatch((await cd.ctrOk(['content', 'active'])).stdout, /cd-partial/);
  });
});
