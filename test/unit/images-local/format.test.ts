import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageAdaptor, parseFilters } from '../../../src/images/filters.js';
import { goJsonIndent, goTimeString, renderTree } from '../../../commands/images/_inspect.js';
import { mountLines, mountsJSON } from '../../../commands/snapshots/_mounts.js';
import type { ImageTree } from '../../../src/images/inspect.js';

const img = { name: 'docker.io/library/redis:7', target: { digest: 'sha256:abc', mediaType: 'application/vnd.oci.image.index.v1+json' }, labels: { env: 'prod', 'a.b': 'c' } };
const m = (fs: string[]) => parseFilters(fs).match(imageAdaptor(img));

test('filters: operators, conjunction, alternatives, quoting, presence', () => {
  assert.equal(m([]), true);
  assert.equal(m(['name==docker.io/library/redis:7']), true);
  assert.equal(m(['name!=docker.io/library/redis:7']), false);
  assert.equal(m(['name~=redis']), true);
  assert.equal(m(['name~=^redis']), false);
  assert.equal(m(['name~=redis,labels.env==prod']), true);
  assert.equal(m(['name~=redis,labels.env==dev']), false);
  assert.equal(m(['labels.env==dev', 'target.digest==sha256:abc']), true);
  assert.equal(m(['labels."a.b"==c']), true, 'quoted field component');
  assert.equal(m(['labels.a.b==c']), true, 'label keys join their path');
  assert.equal(m(['labels.env']), true, 'a bare field tests presence');
  assert.equal(m(['labels.missing']), false);
  assert.equal(m(['name=="docker.io/library/redis:7"']), true);
  assert.equal(m(['name~=/redis:[0-9]+$/']), true, 'regexp quoted with slashes');
  assert.equal(m(['target.mediatype~=index']), true);
  for (const bad of ['==x', 'name==', 'name~=(', 'name==a,', 'name=="open']) assert.throws(() => parseFilters([bad]), (e: { category?: string; subject?: string }) => e.category === 'invalid-argument' && /^filter /.test(e.subject ?? ''), bad);
});

test("Go's json.Indent: literals kept, empty containers compact, prefix on every new line", () => {
  const src = '{"a":[1,2.50,1e3],"b":{},"c":[],"d":"x,y:{\\"}","e":{"f":null,"g":true}}';
  assert.equal(
    goJsonIndent(src, 'P', '  '),
    ['{', 'P  "a": [', 'P    1,', 'P    2.50,', 'P    1e3', 'P  ],', 'P  "b": {},', 'P  "c": [],', 'P  "d": "x,y:{\\"}",', 'P  "e": {', 'P    "f": null,', 'P    "g": true', 'P  }', 'P}'].join('\n'),
  );
  assert.equal(goJsonIndent(' \n[ ]', '', '\t'), '[]');
});

test("Go's time.Time.String for UTC", () => {
  assert.equal(goTimeString({ sec: 1700000000n, nsec: 123450000, offsetMin: null }), '2023-11-14 22:13:20.12345 +0000 UTC');
  assert.equal(goTimeString({ sec: 1700000000n, nsec: 0, offsetMin: null }), '2023-11-14 22:13:20 +0000 UTC');
});

test("inspect tree: ctr 2.x's drawing, Platform line under the manifest, missing content marked", () => {
  const leaf = (role: 'config' | 'layer', d: string, present = true) => ({ role, mediaType: `mt/${role}`, digest: d, size: 1, present, children: [] });
  const t: ImageTree = {
    image: { name: 'r', target: { mediaType: 'x', digest: 'sha256:i', size: 3 }, labels: { k: 'v' }, createdAt: { sec: 0n, nsec: 0, offsetMin: null }, updatedAt: { sec: 0n, nsec: 0, offsetMin: null } },
    target: {
      role: 'index', mediaType: 'mt/index', digest: 'sha256:i', size: 3, present: true,
      children: [
        { role: 'manifest', mediaType: 'mt/m', digest: 'sha256:m1', size: 2, platform: 'linux/amd64', present: true, children: [leaf('config', 'sha256:c'), leaf('layer', 'sha256:l1'), leaf('layer', 'sha256:l2', false)] },
        { role: 'manifest', mediaType: 'mt/m', digest: 'sha256:m2', size: 2, platform: 'linux/arm64', present: false, children: [] },
      ],
    },
  };
  assert.equal(
    renderTree(t, false),
    [
      'r',
      '│    Created: 1970-01-01 00:00:00 +0000 UTC',
      '│    Updated: 1970-01-01 00:00:00 +0000 UTC',
      '│    Label "k": "v"',
      '└── mt/index @sha256:i (3 bytes)',
      '    ├── mt/m @sha256:m1 (2 bytes)',
      '    │   │    Platform: linux/amd64',
      '    │   ├── mt/config @sha256:c (1 bytes)',
      '    │   ├── mt/layer @sha256:l1 (1 bytes)',
      '    │   └── mt/layer @sha256:l2 (1 bytes) (not present)',
      '    └── mt/m @sha256:m2 (2 bytes)',
      '        │    Platform: linux/arm64',
      '        └──  Content does not exist locally, skipping',
      '',
    ].join('\n'),
  );
});

test("snapshot mounts: ctr's mount lines and 1.6's field names in JSON", () => {
  const ms = [{ type: 'overlay', source: 'overlay', options: ['index=off', 'lowerdir=/a:/b'] }];
  assert.equal(mountLines('/t', ms), 'mount -t overlay overlay /t -o index=off,lowerdir=/a:/b\n');
  assert.equal(mountsJSON(ms), '[\n    {\n        "Type": "overlay",\n        "Source": "overlay",\n        "Options": [\n            "index=off",\n            "lowerdir=/a:/b"\n        ]\n    }\n]\n');
});
