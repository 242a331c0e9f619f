import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable, humanSize, formatLabels } from '../../../commands/_lib/output.js';

test('tables pad every column but the last to its widest cell plus one space', () => {
  const out = formatTable(['NAME', 'LABELS'], [['default', '-'], ['k8s.io', 'a=b']]);
  assert.equal(out, 'NAME    LABELS\ndefault -\nk8s.io  a=b\n');
});

test('tables never leave trailing spaces', () => {
  const out = formatTable(['A', 'B', 'C'], [['x', 'y', '']]);
  for (const line of out.split('\n')) assert.equal(line, line.trimEnd());
});

test('sizes are printed 1024-based with one decimal, like ctr', () => {
  assert.equal(humanSize(0), '0.0 B');
  assert.equal(humanSize(1023), '1023.0 B');
  assert.equal(humanSize(1024), '1.0 KiB');
  assert.equal(humanSize(2 * 1024 * 1024 + 100 * 1024), '2.1 MiB');
});

test('labels are sorted k=v pairs, "-" when empty', () => {
  assert.equal(formatLabels({}), '-');
  assert.equal(formatLabels(undefined), '-');
  assert.equal(formatLabels({ b: '2', a: '1' }), 'a=1,b=2');
});

test('the built-in version equals package.json', async () => {
  const { readFileSync } = await import('node:fs');
  const { VERSION } = await import('../../../src/version.js');
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8'));
  assert.equal(VERSION, pkg.version);
});
