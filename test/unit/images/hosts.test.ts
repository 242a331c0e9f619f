import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CtrxError } from '../../../src/errdefs.js';
import { endpointsFor, findHostDirectory, hostDirectoryCandidates, parseHostsFile, splitHostsDirs } from '../../../src/images/registry/hosts.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeTempDir));

function root(files: Record<string, string>): string {
  const dir = makeTempDir('ctrx-hosts-');
  dirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

const bases = (eps: { base: string }[]) => eps.map((e) => e.base);

test('without any configuration a registry is its own endpoint: https, docker.io → registry-1.docker.io', async () => {
  assert.deepEqual(bases(await endpointsFor('docker.io')), ['https://registry-1.docker.io/v2']);
  assert.deepEqual(bases(await endpointsFor('quay.io')), ['https://quay.io/v2']);
  assert.deepEqual(bases(await endpointsFor('registry.example.com:5000')), ['https://registry.example.com:5000/v2']);
  const [d] = await endpointsFor('docker.io');
  assert.equal(d!.mirror, false);
  assert.deepEqual([...d!.capabilities].sort(), ['pull', 'push', 'resolve']);
});

test('loopback registries default to plain HTTP; others only with --plain-http (never docker.io)', async () => {
  assert.deepEqual(bases(await endpointsFor('localhost:5000')), ['http://localhost:5000/v2']);
  assert.deepEqual(bases(await endpointsFor('127.0.0.1:5000')), ['http://127.0.0.1:5000/v2']);
  assert.deepEqual(bases(await endpointsFor('127.1.2.3')), ['http://127.1.2.3/v2']);
  assert.deepEqual(bases(await endpointsFor('[::1]:5000')), ['http://[::1]:5000/v2']);
  assert.deepEqual(bases(await endpointsFor('10.0.0.5:5000')), ['https://10.0.0.5:5000/v2']);
  assert.deepEqual(bases(await endpointsFor('10.0.0.5:5000', { plainHttp: true })), ['http://10.0.0.5:5000/v2']);
  assert.deepEqual(bases(await endpointsFor('docker.io', { plainHttp: true })), ['https://registry-1.docker.io/v2']);
});

test('hosts.toml: mirrors in file order, then server; capabilities, path rules, ns marking', async () => {
  const r = root({
    'docker.io/hosts.toml': `
server = "https://registry-1.docker.io"

[host."https://mirror-b.example.com"]
  capabilities = ["pull", "resolve"]

[host."https://mirror-a.example.com/custom/path"]
  capabilities = ["pull"]
  skip_verify = true

[host."http://127.0.0.1:5000"]
  capabilities = ["pull", "resolve"]
  [host."http://127.0.0.1:5000".header]
    x-mirror = "yes"
    x-multi = ["1", "2"]

[host."https://raw.example.com/api"]
  override_path = true
`,
  });
  const eps = await endpointsFor('docker.io', { hostsDirs: [r] });
  assert.deepEqual(bases(eps), [
    'https://mirror-b.example.com/v2',
    'https://mirror-a.example.com/custom/path/v2',
    'http://127.0.0.1:5000/v2',
    'https://raw.example.com/api',
    'https://registry-1.docker.io/v2',
  ]);
  assert.deepEqual([...eps[0]!.capabilities].sort(), ['pull', 'resolve']);
  assert.deepEqual([...eps[1]!.capabilities], ['pull']);
  assert.equal(eps[1]!.tls.skipVerify, true);
  assert.deepEqual(eps[2]!.headers, { 'x-mirror': ['yes'], 'x-multi': ['1', '2'] });
  assert.deepEqual([...eps[3]!.capabilities].sort(), ['pull', 'push', 'resolve'], 'all capabilities by default');
  assert.deepEqual(eps.map((e) => e.mirror), [true, true, true, true, false]);
});

test('hosts.toml without server: the registry itself comes last, with the top-level settings', async () => {
  const r = root({
    '_default/hosts.toml': `
capabilities = ["pull", "resolve"]
[host."https://mirror.example.com"]
`,
  });
  const eps = await endpointsFor('ghcr.io', { hostsDirs: [r] });
  assert.deepEqual(bases(eps), ['https://mirror.example.com/v2', 'https://ghcr.io/v2']);
  assert.deepEqual([...eps[1]!.capabilities].sort(), ['pull', 'resolve']);
  assert.equal(eps[1]!.mirror, false);
  const local = await endpointsFor('127.0.0.1:5000', { hostsDirs: [r] });
  assert.equal(local.at(-1)!.base, 'http://127.0.0.1:5000/v2', 'loopback upstream stays plain HTTP');
});

test('directory lookup: host_port_ before host:port before _default, first root wins', async () => {
  assert.deepEqual(hostDirectoryCandidates('/r', 'reg:5000'), ['/r/reg_5000_', '/r/reg:5000', '/r/_default']);
  assert.deepEqual(hostDirectoryCandidates('/r', 'docker.io'), ['/r/docker.io', '/r/_default']);
  const a = root({ 'reg:5000/hosts.toml': 'server = "https://a.example.com"', 'reg_5000_/hosts.toml': 'server = "https://b.example.com"' });
  const b = root({ '_default/hosts.toml': 'server = "https://c.example.com"', 'other.io/hosts.toml': 'server = "https://d.example.com"' });
  assert.equal(findHostDirectory([a, b], 'reg:5000'), path.join(a, 'reg_5000_'));
  assert.deepEqual(bases(await endpointsFor('reg:5000', { hostsDirs: [a, b] })), ['https://b.example.com/v2']);
  assert.deepEqual(bases(await endpointsFor('other.io', { hostsDirs: [b, a] })), ['https://d.example.com/v2'], 'the host dir beats _default in the same root');
  const c = root({ '_default/hosts.toml': 'server = "https://e.example.com"' });
  assert.deepEqual(bases(await endpointsFor('other.io', { hostsDirs: [c, b] })), ['https://e.example.com/v2'], '_default of the first root beats a host dir in a later root');
  assert.deepEqual(bases(await endpointsFor('other.io', { hostsDirs: [a] })), ['https://other.io/v2']);
});

test('config_path lists are split on ":"', () => {
  assert.deepEqual(splitHostsDirs('/etc/containerd/certs.d:/etc/docker/certs.d'), ['/etc/containerd/certs.d', '/etc/docker/certs.d']);
  assert.deepEqual(splitHostsDirs(undefined), []);
  assert.deepEqual(splitHostsDirs(['/a', '/b:/c']), ['/a', '/b', '/c']);
});

test('legacy registry.mirrors: mirrors with pull+resolve, then the registry; "*" applies to all', async () => {
  const mirrors = { 'docker.io': ['https://mirror.gcr.io', 'http://127.0.0.1:5000/prefix'], '*': ['https://any.example.com'] };
  const eps = await endpointsFor('docker.io', { mirrors });
  assert.deepEqual(bases(eps), ['https://mirror.gcr.io/v2', 'http://127.0.0.1:5000/prefix/v2', 'https://registry-1.docker.io/v2']);
  assert.deepEqual([...eps[0]!.capabilities].sort(), ['pull', 'resolve']);
  assert.deepEqual(bases(await endpointsFor('quay.io', { mirrors })), ['https://any.example.com/v2', 'https://quay.io/v2']);
  const self = await endpointsFor('docker.io', { mirrors: { 'docker.io': ['https://registry-1.docker.io'] } });
  assert.deepEqual(bases(self), ['https://registry-1.docker.io/v2'], 'the registry listed as its own mirror is not repeated');
});

test('a hosts directory wins over the legacy mirrors', async () => {
  const r = root({ 'docker.io/hosts.toml': '[host."https://m.example.com"]\n' });
  const eps = await endpointsFor('docker.io', { hostsDirs: [r], mirrors: { 'docker.io': ['https://legacy.example.com'] } });
  assert.deepEqual(bases(eps), ['https://m.example.com/v2', 'https://registry-1.docker.io/v2']);
});

test('a hosts dir without hosts.toml contributes *.crt as CAs', async () => {
  const r = root({ 'reg.example.com/ca.crt': '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n' });
  const [ep] = await endpointsFor('reg.example.com', { hostsDirs: [r] });
  assert.equal(ep!.base, 'https://reg.example.com/v2');
  assert.equal(ep!.tls.ca?.length, 1);
});

test('ca paths are relative to the hosts directory; a missing file is a clear error', async () => {
  const r = root({ 'reg.io/hosts.toml': 'server = "https://reg.io"\nca = "my-ca.pem"\n', 'reg.io/my-ca.pem': 'PEM' });
  const [ep] = await endpointsFor('reg.io', { hostsDirs: [r] });
  assert.deepEqual(ep!.tls.ca, ['PEM']);
  const bad = root({ 'reg.io/hosts.toml': 'server = "https://reg.io"\nca = ["missing.pem"]\n' });
  await assert.rejects(endpointsFor('reg.io', { hostsDirs: [bad] }), (e: unknown) => e instanceof CtrxError && /CA file .*missing\.pem: ENOENT/.test(e.message));
});

test('malformed hosts.toml is refused with the reason', async () => {
  const cases: [string, RegExp][] = [
    ['server = ', /invalid TOML/],
    ['[host."https://m"]\ncapabilities = ["pull", "fly"]\n', /unknown capability "fly"/],
    ['server = 42\n', /"server" must be a string/],
    ['[host."ftp://m"]\n', /only http and https/],
    ['[host."https://user:pw@m"]\n', /credentials do not belong/],
    ['[host."https://m"]\nskip_verify = "yes"\n', /skip_verify/],
    ['[host."https://m".header]\n"bad header" = "x"\n', /invalid header name/],
  ];
  for (const [text, re] of cases) {
    await assert.rejects(parseHostsFile(text, '/nowhere', 'reg.io'), (e: unknown) => e instanceof CtrxError && e.category === 'invalid-argument' && re.test(e.message), text);
  }
});

test('a host without a scheme: https, or http for a loopback host', async () => {
  const eps = await parseHostsFile('[host."mirror.example.com"]\n[host."127.0.0.1:5001"]\n', '/x', 'docker.io');
  assert.deepEqual(bases(eps), ['https://mirror.example.com/v2', 'http://127.0.0.1:5001/v2', 'https://registry-1.docker.io/v2']);
});
