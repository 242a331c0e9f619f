import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ctrTable, goBytes, goHumanDuration, goHumanSize, goJSON, tabwriter } from '../../../commands/content/_ctrfmt.js';

test('ctr tables: Go tabwriter with a trailing tab pads the last column too (real ctr namespaces ls)', () => {
  assert.equal(ctrTable(['NAME', 'LABELS'], [['default', ''], ['second', '']]), 'NAME    LABELS \ndefault        \nsecond         \n');
});

test('ctr containers ls: minwidth 4, padding 4', () => {
  assert.equal(
    ctrTable(['CONTAINER', 'IMAGE', 'RUNTIME'], [['c1', 'img', 'io.containerd.runc.v2']], { minwidth: 4, tabwidth: 8, padding: 4, padchar: ' ' }),
    'CONTAINER    IMAGE    RUNTIME                  \nc1           img      io.containerd.runc.v2    \n',
  );
});

test('ctr content ls: tab padding rounds cells up to the tab width (real ctr output shape)', () => {
  const d = 'sha256:' + 'a'.repeat(64);
  const out = ctrTable(['DIGEST', 'SIZE', 'AGE', 'LABELS'], [[d, '1.057MB', '1 second', 'x=y']], { minwidth: 1, tabwidth: 8, padding: 1, padchar: '\t' }, '');
  assert.equal(out, `DIGEST${'\t'.repeat(9)}SIZE\tAGE\t\tLABELS\n${d}\t1.057MB\t1 second\tx=y\n`);
});

test('tabwriter: column blocks end at a line with fewer cells', () => {
  assert.equal(tabwriter('a\tb\t\nlonger\tc\t\nx\n\ny\tz\t\n', { minwidth: 1, tabwidth: 8, padding: 1, padchar: ' ' }), 'a      b \nlonger c \nx\n\ny z \n');
});

test('sizes: progress.Bytes (1024, one decimal, Go rounding) and go-units HumanSize (1000, 4 digits)', () => {
  assert.equal(goBytes(1057 * 1024), '1.0 MiB');
  assert.equal(goBytes(4096), '4.0 KiB');
  assert.equal(goBytes(49152), '48.0 KiB');
  assert.equal(goBytes(526), '526.0 B');
  assert.equal(goBytes(0), '0.0 B');
  assert.equal(goBytes(1310720), '1.2 MiB'); // exactly 1.25: half to even
  assert.equal(goBytes(1835008), '1.8 MiB'); // exactly 1.75: half to even
  assert.equal(goHumanSize(405), '405B');
  assert.equal(goHumanSize(1057000), '1.057MB');
  assert.equal(goHumanSize(0), '0B');
  assert.equal(goHumanSize(999999), '1000kB');
  assert.equal(goHumanSize(1500), '1.5kB');
});

test('durations: go-units HumanDuration truncates', () => {
  assert.equal(goHumanDuration(999), 'Less than a second');
  assert.equal(goHumanDuration(1999), '1 second');
  assert.equal(goHumanDuration(59_999), '59 seconds');
  assert.equal(goHumanDuration(119_000), 'About a minute');
  assert.equal(goHumanDuration(3_599_000), '59 minutes');
  assert.equal(goHumanDuration(3 * 86_400_000), '3 days');
});

test('JSON: Go MarshalIndent escapes HTML characters', () => {
  assert.equal(goJSON({ a: '<&>' }), '{\n    "a": "\\u003c\\u0026\\u003e"\n}');
});
