// `ctrx images pull` against a registry that misbehaves (the registry
// client's own node:http server, serving a real image here): a pull
// SIGKILLed mid-layer is resumed with a Range request; a wrong digest never
// reaches blobs/ and the next pull starts over; a body cut short is resumed;
// a stalled server ends the pull within the no-progress timeout; a config
// whose diff_ids do not match leaves no snapshot and no image; a running
// containerd makes the pull refuse before any request.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startContainerd } from '../../helpers/containerd.js';
import { buildFixture } from '../../helpers/fixtures.js';
import { assembleImage, jsonBytes, sha256, type Image } from '../../helpers/oci.js';
import { ctrxBin, waitFor } from '../../helpers/run.js';
import { TreeBuilder } from '../../helpers/tarball.js';
import { startBadServer, type BadServer } from '../registry/bad-server.js';
import { assertConsistent, blobFiles, contentDir, ingestDirs, newBox, readState, skipReason, type Box, type State } from './_world.js';

const skip = skipReason();
const BIG = 8 << 20;
let srv: BadServer;
let big: Image;
let bigLayer: { digest: string; size: number };
/** The big layer first: it is the one applied while it downloads. */
let bigFirst: Image;
const boxes: Box[] = [];
const box = () => {
  const b = newBox();
  boxes.push(b);
  return b;
};

before(async () => {
  if (skip) return;
  srv = await startBadServer();
  const base = await buildFixture('busybox');
  const tar = await new TreeBuilder().file('data/random.bin', randomBytes(BIG)).toTar();
  big = assembleImage({ layers: [{ tar: tarOf(base) }, { tar }], config: { Cmd: ['sh'] } });
  bigLayer = big.images[0]!.manifest.layers[1]!;
  bigFirst = assembleImage({ layers: [{ tar }, { tar: tarOf(base) }], config: { Cmd: ['sh'] } });
}, { timeout: 60_000 });

after(async () => {
  await srv?.close();
  for (const b of boxes) b.remove();
});

beforeEach(() => srv?.reset());

/** The uncompressed tar of a one-layer fixture. */
function tarOf(img: Image): Buffer {
  return gunzipSync(img.blobs.get(img.images[0]!.manifest.layers[0]!.digest)!);
}

type BlobHook = (digest: string, req: http.IncomingMessage, res: http.ServerResponse, start: number) => boolean | Promise<boolean>;

/** Serves `img` as `<host>/test/app:latest` (manifests by tag and digest, blobs with Range); `hook` may take over a blob request. */
function serve(img: Image, hook?: BlobHook): void {
  srv.handle(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/') return void res.end('{}');
    const m = /^\/v2\/test\/app\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    const digest = m ? (m[2] === 'latest' ? img.root.digest : m[2]!) : '';
    const data = img.blobs.get(digest);
    if (!m || !data) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end('{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}');
    }
    if (m[1] === 'manifests') {
      res.writeHead(200, { 'content-type': img.root.digest === digest ? img.root.mediaType : 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': digest, 'content-length': data.length });
      return void res.end(req.method === 'HEAD' ? undefined : data);
    }
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    const start = range ? Number(range[1]) : 0;
    if (hook && (await hook(digest, req, res, start))) return;
    if (range) res.writeHead(206, { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}`, 'content-length': data.length - start });
    else res.writeHead(200, { 'content-length': data.length });
    res.end(req.method === 'HEAD' ? undefined : data.subarray(start));
  });
}

const REF = () => `${srv.hostA}/test/app:latest`;
const rangeRequests = (digest: string) => srv.requests.filter((r) => r.path.endsWith(digest) && r.headers.range).map((r) => String(r.headers.range));

/** Writes `bytes` of the blob then keeps the connection open, sending nothing more. */
async function sendThenHang(res: http.ServerResponse, data: Buffer, start: number, bytes: number): Promise<void> {
  res.writeHead(start ? 206 : 200, { 'content-length': data.length - start, ...(start ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}) });
  res.write(data.subarray(start, start + bytes));
  await new Promise<void>((r) => res.once('close', r));
}

function ingestDataSize(b: Box): number {
  let n = 0;
  for (const d of ingestDirs(b.root)) {
    const f = join(contentDir(b.root), 'ingest', d, 'data');
    if (existsSync(f)) n = Math.max(n, statSync(f).size);
  }
  return n;
}

/** Every blob of the image present, every state invariant kept, one image record. */
function assertComplete(b: Box, img: Image): State {
  const st = assertConsistent(b.root);
  assert.deepEqual(blobFiles(b.root), [...img.blobs.keys()].sort());
  assert.deepEqual(st.images.map((i) => i.digest), [img.root.digest]);
  assert.deepEqual(st.ingests, []);
  return st;
}

test('SIGKILL mid-layer leaves a resumable ingest; the next pull asks for Range: bytes=N- and completes', { skip, timeout: 60_000 }, async () => {
  const b = box();
  const data = big.blobs.get(bigLayer.digest)!;
  const HALF = 3 << 20;
  serve(big, async (digest, _req, res, start) => {
    if (digest !== bigLayer.digest) return false;
    await sendThenHang(res, data, start, HALF);
    return true;
  });
  const [cmd, ...pre] = ctrxBin();
  const child = spawn(cmd!, [...pre, '--root', b.root, '--state', b.state, '-c', join(b.dir, 'none.toml'), 'images', 'pull', REF()], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, DOCKER_CONFIG: b.dockerConfig },
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  let gone = false;
  const exited = new Promise<void>((r) => child.once('exit', () => ((gone = true), r())));
  try {
    // the fetcher holds back its last chunk until the digest is known, so the ingest stops a little short of HALF
    await waitFor('most of HALF in the ingest', () => {
      if (gone) throw new Error(`ctrx exited early: ${stderr}`);
      return ingestDataSize(b) >= HALF - (256 << 10);
    }, { timeoutMs: 30_000 });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  const offset = ingestDataSize(b);
  assert.ok(offset > 0 && offset <= HALF, `ingest has ${offset} bytes`);
  const killed = readState(b.root);
  assert.deepEqual(killed.images, [], 'no image record after the kill');
  assert.ok(killed.ingests.includes(`layer-${bigLayer.digest}`), `ingest record kept: ${killed.ingests}`);
  assert.equal(killed.leases.length, 1, 'the killed pull\'s lease stays until it expires');
  assert.ok(killed.leases[0]!.labels['containerd.io/gc.expire'], 'with an expiry');
  assert.ok(!blobFiles(b.root).includes(bigLayer.digest));

  srv.reset();
  serve(big);
  await b.xOk(['images', 'pull', REF()]);
  assert.deepEqual(rangeRequests(bigLayer.digest), [`bytes=${offset}-`]);
  assertComplete(b, big);
});

test('a wrong digest never reaches blobs/, names the digest, and the next pull starts from 0', { skip, timeout: 60_000 }, async () => {
  const b = box();
  const data = Buffer.from(big.blobs.get(bigLayer.digest)!);
  const bad = Buffer.from(data);
  bad[bad.length >> 1] ^= 0xff;
  serve(big, (digest, req, res, start) => {
    if (digest !== bigLayer.digest) return false;
    res.writeHead(start ? 206 : 200, { 'content-length': bad.length - start, ...(start ? { 'content-range': `bytes ${start}-${bad.length - 1}/${bad.length}` } : {}) });
    res.end(req.method === 'HEAD' ? undefined : bad.subarray(start));
    return true;
  });
  const r = await b.x(['images', 'pull', REF()]);
  assert.equal(r.code, 6, r.stderr);
  assert.ok(r.stderr.includes(bigLayer.digest), `error names the digest: ${r.stderr}`);
  assert.ok(!blobFiles(b.root).includes(bigLayer.digest), 'the bad layer is not under blobs/');
  const st = assertConsistent(b.root);
  assert.deepEqual(st.images, []);
  assert.deepEqual(st.leases, [], 'the lease is dropped');

  srv.reset();
  serve(big);
  await b.xOk(['images', 'pull', REF()]);
  assert.deepEqual(rangeRequests(bigLayer.digest), [], 'no resume from a prefix that hashed wrong');
  assertComplete(b, big);
});

test('a body cut short is resumed with Range within the same pull; cut every time, the next pull resumes', { skip, timeout: 60_000 }, async () => {
  const data = big.blobs.get(bigLayer.digest)!;
  // small enough that every reconnection of every attempt together stays short of the layer
  const CHUNK = 256 << 10;
  const cut = (always: boolean): BlobHook => {
    let n = 0;
    return (digest, _req, res, start) => {
      if (digest !== bigLayer.digest || (!always && n++ > 0)) return false;
      res.writeHead(start ? 206 : 200, { 'content-length': data.length - start, ...(start ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}) });
      res.write(data.subarray(start, start + CHUNK), () => res.destroy());
      return true;
    };
  };
  const b1 = box();
  serve(big, cut(false));
  await b1.xOk(['images', 'pull', REF()]);
  const ranges = rangeRequests(bigLayer.digest);
  assert.equal(ranges.length, 1, `one resume: ${ranges}`);
  const at = Number(/^bytes=(\d+)-$/.exec(ranges[0]!)?.[1]);
  assert.ok(at > 0 && at <= CHUNK, `resumed at ${at}`);
  assertComplete(b1, big);

  const b2 = box();
  srv.reset();
  serve(big, cut(true));
  const r = await b2.x(['images', 'pull', REF()]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(bigLayer.digest));
  const kept = ingestDataSize(b2);
  assert.ok(kept >= CHUNK && kept < data.length, `ingest kept ${kept} bytes`);
  assertConsistent(b2.root);
  srv.reset();
  serve(big);
  await b2.xOk(['images', 'pull', REF()]);
  assert.deepEqual(rangeRequests(bigLayer.digest), [`bytes=${kept}-`]);
  assertComplete(b2, big);
});

test('a stalled server ends the pull within the no-progress timeout (CTRX_REGISTRY_TIMEOUT_MS); the ingest stays resumable', { skip, timeout: 60_000 }, async () => {
  const b = box();
  const data = big.blobs.get(bigLayer.digest)!;
  const SENT = 1 << 20;
  serve(big, async (digest, _req, res, start) => {
    if (digest !== bigLayer.digest) return false;
    await sendThenHang(res, data, start, SENT);
    return true;
  });
  const TIMEOUT = 1500;
  const t0 = Date.now();
  const r = await b.x(['images', 'pull', REF()], { env: { CTRX_REGISTRY_TIMEOUT_MS: String(TIMEOUT) } });
  const took = Date.now() - t0;
  assert.equal(r.code, 7, r.stderr);
  assert.match(r.stderr, /no (data|progress)|stall|timed? ?out|silent/i);
  assert.ok(took < TIMEOUT + 3000, `ended after ${took} ms`);
  assert.equal(srv.requests.filter((q) => q.path.endsWith(bigLayer.digest)).length, 1, 'a stall is not retried');
  const kept = ingestDataSize(b);
  assert.ok(kept > 0 && kept <= SENT, `ingest kept ${kept} bytes`);
  const st = assertConsistent(b.root);
  assert.deepEqual(st.images, []);
  srv.reset();
  serve(big);
  await b.xOk(['images', 'pull', REF()]);
  assert.deepEqual(rangeRequests(bigLayer.digest), [`bytes=${kept}-`]);
  assertComplete(b, big);
});

test('diff_ids that do not match the layers: "wrong diff id", no snapshot committed or left, no image record', { skip, timeout: 60_000 }, async () => {
  const base = await buildFixture('busybox');
  const p = base.images[0]!;
  const config = { ...p.config, rootfs: { type: 'layers', diff_ids: [sha256('not the layer')] } };
  const configBytes = jsonBytes(config);
  const configDesc = { ...p.manifest.config, digest: sha256(configBytes), size: configBytes.length };
  const manifestBytes = jsonBytes({ ...p.manifest, config: configDesc });
  const root = { mediaType: p.manifest.mediaType, digest: sha256(manifestBytes), size: manifestBytes.length };
  const blobs = new Map(base.blobs);
  blobs.set(configDesc.digest, configBytes);
  blobs.set(root.digest, manifestBytes);
  const img: Image = { root, blobs, images: [] };
  serve(img);
  for (const sn of ['overlayfs', 'native']) {
    const b = box();
    const r = await b.x(['images', 'pull', '--snapshotter', sn, REF()]);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /diff ?id/i);
    const st = assertConsistent(b.root, sn);
    assert.deepEqual(st.images, [], 'no image record');
    assert.deepEqual(st.snapshots[sn] ?? [], [], 'no snapshot record (committed or extract-)');
    assert.deepEqual(st.backend[sn] ?? [], [], 'no backend snapshot');
    assert.deepEqual(st.leases, []);
    const layer = p.manifest.layers[0]!.digest;
    assert.equal(st.blobs.get(layer)?.['containerd.io/uncompressed'], undefined, 'no uncompressed label');
  }
});

test('containerd running on the root: the pull refuses with exit 7 before any request and writes nothing', { skip, timeout: 60_000 }, async () => {
  serve(big);
  const cd = await startContainerd();
  try {
    // containerd writes meta.db itself (its startup GC): compare what the records say, and the files
    const fingerprint = () => JSON.stringify([blobFiles(cd.root), ingestDirs(cd.root), readState(cd.root)]);
    const before = fingerprint();
    const b = box();
    const t0 = Date.now();
    const r = await b.x(['images', 'pull', REF()], { root: cd.root, state: cd.state });
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /locked|containerd|daemon/);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(srv.requests.length, 0, 'no request reached the registry');
    assert.equal(fingerprint(), before);
    assert.ok(!existsSync(join(cd.root, 'ctrx')), 'no ctrx dir (locks) created');
  } finally {
    await cd.stop();
  }
});

test('the first layer is applied while it downloads; when that download breaks off and restarts, the layer is applied again from the store', { skip, timeout: 60_000 }, async () => {
  const layer = bigFirst.images[0]!.manifest.layers[0]!;
  const data = bigFirst.blobs.get(layer.digest)!;
  const b1 = box();
  serve(bigFirst);
  const ok = await b1.xOk(['--debug', 'images', 'pull', REF()]);
  assert.match(ok.stderr, /timing: layer 1 applied while downloading/);
  assert.match(ok.stderr, /layer 1\/2 \S+ into overlayfs in \d+ ms \(applied while downloading/);
  assertComplete(b1, bigFirst);

  // every connection of the first attempt (the request and the fetcher's reconnections) breaks off; the next attempt resumes
  const b2 = box();
  srv.reset();
  let n = 0;
  serve(bigFirst, (digest, _req, res, start) => {
    if (digest !== layer.digest || ++n > 4) return false;
    res.writeHead(start ? 206 : 200, { 'content-length': data.length - start, ...(start ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}) });
    res.write(data.subarray(start, start + (256 << 10)), () => res.destroy());
    return true;
  });
  const r = await b2.xOk(['--debug', 'images', 'pull', REF()]);
  assert.match(r.stderr, /applying during the download failed .*; applying from the store/);
  assert.match(r.stderr, /layer 1\/2 \S+ into overlayfs in \d+ ms \(applied from the store/);
  assert.ok(n > 4, `the first attempt used its reconnections (${n} requests)`);
  const st = assertComplete(b2, bigFirst);
  assert.equal(st.snapshots.overlayfs!.length, 2, 'no extraction snapshot left behind');
  assert.ok(st.snapshots.overlayfs!.every((s) => s.key.startsWith('sha256:')));
});
