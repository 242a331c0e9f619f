// content fetch --metadata-only: ctr's AllMetadata — the index, every
// platform's manifest and config, no layers, nothing unpacked.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { startRegistry } from '../../helpers/registry.js';
import { pushFixtures } from '../../helpers/fixtures.js';
import { ctrx } from '../../cli/ctrx.js';

const tmp = makeTempDir('ctrx-fetch-');
const reg = await startRegistry();
after(async () => {
  await reg.stop();
  removeTempDir(tmp);
});
const g = ['-c', path.join(tmp, 'none.toml'), '--root', path.join(tmp, 'root'), '--state', path.join(tmp, 'state')];

test('content fetch --metadata-only takes the index, all manifests and configs, and no layer', async () => {
  const refs = await pushFixtures(reg, ['busybox'], { multiPlatform: true, tag: 'multi' });
  const r = ctrx([...g, 'content', 'fetch', '--metadata-only', refs.busybox]);
  assert.equal(r.code, 0, r.stderr);
  const blobs = JSON.parse(ctrx([...g, 'content', 'ls', '--format', 'json']).stdout) as { digest: string; labels: Record<string, string> }[];
  // index + 2 manifests + 2 configs
  assert.equal(blobs.length, 5, JSON.stringify(blobs.map((b) => b.digest)));
  const layerRefs = blobs.flatMap((b) => Object.entries(b.labels ?? {}).filter(([k]) => k.startsWith('containerd.io/gc.ref.content.l.')).map(([, v]) => v));
  assert.equal(layerRefs.length, 2, 'both manifests name their layer');
  for (const l of layerRefs) assert.ok(!blobs.some((b) => b.digest === l), `layer ${l} was not fetched`);
  const check = ctrx([...g, 'images', 'check']);
  assert.match(check.stdout, /incomplete/);
  assert.match(check.stdout, /false\s*$/m, 'nothing unpacked');
  assert.equal(ctrx([...g, 'snapshots', 'ls', '-q']).stdout, '');
});
