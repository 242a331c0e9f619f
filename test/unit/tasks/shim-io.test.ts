import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonLogWriter, readJson, rfc3339Nano, writeJsonAtomic } from '../../../src/shim/io.js';
import { FRAME, FrameDecoder, MAX_FRAME, encodeFrame, resizeFrame } from '../../../src/shim/protocol.js';
import { exitRecord, MAX_SOCKET_PATH } from '../../../src/shim/layout.js';
import { taskPaths } from '../../../src/tasks/paths.js';
import { signalName } from '../../../src/platform/index.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ctrx-shimio-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function records(file: string): Array<{ log: string; stream: string; time: string }> {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('json-file log: one record per line, streams apart, partial tail flushed at close', () => {
  const file = path.join(tmp, 'a', 'task.log');
  const w = new JsonLogWriter(file);
  w.write('stdout', Buffer.from('hel'));
  w.write('stderr', Buffer.from('err\n'));
  w.write('stdout', Buffer.from('lo\nwor'));
  w.write('stdout', Buffer.from('ld\nno newline'));
  w.close();
  const r = records(file);
  assert.deepEqual(r.map((x) => [x.stream, x.log]), [['stderr', 'err\n'], ['stdout', 'hello\n'], ['stdout', 'world\n'], ['stdout', 'no newline']]);
  for (const x of r) assert.deepEqual(Object.keys(x), ['log', 'stream', 'time']);
  const times = r.map((x) => x.time);
  assert.deepEqual([...times].sort(), times, 'times increase');
  assert.equal(new Set(times).size, times.length, 'strictly');
});

test('json-file log: a line over 16 KiB is split into partial records at a UTF-8 boundary', () => {
  const file = path.join(tmp, 'b.log');
  const w = new JsonLogWriter(file);
  const line = 'x'.repeat(16 * 1024 - 1) + 'é'.repeat(10) + '\n'; // é is 2 bytes: the 16 KiB cut falls inside one
  w.write('stdout', Buffer.from(line));
  w.close();
  const r = records(file);
  assert.ok(r.length >= 2);
  assert.ok(!r[0]!.log.endsWith('\n'), 'first part is partial');
  assert.ok(!r[0]!.log.includes('\uFFFD') && !r[1]!.log.includes('\uFFFD'), 'no broken character');
  assert.equal(r.map((x) => x.log).join(''), line);
});

test('rfc3339Nano has nine fraction digits, is UTC and close to now', () => {
  const t = rfc3339Nano();
  assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.ok(Math.abs(Date.parse(t) - Date.now()) < 5000);
});

test('atomic JSON writes leave no temp files and read back', () => {
  const f = path.join(tmp, 'exit.json');
  writeJsonAtomic(f, exitRecord(137, signalName));
  assert.deepEqual(readJson(f), { status: 137, signal: 'SIGKILL', exitedAt: (readJson(f) as { exitedAt: string }).exitedAt });
  assert.deepEqual(readdirSync(tmp).filter((n) => n.includes('.tmp-')), []);
  assert.equal(readJson(path.join(tmp, 'missing.json')), undefined);
  assert.equal(exitRecord(7, signalName).signal, undefined);
  assert.equal(exitRecord(143, signalName).signal, 'SIGTERM');
});

test('attach frames survive arbitrary chunking; oversized frames are refused', () => {
  const frames = Buffer.concat([encodeFrame(FRAME.STDOUT, Buffer.from('hello')), resizeFrame(40, 100), encodeFrame(FRAME.CLOSE_STDIN), encodeFrame(FRAME.STDERR, Buffer.alloc(70_000, 1))]);
  for (const size of [1, 3, 5, 4096, frames.length]) {
    const dec = new FrameDecoder();
    const got = [];
    for (let i = 0; i < frames.length; i += size) got.push(...dec.push(frames.subarray(i, i + size)));
    assert.deepEqual(got.map((f) => f.type), [FRAME.STDOUT, FRAME.RESIZE, FRAME.CLOSE_STDIN, FRAME.STDERR]);
    assert.equal(got[0]!.payload.toString(), 'hello');
    assert.deepEqual([got[1]!.payload.readUInt16BE(0), got[1]!.payload.readUInt16BE(2)], [40, 100]);
    assert.equal(got[3]!.payload.length, 70_000);
  }
  const big = Buffer.alloc(5);
  big.writeUInt8(FRAME.STDIN, 0);
  big.writeUInt32BE(MAX_FRAME + 1, 1);
  assert.throws(() => new FrameDecoder().push(big), RangeError);
});

test('socket paths stay short whatever the namespace and id lengths', () => {
  const long = 'a'.repeat(76);
  const p = taskPaths('/run/containerd', '/var/lib/containerd', long, long);
  assert.ok(Buffer.byteLength(p.attachSocket) <= MAX_SOCKET_PATH, p.attachSocket);
  assert.ok(p.dir.endsWith(`/ctrx/${long}/${long}`));
  assert.equal(p.logPath, `/var/lib/containerd/ctrx/${long}/${long}/task.log`);
  assert.notEqual(taskPaths('/s', '/r', 'n', 'a').attachSocket, taskPaths('/s', '/r', 'n', 'b').attachSocket);
  // The socket dir is not a valid namespace name, so no namespace can collide with it.
  assert.match(path.basename(p.socketDir), /^[^A-Za-z0-9]/);
});
