import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CtrxError } from '../../../src/errdefs.js';
import { parseMountFlag, splitCsv } from '../../../src/containers/mounts.js';

function invalid(s: string): void {
  assert.throws(() => parseMountFlag(s), (e: unknown) => e instanceof CtrxError && e.category === 'invalid-argument', s);
}

describe('--mount', () => {
  test("ctr's example parses to ctr's mount", () => {
    assert.deepEqual(parseMountFlag('type=bind,src=/tmp,dst=/host,options=rbind:ro'), {
      destination: '/host', type: 'bind', source: '/tmp', options: ['rbind', 'ro'],
    });
    assert.deepEqual(parseMountFlag('type=bind,source=/a,destination=/b,options=bind'), { destination: '/b', type: 'bind', source: '/a', options: ['bind'] });
  });

  test('a bind without rbind gets rbind (ctr passes it on and runc fails with "no such device")', () => {
    assert.deepEqual(parseMountFlag('type=bind,src=/tmp,dst=/h,options=ro'), { destination: '/h', type: 'bind', source: '/tmp', options: ['rbind', 'ro'] });
    assert.deepEqual(parseMountFlag('type=bind,src=/tmp,dst=/h').options, ['rbind']);
  });

  test('tmpfs: no source unless given (as ctr), options kept', () => {
    assert.deepEqual(parseMountFlag('type=tmpfs,dst=/scratch,options=size=1m:mode=1777'), {
      destination: '/scratch', type: 'tmpfs', options: ['size=1m', 'mode=1777'],
    });
    assert.deepEqual(parseMountFlag('type=tmpfs,src=tmpfs,dst=/scratch'), { destination: '/scratch', type: 'tmpfs', source: 'tmpfs' });
  });

  test('quoted CSV fields as Go encoding/csv', () => {
    assert.deepEqual(splitCsv('a,"b,c",d'), ['a', 'b,c', 'd']);
    assert.deepEqual(splitCsv('"x""y"'), ['x"y']);
    assert.deepEqual(parseMountFlag('type=bind,"src=/a,b",dst=/c').source, '/a,b');
  });

  test('destinations: absolute, no ..; NUL, unknown keys, missing parts rejected', () => {
    for (const s of [
      'type=bind,src=/tmp,dst=relative',
      'type=bind,src=/tmp,dst=/a/../../etc',
      'type=bind,src=/tmp,dst=/..',
      'type=bind,src=/tmp',
      'type=bind,dst=/x',
      'type=bind,src=tmp,dst=/x',
      'src=/tmp,dst=/x',
      'type=bind,src=/tmp,dst=/x,rw',
      'type=bind,src=/tmp,dst=/x,propagation=shared',
      'type=bind,src=/tmp,dst=/x\0y',
      'type=bind,src="/tmp,dst=/x',
      'type=Bind Mount,src=/tmp,dst=/x',
    ]) invalid(s);
  });

  test('destination normalised', () => {
    assert.equal(parseMountFlag('type=tmpfs,dst=/a//b/./c/').destination, '/a/b/c/');
  });
});
