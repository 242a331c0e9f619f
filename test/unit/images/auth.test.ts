import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, symlinkSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CtrxError } from '../../../src/errdefs.js';
import { parseChallenges } from '../../../src/images/registry/challenge.js';
import { addressRefusal, classifyIp, isLoopbackHost, targetRefusal } from '../../../src/images/registry/netpolicy.js';
import { addCredential, quoteServerText, redact, safeUrl } from '../../../src/images/registry/redact.js';
import { retryAfterMs } from '../../../src/images/registry/request.js';
import { authKeyFor, lookupDockerCredential, normalizeServer, parseUserFlag, removeLogin, saveLogin } from '../../../src/images/registry/credentials.js';
import { loginRegistry } from '../../../src/images/registry/login.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeTempDir));
const tmp = (): string => {
  const d = makeTempDir('ctrx-auth-');
  dirs.push(d);
  return d;
};

const params = (c: { params: Map<string, string> }) => Object.fromEntries(c.params);

test('WWW-Authenticate: Docker Hub style bearer challenge', () => {
  const [c, ...rest] = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"');
  assert.equal(rest.length, 0);
  assert.equal(c!.scheme, 'bearer');
  assert.deepEqual(params(c!), { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/redis:pull' });
});

test('WWW-Authenticate: several challenges, spaces, case, tokens and escapes', () => {
  const cs = parseChallenges('Basic realm="Registry Realm", BEARER  Realm = "https://a/t" , Service=svc, error="insufficient_scope",scope="x:\\"y\\":z"');
  assert.deepEqual(cs.map((c) => c.scheme), ['basic', 'bearer']);
  assert.deepEqual(params(cs[0]!), { realm: 'Registry Realm' });
  assert.deepEqual(params(cs[1]!), { realm: 'https://a/t', service: 'svc', error: 'insufficient_scope', scope: 'x:"y":z' });
});

test('WWW-Authenticate: token68, empty, garbage and huge headers never throw', () => {
  assert.deepEqual(parseChallenges('Negotiate abc123==').map((c) => c.scheme), ['negotiate']);
  assert.deepEqual(parseChallenges('Basic'), [{ scheme: 'basic', params: new Map() }]);
  assert.deepEqual(parseChallenges(''), []);
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges('x'.repeat(100_000)), []);
  for (const g of ['"""', ',,,', '=', 'Bearer realm="unterminated', 'Bearer realm=', '\u0000\u0001', 'Bearer ,realm="a"']) {
    assert.doesNotThrow(() => parseChallenges(g), g);
  }
  const [c] = parseChallenges('Bearer realm="a", realm="b"');
  assert.equal(c!.params.get('realm'), 'a', 'the first value of a repeated parameter wins');
});

test('address classes', () => {
  const cases: [string, string | undefined][] = [
    ['127.0.0.1', 'loopback'], ['127.0.0.2', 'loopback'], ['::1', 'loopback'], ['[::1]', 'loopback'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.32.0.1', 'public'], ['192.168.1.1', 'private'], ['fd00::1', 'private'], ['100.64.0.1', 'private'],
    ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'], ['::ffff:169.254.169.254', 'link-local'], ['::ffff:a9fe:a9fe', 'link-local'],
    ['0.0.0.0', 'unspecified'], ['::', 'unspecified'], ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'], ['240.0.0.1', 'reserved'],
    ['8.8.8.8', 'public'], ['2001:db8::1', 'public'], ['example.com', undefined],
  ];
  for (const [ip, want] of cases) assert.equal(classifyIp(ip), want, ip);
  assert.ok(isLoopbackHost('localhost:5000'));
  assert.ok(isLoopbackHost('127.9.9.9:80'));
  assert.ok(isLoopbackHost('[::1]:5000'));
  assert.ok(!isLoopbackHost('10.0.0.1:5000'));
  assert.ok(!isLoopbackHost('localhost.example.com'));
});

test('redirect and realm policy', () => {
  const pub = new URL('https://registry.example.com/v2/');
  const loop = new URL('http://127.0.0.1:5000/v2/');
  const priv = new URL('http://10.0.0.5:5000/v2/');
  const refuse = (t: string, o: URL, re: RegExp) => assert.match(targetRefusal(new URL(t), o) ?? 'ALLOWED', re, t);
  const allow = (t: string, o: URL) => assert.equal(targetRefusal(new URL(t), o), undefined, t);
  refuse('http://169.254.169.254/latest/meta-data/', loop, /metadata/);
  refuse('http://[::ffff:169.254.169.254]/', pub, /metadata/);
  refuse('http://169.254.1.1/', priv, /link-local/);
  refuse('http://metadata.google.internal/', pub, /metadata host/);
  refuse('file:///etc/passwd', loop, /scheme "file"/);
  refuse('ftp://x/', pub, /scheme/);
  refuse('https://user:pw@cdn.example.com/', pub, /user info/);
  refuse('http://127.0.0.1/', pub, /loopback .* registry is not/);
  refuse('http://localhost/', pub, /loopback/);
  refuse('https://10.0.0.1/', pub, /private .* registry is not/);
  refuse('https://10.0.0.1/', loop, /private .* registry is not/);
  refuse('http://cdn.example.com/', pub, /downgrade/);
  refuse('http://0.0.0.0/', loop, /unspecified/);
  allow('https://cdn.example.com/blob', pub);
  allow('http://127.0.0.2:5000/x', loop);
  allow('http://10.0.0.6/x', priv);
  allow('https://auth.docker.io/token', pub);
  assert.equal(addressRefusal('127.0.0.1', 'public'), '127.0.0.1 is a loopback address and the registry is not');
  assert.equal(addressRefusal('93.184.216.34', 'loopback'), undefined);
});

test('redaction covers the secret, user:secret and their base64', () => {
  addCredential('alice', 'correct-horse-battery');
  const b64 = Buffer.from('alice:correct-horse-battery').toString('base64');
  const text = `x correct-horse-battery y Basic ${b64} z ${encodeURIComponent('correct-horse-battery')}`;
  assert.doesNotMatch(redact(text), /correct-horse|Y29ycmVjdC/);
  assert.equal(safeUrl('https://u:p@host.example.com:8443/v2/x?X-Amz-Signature=abc#f'), 'https://host.example.com:8443/v2/x');
  assert.equal(quoteServerText('a\u0000b\nc correct-horse-battery ' + 'z'.repeat(500), 30).length <= 31, true);
  assert.doesNotMatch(quoteServerText('echo correct-horse-battery'), /correct-horse/);
});

test('Retry-After: seconds, HTTP dates, garbage', () => {
  assert.equal(retryAfterMs('5'), 5000);
  assert.equal(retryAfterMs('999999999'), 999999999000);
  const now = Date.parse('Sun, 06 Nov 1994 08:49:30 GMT');
  assert.equal(retryAfterMs('Sun, 06 Nov 1994 08:49:37 GMT', now), 7000);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs(undefined), undefined);
  assert.equal(retryAfterMs('-1'), undefined);
});

test('-u user[:password]', () => {
  assert.deepEqual(parseUserFlag('bob'), { username: 'bob' });
  assert.deepEqual(parseUserFlag('bob:pa:ss'), { username: 'bob', secret: 'pa:ss' });
  assert.deepEqual(parseUserFlag('bob:'), { username: 'bob', secret: '' });
  assert.throws(() => parseUserFlag(':x'), CtrxError);
  assert.throws(() => parseUserFlag('a b:c'), CtrxError);
});

test('server spellings normalise; Docker Hub is stored under its legacy key', () => {
  for (const s of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/', 'HTTPS://Index.Docker.IO/v1/']) {
    assert.equal(normalizeServer(s), 'docker.io', s);
    assert.equal(authKeyFor(s), 'https://index.docker.io/v1/');
  }
  assert.equal(normalizeServer('http://localhost:5000/v2/'), 'localhost:5000');
  assert.equal(authKeyFor('quay.io'), 'quay.io');
  assert.equal(loginRegistry(undefined), 'docker.io');
  assert.equal(loginRegistry('127.0.0.1:5000'), '127.0.0.1:5000');
  for (const bad of ['a b', 'user:pw@host', 'ho_st', 'host:5000\n']) assert.throws(() => loginRegistry(bad), CtrxError, bad);
});

test('docker config: lookup by any spelling, auth or username/password, identity tokens', () => {
  const dir = tmp();
  const file = path.join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:hubpass').toString('base64') },
        'http://localhost:5000': { username: 'loc', password: 'locpass' },
        'quay.io': { identitytoken: 'refresh-abc' },
        'broken.io': { auth: 'bm9jb2xvbg==' },
      },
      credsStore: 'desktop',
    }),
  );
  assert.deepEqual(lookupDockerCredential('registry-1.docker.io', file), { username: 'hub', secret: 'hubpass' });
  assert.deepEqual(lookupDockerCredential('docker.io', file), { username: 'hub', secret: 'hubpass' });
  assert.deepEqual(lookupDockerCredential('localhost:5000', file), { username: 'loc', secret: 'locpass' });
  assert.deepEqual(lookupDockerCredential('quay.io', file), { username: '<token>', secret: 'refresh-abc' });
  assert.equal(lookupDockerCredential('broken.io', file), undefined);
  assert.equal(lookupDockerCredential('other.io', file), undefined);
  assert.equal(lookupDockerCredential('x.io', path.join(dir, 'missing.json')), undefined);
});

test('docker config: a broken file is an error that never quotes its content', () => {
  const dir = tmp();
  const file = path.join(dir, 'config.json');
  writeFileSync(file, '{"auths": {"x": {"auth": "c2VjcmV0LXZhbHVl"}} trailing');
  assert.throws(() => lookupDockerCredential('x', file), (e: unknown) => e instanceof CtrxError && !/c2VjcmV0|secret-value/.test(`${e.message} ${e.subject}`));
});

test('saveLogin/removeLogin: 0600, atomic, other keys and entries preserved, symlink followed', () => {
  const dir = tmp();
  const file = path.join(dir, 'config.json');
  const original = { auths: { 'quay.io': { auth: 'eDp5' }, 'index.docker.io': { auth: 'b2xkOm9sZA==' } }, credsStore: '', proxies: { default: { httpProxy: 'http://p' } }, __proto__x: 1 };
  writeFileSync(file, JSON.stringify(original), { mode: 0o644 });
  const key = saveLogin('docker.io', { username: 'new', secret: 'newpass' }, file);
  assert.equal(key, 'https://index.docker.io/v1/');
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(Object.keys(doc.auths).sort(), ['https://index.docker.io/v1/', 'quay.io'], 'the old spelling of the same registry is replaced');
  assert.equal(Buffer.from(doc.auths['https://index.docker.io/v1/'].auth, 'base64').toString(), 'new:newpass');
  assert.deepEqual(doc.proxies, original.proxies);
  assert.equal(doc.__proto__x, 1);
  assert.deepEqual(readdirSync(dir), ['config.json'], 'no temp file left behind');
  assert.deepEqual(removeLogin('registry-1.docker.io', file), ['https://index.docker.io/v1/']);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, 'utf8')).auths), ['quay.io']);
  assert.deepEqual(removeLogin('docker.io', file), [], 'a second logout removes nothing');

  const real = path.join(dir, 'real.json');
  writeFileSync(real, '{}');
  const link = path.join(dir, 'link.json');
  symlinkSync(real, link);
  saveLogin('127.0.0.1:5000', { username: 'u', secret: 'p' }, link);
  assert.ok(lstatSync(link).isSymbolicLink(), 'the symlink stays');
  assert.ok(JSON.parse(readFileSync(real, 'utf8')).auths['127.0.0.1:5000']);
});

test('saveLogin creates the directory and file when missing', () => {
  const dir = tmp();
  const file = path.join(dir, 'sub', 'config.json');
  saveLogin('reg.io:5000', { username: 'a', secret: 'b' }, file);
  assert.deepEqual(lookupDockerCredential('reg.io:5000', file), { username: 'a', secret: 'b' });
  assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
});
