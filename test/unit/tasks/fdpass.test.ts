import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeFd, fdWrite, sendFd, unixConnect } from '../../../src/platform/index.js';
import { listenConsole } from '../../../src/shim/console.js';
import { DetachScanner } from '../../../src/tasks/attach.js';
import { mergeEnv } from '../../../src/tasks/exec.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'cx-fd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('console socket: an fd sent with SCM_RIGHTS arrives usable, with the name that came with it', async () => {
  const sock = path.join(tmp, 'c.sock');
  const cons = listenConsole(sock);
  const file = path.join(tmp, 'target');
  const fd = openSync(file, 'w');
  // The sender plays runc's part: connect, send the "pty" fd and its name, hang up.
  let sent = false;
  const master = cons.master(() => false);
  const c = unixConnect(sock);
  assert.ok(c.ok, 'connect');
  const r = sendFd(c.ok ? c.value : -1, fd, Buffer.from('/dev/pts/7'));
  assert.ok(r.ok, 'sendmsg');
  sent = true;
  closeFd(c.ok ? c.value : -1);
  closeSync(fd);
  const m = await master;
  assert.ok(sent);
  assert.equal(m.name, '/dev/pts/7');
  assert.notEqual(m.fd, fd);
  assert.equal(await fdWrite(m.fd, Buffer.from('through the passed fd')), 21);
  closeFd(m.fd);
  assert.equal(readFileSync(file, 'utf8'), 'through the passed fd');
  assert.equal(existsSync(sock), false, 'the socket file is removed once used');
});

test('console socket: gives up when the sender is gone without sending', async () => {
  const cons = listenConsole(path.join(tmp, 'd.sock'));
  await assert.rejects(cons.master(() => true), /exited before sending the console/);
});

test('detach keys: the sequence detaches and is never sent; a partial match is replayed', () => {
  const s = new DetachScanner([0x10, 0x11]);
  assert.deepEqual(s.push(Buffer.from('ab')), { send: Buffer.from('ab'), detach: false });
  assert.deepEqual(s.push(Buffer.from([0x10])), { send: Buffer.from([]), detach: false });
  assert.deepEqual(s.push(Buffer.from('x')), { send: Buffer.from([0x10, 0x78]), detach: false });
  assert.deepEqual(s.push(Buffer.from([0x61, 0x10, 0x10, 0x11])), { send: Buffer.from([0x61, 0x10]), detach: true });
  assert.deepEqual(new DetachScanner([]).push(Buffer.from([0x10, 0x11])), { send: Buffer.from([0x10, 0x11]), detach: false });
});

test('exec env: overrides replace the task value of the same key', () => {
  assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1', 'B=2'], ['A=9', 'C=3']), ['PATH=/bin', 'B=2', 'A=9', 'C=3']);
});
