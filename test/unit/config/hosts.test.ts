import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { mergeHosts, renderHosts, writeHostsFile, defaultServer } from '../../../src/config/hosts.js';
import { isCategory } from '../../../src/errdefs.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { plain } from './util.js';

const dir = makeTempDir('ctrx-config-hosts-');
after(() => removeTempDir(dir));

test('a new file: server and one table per mirror, in order', async () => {
  const r = await writeHostsFile({ host: 'docker.io', mirrors: ['https://m1.example', 'http://10.0.0.1:5000'], skipVerify: true, ca: '/etc/ca.pem', dir });
  assert.equal(r.path, join(dir, 'docker.io', 'hosts.toml'));
  assert.equal(r.created, true);
  const text = readFileSync(r.path, 'utf8');
  assert.equal(text, `server = "https://registry-1.docker.io"

[host."https://m1.example"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
  ca = "/etc/ca.pem"

[host."http://10.0.0.1:5000"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
  ca = "/etc/ca.pem"
`);
  assert.deepEqual(readdirSync(join(dir, 'docker.io')), ['hosts.toml'], 'no temp file left');
});

test('merging keeps existing keys, hosts and order, updates the same URL', async () => {
  const hostDir = join(dir, 'registry.example.com:5000');
  mkdirSync(hostDir, { recursive: true });
  writeFileSync(join(hostDir, 'hosts.toml'), `server = "https://registry.example.com:5000"
override_path = false

[host."https://a.example"]
  capabilities = ["pull"]
  custom_key = "kept"

[host."https://b.example"]
  capabilities = ["pull", "resolve"]
  [host."https://b.example".header]
    x-token = ["t"]
`);
  const r = await writeHostsFile({ host: 'registry.example.com:5000', mirrors: ['https://c.example', 'https://a.example'], capabilities: ['pull,resolve'], dir });
  assert.equal(r.created, false);
  const t = plain(parse(readFileSync(r.path, 'utf8'))) as any;
  assert.equal(t.server, 'https://registry.example.com:5000');
  assert.equal(t.override_path, false);
  assert.deepEqual(Object.keys(t.host), ['https://a.example', 'https://b.example', 'https://c.example']);
  assert.deepEqual(t.host['https://a.example'], { capabilities: ['pull', 'resolve'], custom_key: 'kept' });
  assert.deepEqual(t.host['https://b.example'], { capabilities: ['pull', 'resolve'], header: { 'x-token': ['t'] } });
  assert.deepEqual(t.host['https://c.example'], { capabilities: ['pull', 'resolve'] });
});

test('_default has no server unless given; --server overrides', () => {
  const t = mergeHosts({}, { host: '_default', mirrors: ['https://m'] });
  assert.equal(t.server, undefined);
  assert.equal(renderHosts(t), '[host."https://m"]\n  capabilities = ["pull", "resolve"]\n');
  assert.equal(mergeHosts({ server: 'https://old' }, { host: 'x.io', mirrors: ['https://m'], server: 'https://new' }).server, 'https://new');
  assert.equal(defaultServer('quay.io'), 'https://quay.io');
});

test('hosts and URLs are validated; nothing escapes the directory', async () => {
  for (const host of ['../etc', 'a/b', '..', '', 'docker.io/library', 'a..b']) {
    await assert.rejects(writeHostsFile({ host, mirrors: ['https://m'], dir }), (e: unknown) => isCategory(e, 'invalid-argument'), host);
  }
  assert.throws(() => mergeHosts({}, { host: 'x.io', mirrors: ['mirror.example'] }), (e: unknown) => isCategory(e, 'invalid-argument'));
  assert.throws(() => mergeHosts({}, { host: 'x.io', mirrors: ['https://m'], capabilities: ['pull,fetch'] }), (e: unknown) => isCategory(e, 'invalid-argument'));
  assert.throws(() => mergeHosts({}, { host: 'x.io', mirrors: [] }), (e: unknown) => isCategory(e, 'invalid-argument'));
  assert.equal(existsSync(join(dir, '..', 'etc')), false);
});

test('a broken existing file is not overwritten', async () => {
  const hostDir = join(dir, 'broken.example');
  mkdirSync(hostDir, { recursive: true });
  writeFileSync(join(hostDir, 'hosts.toml'), 'server = \n');
  await assert.rejects(writeHostsFile({ host: 'broken.example', mirrors: ['https://m'], dir }), (e: unknown) => isCategory(e, 'invalid-argument'));
  assert.equal(readFileSync(join(hostDir, 'hosts.toml'), 'utf8'), 'server = \n');
});
