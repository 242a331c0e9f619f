import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RecordJoiner, formatLogRecord, parseTimeNs, readLogs, type LogRecord } from '../../../src/tasks/logs.js';
import type { OpContext } from '../../../src/context.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ctrx-logs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ctx = { namespace: 'default', root: path.join(tmp, 'root'), state: path.join(tmp, 'state'), onDebug: () => {} } as unknown as OpContext;
const logFile = path.join(tmp, 'root', 'ctrx', 'default', 'c1', 'task.log');
const rec = (log: string, stream: 'stdout' | 'stderr', time: string): string => JSON.stringify({ log, stream, time }) + '\n';

mkdirSync(path.dirname(logFile), { recursive: true });
writeFileSync(
  logFile,
  rec('one\n', 'stdout', '2024-05-01T10:00:00.000000001Z') +
    rec('par', 'stdout', '2024-05-01T10:00:01.000000000Z') +
    rec('err\n', 'stderr', '2024-05-01T10:00:01.500000000Z') +
    rec('tial\n', 'stdout', '2024-05-01T10:00:02.000000000Z') +
    '{"torn' + '\n' +
    rec('three\n', 'stdout', '2024-05-01T10:00:03.000000000Z') +
    rec('héllo\n', 'stdout', '2024-05-01T10:00:04.000000000Z'),
);

async function all(o: Parameters<typeof readLogs>[2] = {}): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of readLogs(ctx, 'c1', o)) out.push(r);
  return out;
}

test('partials are joined per stream, torn lines skipped, multi-byte text intact', async () => {
  const r = await all();
  assert.deepEqual(r.map((x) => x.log), ['one\n', 'err\n', 'partial\n', 'three\n', 'héllo\n']);
  assert.equal(r[2]!.time, '2024-05-01T10:00:01.000000000Z', 'a joined line keeps its first part\'s time');
});

test('tail, since and until', async () => {
  assert.deepEqual((await all({ tail: 2 })).map((x) => x.log), ['three\n', 'héllo\n']);
  assert.deepEqual(await all({ tail: 0 }), []);
  assert.deepEqual((await all({ since: '2024-05-01T10:00:02Z' })).map((x) => x.log), ['three\n', 'héllo\n']);
  assert.deepEqual((await all({ since: new Date('2024-05-01T10:00:00.5Z'), until: '2024-05-01T10:00:03Z' })).map((x) => x.log), ['err\n', 'partial\n', 'three\n']);
  assert.deepEqual(await all({ since: '10m' }), [], 'a duration counts back from now');
});

test('following stops once there is no task (a log without a task dir)', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 5000);
  const r = await all({ follow: true, pollMs: 10, signal: ac.signal });
  assert.equal(r.length, 5);
  assert.equal(ac.signal.aborted, false);
});

test('following picks up appended lines while the task lives', async () => {
  const dir = path.join(tmp, 'state', 'ctrx', 'default', 'c2');
  mkdirSync(dir, { recursive: true });
  const file = path.join(tmp, 'c2.log');
  writeFileSync(path.join(dir, 'proc.json'), JSON.stringify({ logPath: file }));
  writeFileSync(file, rec('a\n', 'stdout', '2024-05-01T10:00:00Z'));
  const got: string[] = [];
  const reader = (async () => {
    for await (const r of readLogs(ctx, 'c2', { follow: true, pollMs: 10 })) got.push(r.log);
  })();
  await new Promise((r) => setTimeout(r, 50));
  appendFileSync(file, rec('b\n', 'stdout', '2024-05-01T10:00:01Z'));
  await new Promise((r) => setTimeout(r, 50));
  writeFileSync(path.join(dir, 'exit.json'), JSON.stringify({ status: 0 }));
  await reader;
  assert.deepEqual(got, ['a\n', 'b\n']);
});

test('time parsing and formatting', () => {
  assert.equal(parseTimeNs('1970-01-01T00:00:01.5Z'), 1_500_000_000n);
  assert.equal(parseTimeNs('1970-01-01T01:00:00+01:00'), 0n);
  assert.throws(() => parseTimeNs('yesterday'), /RFC 3339/);
  const r: LogRecord = { time: 't', stream: 'stdout', log: 'x\n' };
  assert.equal(formatLogRecord(r), 'x\n');
  assert.equal(formatLogRecord(r, { timestamps: true }), 't x\n');
  const j = new RecordJoiner();
  assert.equal(j.push(JSON.stringify({ log: 'a', stream: 'stdout', time: '1' })), undefined);
  assert.deepEqual(j.flush(), [{ time: '1', stream: 'stdout', log: 'a' }]);
});
