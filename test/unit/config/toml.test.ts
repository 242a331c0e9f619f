import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'smol-toml';
import { formatKey, parseToml, stringifyToml, toJSONValue } from '../../../src/config/toml.js';
import { CtrxError } from '../../../src/errdefs.js';
import { plain } from './util.js';

test('keys: bare when possible, quoted otherwise', () => {
  assert.equal(formatKey('max_conf_num'), 'max_conf_num');
  assert.equal(formatKey('io.containerd.grpc.v1.cri'), '"io.containerd.grpc.v1.cri"');
  assert.equal(formatKey('io.containerd.grpc.v1.cri', 'v2'), "'io.containerd.grpc.v1.cri'");
  assert.equal(formatKey("it's", 'v2'), '"it\'s"');
});

test('values: integers vs floats, escapes, arrays of tables', () => {
  const tree = { i: 1n, f: 1, g: 0.25, s: 'a"b\\c\nd', l: ["x'y", 'z'], t: [{ a: 1n }, { a: 2n }] };
  const v1 = stringifyToml(tree, { style: 'v1' });
  assert.match(v1, /^f = 1\.0\ng = 0\.25\ni = 1\nl = \["x'y", "z"\]\ns = "a\\"b\\\\c\\nd"\n/);
  assert.match(v1, /\n\[\[t\]\]\n {2}a = 1\n\n\[\[t\]\]\n {2}a = 2\n$/);
  const v2 = stringifyToml(tree, { style: 'v2' });
  assert.match(v2, /l = \["x'y", 'z'\]/);
  for (const text of [v1, v2]) assert.deepEqual(plain(parse(text, { integersAsBigInt: true })), tree);
});

test('hosts style: implicit parent tables, indentation from printed headers', () => {
  const text = stringifyToml({ server: 'https://r', host: { 'https://m': { capabilities: ['pull'], header: { x: ['1'] } } } }, { style: 'v1', order: 'insertion', omitEmptyParents: true });
  assert.equal(text, 'server = "https://r"\n\n[host."https://m"]\n  capabilities = ["pull"]\n\n  [host."https://m".header]\n    x = ["1"]\n');
});

test('parse errors name file, line and column', async () => {
  await assert.rejects(parseToml('version = 2\n[grpc\n', 'cfg.toml'), (e: unknown) => {
    assert.ok(e instanceof CtrxError);
    assert.equal(e.category, 'invalid-argument');
    assert.equal(e.subject, 'cfg.toml');
    assert.match(e.message, /line 2, column \d+/);
    return true;
  });
  assert.deepEqual(toJSONValue({ a: 3n, b: [1n, 0.5] }), { a: 3, b: [1, 0.5] });
});
