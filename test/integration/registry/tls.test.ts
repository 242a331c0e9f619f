// TLS: a registry with a self-signed certificate fails unless its CA is given
// (--tlscacert, hosts.toml ca) or verification is skipped (--skip-verify,
// hosts.toml skip_verify); HTTPS against a plain-HTTP server says so. Never a
// silent fallback to plain HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CtrxError } from '../../../src/errdefs.js';
import { closeIdleConnections, createResolver, verifyLogin } from '../../../src/images/registry/index.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { fakeImage, serveImage, startBadServer, type BadServer } from './bad-server.js';

const img = fakeImage(4096);
let dir: string;
let server: https.Server;
let host: string;
let plain: BadServer;
let caFile: string;

before(async () => {
  dir = makeTempDir('ctrx-tls-');
  caFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '1', '-subj', '/CN=ctrx-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  server = https.createServer({ key: readFileSync(keyFile), cert: readFileSync(caFile) }, (req, res) => {
    if (!serveImage(img, req, res)) {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r2) => server.listen(0, '127.0.0.1', r2));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  plain = await startBadServer();
  plain.handle((req, res) => void (serveImage(img, req, res) || res.end()));
});
after(async () => {
  closeIdleConnections();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await plain.close();
  removeTempDir(dir);
});

/** A hosts dir saying the registry is served over HTTPS, plus extra hosts.toml lines. */
function httpsHosts(registry: string, extra = ''): string {
  const d = path.join(dir, `hosts-${Math.random().toString(36).slice(2)}`);
  mkdirSync(path.join(d, registry), { recursive: true });
  writeFileSync(path.join(d, registry, 'hosts.toml'), `server = "https://${registry}"\n${extra}`);
  return d;
}

test('a self-signed registry is refused by default, with a hint', async () => {
  const r = createResolver({}, { hostsDir: httpsHosts(host), dockerConfig: false });
  await assert.rejects(r.resolve(`${host}/lib/app:latest`), (e: unknown) => {
    assert.ok(e instanceof CtrxError);
    assert.equal(e.category, 'unavailable');
    assert.match(e.message, /TLS failure with 127\.0\.0\.1:\d+/);
    assert.match(e.hint ?? '', /--tlscacert/);
    return true;
  });
});

test('--tlscacert trusts it', async () => {
  const r = createResolver({}, { hostsDir: httpsHosts(host), dockerConfig: false, tlsCaCert: caFile });
  const got = await r.resolve(`${host}/lib/app:latest`);
  assert.equal(got.desc.digest, img.manifestDesc.digest);
  assert.equal(got.endpoint.base, `https://${host}/v2`);
});

test('--skip-verify accepts it', async () => {
  const r = createResolver({}, { hostsDir: httpsHosts(host), dockerConfig: false, skipVerify: true });
  assert.equal((await r.resolve(`${host}/lib/app:latest`)).desc.digest, img.manifestDesc.digest);
});

test('hosts.toml ca (relative to its directory) and skip_verify', async () => {
  const d = httpsHosts(host, `ca = "../../cert.pem"\n`);
  assert.equal((await createResolver({}, { hostsDir: d, dockerConfig: false }).resolve(`${host}/lib/app:latest`)).desc.digest, img.manifestDesc.digest);
  const s = httpsHosts(host, 'skip_verify = true\n');
  assert.equal((await createResolver({}, { hostsDir: s, dockerConfig: false }).resolve(`${host}/lib/app:latest`)).desc.digest, img.manifestDesc.digest);
});

test('HTTPS against a plain-HTTP registry: a clear error suggesting --plain-http, no silent fallback', async () => {
  const r = createResolver({}, { hostsDir: httpsHosts(plain.hostA), dockerConfig: false });
  await assert.rejects(r.resolve(`${plain.hostA}/lib/app:latest`), (e: unknown) => {
    assert.ok(e instanceof CtrxError);
    assert.match(e.message, /TLS failure .*does not speak TLS/);
    assert.match(e.hint ?? '', /--plain-http/);
    return true;
  });
  assert.equal(plain.requests.length, 0, 'no plain HTTP request was made');
});

test('login over TLS: --tlscacert or an https:// server argument selects TLS for a loopback registry', async () => {
  // The self-signed server has no auth: an open /v2/ means success.
  await assert.rejects(verifyLogin(host, { username: 'u', secret: 'p' }, { limits: { retryBaseDelayMs: 10 } }), (e: unknown) => e instanceof CtrxError && /hosts\.toml/.test(e.hint ?? ''), 'loopback means plain HTTP by default: the TLS server drops it');
  assert.equal((await verifyLogin(host, { username: 'u', secret: 'p' }, { tlsCaCert: caFile })).endpoint, `https://${host}/v2`);
  assert.equal((await verifyLogin(`https://${host}`, { username: 'u', secret: 'p' }, { skipVerify: true })).endpoint, `https://${host}/v2`);
  await assert.rejects(verifyLogin(`https://${host}`, { username: 'u', secret: 'p' }, {}), (e: unknown) => e instanceof CtrxError && /TLS failure/.test(e.message));
});

test('a CA for a loopback registry means TLS for pulls too', async () => {
  const r = createResolver({}, { hostsDir: [], dockerConfig: false, tlsCaCert: caFile });
  assert.equal((await r.resolve(`${host}/lib/app:latest`)).endpoint.base, `https://${host}/v2`);
});
