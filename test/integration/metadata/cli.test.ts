/** The metadata verbs through the built CLI on a private root, no daemon. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctrx } from '../../cli/ctrx.js';
import { defaultFacts } from '../../../src/config/facts.js';
import { writeMeta } from '../../../src/metadata/db.js';
import { createImage } from '../../../src/metadata/images.js';
import { createBlob } from '../../../src/metadata/content.js';

const base = mkdtempSync(join(tmpdir(), 'ctrx-meta-cli-'));
after(() => rmSync(base, { recursive: true, force: true }));
const root = join(base, 'root');
const x = (args: string[], ns = 'default') => ctrx(['--root', root, '--state', join(base, 'state'), '-c', join(base, 'none.toml'), '-n', ns, ...args]);

test('namespaces: create with labels, label edits, ls (table, -q, json), rm refusal and exit codes', () => {
  assert.equal(x(['namespaces', 'create', 'team-a', 'owner=me', 'flag', '__proto__=p']).code, 0);
  assert.equal(x(['ns', 'label', 'team-a', 'owner=', 'tier=1']).code, 0);
  assert.equal(x(['ns', 'ls']).stdout, 'NAME   LABELS                       \nteam-a __proto__=p,flag=true,tier=1 \n');
  assert.equal(x(['ns', 'ls', '-q']).stdout, 'team-a\n');
  assert.deepEqual(JSON.parse(x(['ns', 'ls', '--format', 'json']).stdout), [{ name: 'team-a', labels: { ['__proto__']: 'p', flag: 'true', tier: '1' } }].map((o) => JSON.parse(JSON.stringify(o))));
  const dup = x(['ns', 'create', 'team-a']);
  assert.equal(dup.code, 5);
  assert.equal(dup.stderr, 'ctrx: namespace "team-a": already exists\n');
  const bad = x(['ns', 'create', 'Bad..name']);
  assert.equal(bad.code, 3);
  writeMeta({ root, facts: { ...defaultFacts(), root } }, (tx) => {
    createBlob(tx, 'team-a', 'sha256:' + 'a'.repeat(64), 3);
    createImage(tx, 'team-a', { name: 'img', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + 'a'.repeat(64), size: 3 } });
  });
  const busy = x(['ns', 'rm', 'team-a']);
  assert.equal(busy.code, 6);
  assert.equal(busy.stderr, 'ctrx: namespace "team-a" must be empty, but it still has images, blobs\n');
  // ctr prints a name it did not find and succeeds
  assert.deepEqual([x(['ns', 'rm', 'nope']).stdout, x(['ns', 'rm', 'nope']).code], ['nope\n', 0]);
});

test('images: tag, label, ls and rm through the CLI; rm garbage-collects the unreferenced blob record', () => {
  const r = (a: string[]) => x(a, 'team-a');
  assert.equal(r(['images', 'tag', 'img', 'img2', 'img3']).stdout, 'img2\nimg3\n');
  assert.equal(r(['images', 'label', 'img2', 'a=1', 'b=2']).stdout, 'a=1,b=2\n');
  assert.equal(r(['images', 'ls', '-q']).stdout, 'img\nimg2\nimg3\n');
  const ls = JSON.parse(r(['images', 'ls', '--format', 'json']).stdout) as Array<{ name: string; labels: Record<string, string>; size: number }>;
  assert.deepEqual(ls.map((i) => [i.name, i.labels, i.size]), [['img', {}, 3], ['img2', { a: '1', b: '2' }, 3], ['img3', {}, 3]]);
  assert.equal(r(['images', 'rm', 'img', 'img2', 'img3', 'gone']).stdout, 'img\nimg2\nimg3\n');
  assert.equal(r(['content', 'ls', '-q']).stdout, '');
  assert.equal(x(['ns', 'rm', 'team-a']).stdout, 'team-a\n');
});

test('leases: create with --id/--expires and labels, ls, rm; unknown id is exit 4', () => {
  assert.equal(x(['leases', 'create', '--id', 'l1', '--expires', '1h', 'k=v']).stdout, 'l1\n');
  assert.equal(x(['leases', 'create', '--id', 'l2', '--expires', '0']).stdout, 'l2\n');
  const ls = JSON.parse(x(['leases', 'ls', '--format', 'json']).stdout) as Array<{ id: string; labels: Record<string, string> }>;
  assert.deepEqual(ls.map((l) => l.id), ['l1', 'l2']);
  const exp = Date.parse(ls[0]!.labels['containerd.io/gc.expire']!);
  assert.ok(Math.abs(exp - (Date.now() + 3600_000)) < 60_000);
  assert.equal(ls[0]!.labels.k, 'v');
  assert.deepEqual(ls[1]!.labels, {});
  const rm = x(['leases', 'rm', 'l1', 'nope']);
  assert.equal(rm.stdout, 'l1\n');
  assert.equal(rm.code, 4);
  assert.equal(x(['leases', 'ls', '-q']).stdout, 'l2\n');
});
