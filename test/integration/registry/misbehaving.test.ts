// A registry that lies, stalls, floods and redirects: every scenario must end
// in a clear CtrxError within a bounded time, never leak a credential into a
// message, and never send credentials to another host.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { CtrxError } from '../../../src/errdefs.js';
import { createResolver, closeIdleConnections, type ResolverOptions } from '../../../src/images/registry/index.js';
import { clearTokenCache } from '../../../src/images/registry/auth.js';
import { fakeImage, serveImage, sha256, startBadServer, streamFiller, type BadServer } from './bad-server.js';

const USER = 'alice';
const PASS = 'S3cr3t-P4ss-w0rd';
const BASIC = 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64');
const TOKEN = 'tok-' + 'Z'.repeat(40);
const SECRETS = [PASS, Buffer.from(`${USER}:${PASS}`).toString('base64'), TOKEN];
const LIMITS = { idleTimeoutMs: 400, retries: 2, retryBaseDelayMs: 10, maxRetryDelayMs: 100, resumeAttempts: 2 };

let srv: BadServer;
const img = fakeImage();
before(async () => {
  srv = await startBadServer();
});
after(async () => {
  closeIdleConnections();
  await srv.close();
});
beforeEach(() => {
  srv.reset();
  clearTokenCache();
  closeIdleConnections();
});

function resolver(o: ResolverOptions = {}) {
  return createResolver({}, { hostsDir: [], user: `${USER}:${PASS}`, dockerConfig: false, limits: LIMITS, ...o });
}
const ref = (tag = 'latest') => `${srv.hostA}/lib/app:${tag}`;

/** Awaits a failure: a CtrxError of the category, matching re, within ms, with no secret anywhere in it. */
async function fails(p: Promise<unknown>, category: string, re: RegExp, ms = 3000): Promise<CtrxError> {
  const t0 = Date.now();
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  const took = Date.now() - t0;
  assert.ok(err instanceof CtrxError, `expected a CtrxError, got ${err === undefined ? 'success' : String(err)}`);
  const text = `${err.subject} ${err.message} ${err.hint ?? ''} ${err.stack ?? ''}`;
  for (const s of SECRETS) assert.ok(!text.includes(s), `secret leaked into: ${text}`);
  assert.match(`${err.message}`, re);
  assert.equal(err.category, category, `${err.category}: ${err.message}`);
  assert.ok(took < ms, `took ${took}ms (bound ${ms}ms)`);
  return err;
}

async function drain(stream: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of stream) n += c.byteLength;
  return n;
}

const blobPath = (d: string) => `/v2/lib/app/blobs/${d}`;
const isBlob = (req: http.IncomingMessage) => req.url === blobPath(img.layerDesc.digest);

test('sanity: the fake image resolves and fetches, with Range resume', async () => {
  srv.handle((req, res) => void (serveImage(img, req, res) || ((res.statusCode = 404), res.end())));
  const r = resolver();
  const got = await r.resolve(ref());
  assert.deepEqual(got.desc, img.manifestDesc);
  const f = r.fetcher(got.ref);
  const { manifest } = await f.readManifest(got.desc);
  assert.equal(manifest.layers[0]!.digest, img.layerDesc.digest);
  const part = await f.fetch(img.layerDesc, { offset: 1000 });
  assert.equal(part.resumedFrom, 1000);
  assert.equal(await drain(part.stream), img.layer.length - 1000);
  assert.equal(srv.requests.at(-1)!.headers.range, 'bytes=1000-');
});

test('wrong digest: the stream fails and the last chunk is withheld', async () => {
  const evil = Buffer.from(img.layer);
  evil[evil.length - 1] ^= 0xff;
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-length': evil.length });
    res.end(evil);
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc);
  let received = 0;
  await fails(
    (async () => {
      for await (const c of r.stream) received += c.byteLength;
    })(),
    'failed-precondition',
    /digest mismatch/,
  );
  assert.ok(received < img.layer.length, `consumer got ${received} of ${img.layer.length} bytes`);
});

test('body longer than the size (no Content-Length, endless): reading stops right after the size', async () => {
  srv.handle((req, res) => {
    res.writeHead(200);
    void streamFiller(res, 500 << 20);
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc);
  await fails(drain(r.stream), 'failed-precondition', /more than the 262144 bytes/);
  await new Promise((x) => setTimeout(x, 100));
  assert.ok(srv.bytesSent() < 20 << 20, `server wrote ${srv.bytesSent()} bytes`);
});

test('Content-Length different from the descriptor size is refused before reading', async () => {
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-length': img.layer.length + 10 });
    res.end(Buffer.concat([img.layer, Buffer.alloc(10)]));
  });
  await fails(resolver().fetcher(ref()).fetch(img.layerDesc), 'failed-precondition', /Content-Length 262154 for 262144/);
});

test('connection reset mid-body: the stream resumes with Range and completes', async () => {
  srv.handle((req, res) => {
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (!range) {
      res.writeHead(200, { 'content-length': img.layer.length });
      res.write(img.layer.subarray(0, 100_000), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    serveImage(img, req, res);
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc);
  assert.equal(await drain(r.stream), img.layer.length);
  const ranges = srv.requests.map((q) => q.headers.range);
  assert.equal(ranges[0], undefined);
  assert.match(String(ranges[1]), /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(String(ranges[1]))![0]) >= 65536, 'resumed past what was received');
});

test('reset mid-body and a server that ignores Range: the overlap is dropped, the blob still verifies', async () => {
  let n = 0;
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-length': img.layer.length });
    if (n++ === 0) res.write(img.layer.subarray(0, 150_000), () => setTimeout(() => res.destroy(), 20));
    else res.end(img.layer);
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc);
  assert.equal(await drain(r.stream), img.layer.length);
  assert.equal(srv.requests.length, 2);
  assert.ok(srv.requests[1]!.headers.range, 'asked for a Range the second time');
});

test('resume by offset on a server that ignores Range: resumedFrom 0 and the whole blob', async () => {
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-length': img.layer.length });
    res.end(img.layer);
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc, { offset: 5000 });
  assert.equal(r.resumedFrom, 0);
  assert.equal(r.verified, true);
  assert.equal(await drain(r.stream), img.layer.length);
});

test('206 at the wrong offset: the client restarts from 0 without Range', async () => {
  srv.handle((req, res) => {
    if (req.headers.range) {
      res.writeHead(206, { 'content-range': `bytes 10-${img.layer.length - 1}/${img.layer.length}`, 'content-length': img.layer.length - 10 });
      res.end(img.layer.subarray(10));
      return;
    }
    res.writeHead(200, { 'content-length': img.layer.length });
    res.end(img.layer);
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc, { offset: 5000 });
  assert.equal(r.resumedFrom, 0);
  assert.equal(await drain(r.stream), img.layer.length);
});

test('a body that always breaks: an error after the resume attempts, naming the lost connection', async () => {
  srv.handle((req, res) => {
    res.writeHead(req.headers.range ? 206 : 200, req.headers.range ? { 'content-range': `bytes ${/\d+/.exec(String(req.headers.range))![0]}-${img.layer.length - 1}/${img.layer.length}` } : { 'content-length': img.layer.length });
    res.write(Buffer.alloc(10), () => setTimeout(() => res.destroy(), 10));
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc);
  await fails(drain(r.stream), 'unavailable', /lost/);
  assert.equal(srv.requests.length, 1 + LIMITS.resumeAttempts);
});

test('lying Docker-Content-Digest on HEAD: reading the manifest catches it', async () => {
  const other = sha256('something else');
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-type': img.manifestDesc.mediaType, 'docker-content-digest': other, 'content-length': img.manifest.length });
    res.end(req.method === 'HEAD' ? undefined : img.manifest);
  });
  const r = resolver();
  const got = await r.resolve(ref());
  assert.equal(got.desc.digest, other);
  await fails(r.fetcher(got.ref).readManifest(got.desc), 'failed-precondition', /digest mismatch/);
});

test('lying Docker-Content-Digest on GET: resolve refuses it', async () => {
  srv.handle((req, res) => {
    if (req.method === 'HEAD') {
      res.statusCode = 405;
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': img.manifestDesc.mediaType, 'docker-content-digest': sha256('lie') });
    res.end(img.manifest);
  });
  await fails(resolver().resolve(ref()), 'failed-precondition', /Docker-Content-Digest .* does not match/);
});

test('a pull by digest must hash to that digest', async () => {
  srv.handle((req, res) => {
    if (req.method === 'HEAD') {
      res.statusCode = 405;
      return void res.end();
    }
    res.writeHead(200, { 'content-type': img.manifestDesc.mediaType });
    res.end(img.manifest.subarray(0, -1) + ' ');
  });
  await fails(resolver().resolve(`${srv.hostA}/lib/app@${img.manifestDesc.digest}`), 'failed-precondition', /hashes to/);
});

test('100 MB manifest (chunked): capped at 4 MiB, memory and bytes read bounded', async () => {
  srv.handle((req, res) => {
    if (req.method === 'HEAD') {
      res.statusCode = 405;
      return void res.end();
    }
    res.writeHead(200, { 'content-type': img.manifestDesc.mediaType });
    void streamFiller(res, 100 << 20);
  });
  const rss0 = process.memoryUsage().rss;
  await fails(resolver().resolve(ref()), 'failed-precondition', /over the limit of 4194304/);
  await new Promise((x) => setTimeout(x, 100));
  assert.ok(srv.bytesSent() < 24 << 20, `server wrote ${srv.bytesSent()} bytes`);
  assert.ok(process.memoryUsage().rss - rss0 < 80 << 20, 'memory stays bounded');
});

test('100 MB manifest announced by Content-Length: refused without reading', async () => {
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-type': img.manifestDesc.mediaType, 'content-length': 100 << 20, 'docker-content-digest': img.manifestDesc.digest });
    if (req.method === 'HEAD') return void res.end();
    void streamFiller(res, 100 << 20);
  });
  await fails(resolver().resolve(ref()), 'failed-precondition', /104857600 bytes, over the limit/);
  const big = { ...img.manifestDesc, size: 100 << 20 };
  await fails(resolver().fetcher(ref()).readManifest(big), 'failed-precondition', /over the limit/);
});

test('50 MB error body: read up to 64 KiB and quoted briefly', async () => {
  srv.handle((req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    void streamFiller(res, 50 << 20);
  });
  const e = await fails(resolver().fetcher(ref()).fetch(img.layerDesc), 'not-found', /not found/);
  assert.ok(e.message.length < 400, `message is ${e.message.length} chars`);
  await new Promise((x) => setTimeout(x, 100));
  assert.ok(srv.bytesSent() < 20 << 20, `server wrote ${srv.bytesSent()} bytes`);
});

/** A registry behind a token server; `tokenBody` decides what /token answers. */
function tokenRegistry(tokenBody: (req: http.IncomingMessage, res: http.ServerResponse) => void, realm = `${srv.urlA}/token`) {
  srv.handle((req, res) => {
    if (req.url?.startsWith('/token')) return tokenBody(req, res);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="bad",scope="repository:lib/app:pull"`, 'content-type': 'application/json' });
      return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    if (!serveImage(img, req, res)) {
      res.statusCode = 404;
      res.end();
    }
  });
}

test('token dance: credentials go to the realm once, the token is cached per scope', async () => {
  tokenRegistry((req, res) => {
    assert.equal(req.headers.authorization, BASIC);
    res.end(JSON.stringify({ token: TOKEN, expires_in: 300 }));
  });
  const r = resolver();
  const got = await r.resolve(ref());
  const f = r.fetcher(got.ref);
  await f.readManifest(got.desc);
  await drain((await f.fetch(img.layerDesc)).stream);
  const tokenReqs = srv.requests.filter((q) => q.path.startsWith('/token'));
  assert.equal(tokenReqs.length, 1, 'one token for the scope');
  const q = new URL(tokenReqs[0]!.path, 'http://x').searchParams;
  assert.equal(q.get('service'), 'bad');
  assert.deepEqual(q.getAll('scope'), ['repository:lib/app:pull']);
  assert.equal(srv.requests.filter((x) => x.headers.authorization === BASIC && !x.path.startsWith('/token')).length, 0, 'Basic credentials only to the realm');
});

test('10 MB token response: capped at 1 MiB', async () => {
  tokenRegistry((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    void streamFiller(res, 10 << 20);
  });
  await fails(resolver().resolve(ref()), 'unavailable', /token response is over the limit of 1048576/);
});

test('invalid token JSON and tokens without a token', async () => {
  tokenRegistry((req, res) => res.end('{"token": '));
  await fails(resolver().resolve(ref()), 'unavailable', /not valid JSON/);
  clearTokenCache();
  tokenRegistry((req, res) => res.end('{"nothing": true}'));
  await fails(resolver().resolve(ref()), 'unavailable', /without a token/);
  clearTokenCache();
  tokenRegistry((req, res) => res.end(JSON.stringify({ token: 'a\r\nX-Injected: 1' })));
  await fails(resolver().resolve(ref()), 'unavailable', /malformed token/);
});

test('endless 401 after a fresh token: "authorization failed", no loop', async () => {
  srv.handle((req, res) => {
    if (req.url?.startsWith('/token')) return void res.end(JSON.stringify({ token: TOKEN }));
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${srv.urlA}/token",service="x"` });
    res.end(`{"errors":[{"code":"DENIED","message":"you sent ${req.headers.authorization}"}]}`);
  });
  await fails(resolver().resolve(ref()), 'permission-denied', /authorization failed: .* refused the credentials of user "alice"/);
  assert.equal(srv.requests.filter((q) => q.path.startsWith('/token')).length, 1);
  assert.ok(srv.requests.length <= 4, `${srv.requests.length} requests`);
});

test('a token server that refuses the credentials', async () => {
  tokenRegistry((req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(`{"details":"bad password ${req.headers.authorization}"}`);
  });
  await fails(resolver().resolve(ref()), 'permission-denied', /token server .* refused the credentials of user "alice"/);
});

for (const [name, realm, re] of [
  ['a link-local metadata IP', 'http://169.254.169.254/latest/token', /metadata address/],
  ['a private IP while the registry is on loopback', 'http://10.0.0.1/token', /private address and the registry is not/],
  ['file://', 'file:///etc/passwd', /scheme "file"/],
  ['a metadata host name', 'http://metadata.google.internal/token', /metadata host/],
  ['garbage', 'not a url', /invalid token realm/],
] as const) {
  test(`bearer realm on ${name} is refused before any request to it`, async () => {
    tokenRegistry(() => assert.fail('token server contacted'), realm);
    await fails(resolver().resolve(ref()), 'unavailable', re, 1500);
    assert.ok(srv.requests.every((q) => !q.path.startsWith('/token')));
  });
}

test('redirect to another host: Authorization is not forwarded', async () => {
  srv.handle((req, res, { server }) => {
    if (server === 'b') {
      res.writeHead(200, { 'content-length': img.layer.length });
      return void res.end(img.layer);
    }
    if (req.headers.authorization !== BASIC) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      return void res.end();
    }
    if (isBlob(req)) {
      res.writeHead(307, { location: `${srv.urlB}/storage/blob?X-Signature=sig` });
      return void res.end();
    }
    if (!serveImage(img, req, res)) res.end();
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc);
  assert.equal(await drain(r.stream), img.layer.length);
  const atB = srv.requests.filter((q) => q.server === 'b');
  assert.equal(atB.length, 1);
  assert.equal(atB[0]!.headers.authorization, undefined, 'no Authorization at the other host');
  assert.ok(srv.requests.some((q) => q.server === 'a' && q.headers.authorization === BASIC), 'the registry itself got the credentials');
});

test('a 401 from the redirect target is not answered with credentials', async () => {
  srv.handle((req, res, { server }) => {
    if (server === 'b') {
      res.writeHead(401, { 'www-authenticate': `Basic realm="steal"` });
      return void res.end();
    }
    if (req.headers.authorization !== BASIC) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      return void res.end();
    }
    res.writeHead(302, { location: `${srv.urlB}/x` });
    res.end();
  });
  await fails(resolver().fetcher(ref()).fetch(img.layerDesc), 'permission-denied', /after a redirect/);
  assert.ok(srv.requests.filter((q) => q.server === 'b').every((q) => q.headers.authorization === undefined));
});

for (const [name, location, re] of [
  ['169.254.169.254', 'http://169.254.169.254/latest/meta-data/', /refusing redirect .* metadata/],
  ['file://', 'file:///etc/passwd', /refusing redirect .* scheme "file"/],
  ['a private address', 'http://192.168.1.1/blob', /private address/],
  ['an IPv4-mapped metadata address', 'http://[::ffff:169.254.169.254]/', /metadata/],
] as const) {
  test(`redirect to ${name} is refused`, async () => {
    srv.handle((req, res) => {
      res.writeHead(302, { location });
      res.end();
    });
    await fails(resolver().fetcher(ref()).fetch(img.layerDesc), 'unavailable', re, 1500);
  });
}

test('more than 10 redirects', async () => {
  srv.handle((req, res) => {
    const n = Number(new URL(req.url!, 'http://x').searchParams.get('n') ?? 0);
    res.writeHead(302, { location: `/hop?n=${n + 1}` });
    res.end();
  });
  await fails(resolver().fetcher(ref()).fetch(img.layerDesc), 'unavailable', /more than 10 redirects/);
  assert.equal(srv.requests.length, 11);
});

test('redirect loops between two hosts', async () => {
  srv.handle((req, res, { server }) => {
    res.writeHead(302, { location: server === 'a' ? `${srv.urlB}/loop` : `${srv.urlA}/loop` });
    res.end();
  });
  await fails(resolver().fetcher(ref()).fetch(img.layerDesc), 'unavailable', /redirect loop/);
  assert.ok(srv.requests.length <= 4);
});

test('a silent server: the no-progress timeout fires within the configured time', async () => {
  srv.handle(() => {
    /* never answers */
  });
  const t0 = Date.now();
  await fails(resolver().resolve(ref()), 'unavailable', /no progress for 0\.4s/, 2500);
  assert.ok(Date.now() - t0 >= 350);
});

test('a server that stalls mid-body: no-progress error, no reconnect storm', async () => {
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-length': img.layer.length });
    res.write(img.layer.subarray(0, 1000));
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc);
  await fails(drain(r.stream), 'unavailable', /no progress/, 2000);
  assert.equal(srv.requests.length, 1);
});

test('429 with a huge Retry-After: retried with the cap, then a clear error', async () => {
  srv.handle((req, res) => {
    res.writeHead(429, { 'retry-after': '86400', 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
  });
  const e = await fails(resolver().fetcher(ref()).fetch(img.layerDesc), 'unavailable', /rate limited .*TOOMANYREQUESTS: slow down/, 1500);
  assert.match(e.hint ?? '', /Retry-After: 86400/);
  assert.equal(srv.requests.length, 1 + LIMITS.retries);
});

test('503 then success: retried transparently', async () => {
  let n = 0;
  srv.handle((req, res) => {
    if (n++ === 0) {
      res.writeHead(503, { 'retry-after': '0' });
      return void res.end();
    }
    serveImage(img, req, res);
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc);
  assert.equal(await drain(r.stream), img.layer.length);
});

test('schema 1 manifests are refused with an explanation', async () => {
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
    res.end(req.method === 'HEAD' ? undefined : '{"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[]}');
  });
  await fails(resolver().resolve(ref()), 'failed-precondition', /schema 1 manifests are not supported/);
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.method === 'HEAD' ? undefined : '{"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[]}');
  });
  await fails(resolver().resolve(ref()), 'failed-precondition', /schema 1/);
});

test('text/html 200 instead of a manifest', async () => {
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : '<html><body>Please log in</body></html>');
  });
  await fails(resolver().resolve(ref()), 'invalid-argument', /HTML page/);
});

test('an index with both manifests and layers is refused', async () => {
  const doc = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [img.manifestDesc], layers: [img.layerDesc] }));
  srv.handle((req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': sha256(doc), 'content-length': doc.length });
    res.end(req.method === 'HEAD' ? undefined : doc);
  });
  const r = resolver();
  const got = await r.resolve(ref());
  await fails(r.fetcher(got.ref).readIndex(got.desc), 'invalid-argument', /ambiguous/);
  srv.handle((req, res) => {
    if (req.method === 'HEAD') return void ((res.statusCode = 405), res.end());
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
    res.end(doc);
  });
  await fails(resolver().resolve(ref('other')), 'invalid-argument', /ambiguous/);
});

test('an error body that echoes the credentials is redacted', async () => {
  srv.handle((req, res) => {
    if (!req.headers.authorization) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      return void res.end();
    }
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`internal error for ${req.headers.authorization} (${PASS})`);
  });
  const e = await fails(resolver().fetcher(ref()).fetch(img.layerDesc), 'unavailable', /registry error: HTTP 500/);
  assert.match(e.message, /\*\*\*/);
});

test('connection refused and unknown blobs give clear errors', async () => {
  srv.handle((req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}');
  });
  await fails(resolver().fetcher(ref()).fetch(img.layerDesc), 'not-found', /not found on 127\.0\.0\.1/);
  await fails(resolver().resolve('127.0.0.1:1/x/y:z'), 'unavailable', /connection refused/);
});

test('login goes through the token dance without a scope; refused credentials are "authorization failed"', async () => {
  const { verifyLogin } = await import('../../../src/images/registry/index.js');
  let good = true;
  srv.handle((req, res) => {
    if (req.url?.startsWith('/token')) {
      if (!good || req.headers.authorization !== BASIC) {
        res.writeHead(401);
        return void res.end();
      }
      return void res.end(JSON.stringify({ access_token: TOKEN }));
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${srv.urlA}/token",service="reg"` });
      return void res.end();
    }
    res.end('{}');
  });
  const ok = await verifyLogin(srv.hostA, { username: USER, secret: PASS }, { limits: LIMITS });
  assert.equal(ok.endpoint, `${srv.urlA}/v2`);
  const tok = srv.requests.find((q) => q.path.startsWith('/token'))!;
  const q = new URL(tok.path, 'http://x').searchParams;
  assert.equal(q.get('service'), 'reg');
  assert.equal(q.getAll('scope').length, 0);
  assert.equal(q.get('account'), USER);
  good = false;
  clearTokenCache();
  await fails(verifyLogin(srv.hostA, { username: USER, secret: PASS }, { limits: LIMITS }), 'permission-denied', /token server .* refused the credentials of user "alice"/);
});

test('host names are checked on the addresses they resolve to, at connection time', async () => {
  const { send } = await import('../../../src/images/registry/http.js');
  srv.handle((req, res) => void res.end('ok'));
  const port = srv.hostA.split(':')[1];
  const seen: string[] = [];
  await fails(
    send({ method: 'GET', url: new URL(`http://localhost:${port}/x`), idleTimeoutMs: 1000, addressGuard: (a) => (seen.push(a), 'not this one') }),
    'unavailable',
    /refusing localhost: not this one/,
  );
  assert.ok(seen.length >= 1 && seen.every((a) => a === '127.0.0.1' || a === '::1'), seen.join());
  assert.equal(srv.requests.length, 0, 'no connection was made');
  const ok = await send({ method: 'GET', url: new URL(`http://localhost:${port}/x`), idleTimeoutMs: 1000, addressGuard: () => undefined });
  assert.equal((await ok.read(100, 'body')).toString(), 'ok');
});

test('a redirect to a host name of the same class is followed (localhost from 127.0.0.1)', async () => {
  const port = srv.hostA.split(':')[1];
  srv.handle((req, res) => {
    if (req.headers.host?.startsWith('localhost')) {
      res.writeHead(200, { 'content-length': img.layer.length });
      return void res.end(img.layer);
    }
    res.writeHead(307, { location: `http://localhost:${port}/blob` });
    res.end();
  });
  const r = await resolver().fetcher(ref()).fetch(img.layerDesc);
  assert.equal(await drain(r.stream), img.layer.length);
});

test('an abort signal cancels a request in flight', async () => {
  srv.handle(() => {});
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await fails(resolver({ signal: ac.signal, limits: { ...LIMITS, idleTimeoutMs: 10_000 } }).resolve(ref()), 'unavailable', /cancelled/, 1000);
});
