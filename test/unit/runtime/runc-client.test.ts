import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CtrxError } from '../../../src/errdefs.js';
import { Runc, runcForContext } from '../../../src/runtime/runc/runc.js';
import { defaultFacts } from '../../../src/config/facts.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { makeFakeRunc, type FakeBehaviour } from './fixtures/fake-runc.js';

let dir: string;
let n = 0;
before(() => {
  dir = makeTempDir('ctrx-fake-runc-');
});
after(() => removeTempDir(dir));

function fake(b: FakeBehaviour) {
  return makeFakeRunc(dir, b, `runc${++n}`);
}

async function rejects(p: Promise<unknown>, category: string, re?: RegExp): Promise<CtrxError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CtrxError, `expected CtrxError, got ${String(e)}`);
    assert.equal(e.category, category, e.message);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail('expected a rejection');
}

function runcTempDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('ctrx-runc-'));
}

describe('argv from options', () => {
  test('create: global flags, per-call json log, container flags, id last', async () => {
    const f = fake({ kind: 'ok' });
    const lines: string[] = [];
    const r = new Runc({ binary: f.binary, root: '/r', systemdCgroup: true, debug: true, onDebug: (l) => lines.push(l) });
    await r.create('c1', { bundle: '/b', pidFile: '/b/pid', consoleSocket: '/s.sock', noPivot: true, noNewKeyring: true });
    const [argv] = f.calls();
    assert.deepEqual(argv!.slice(0, 2), ['--root', '/r']);
    const li = argv!.indexOf('--log');
    assert.ok(li > 0 && argv![li + 1]!.endsWith('log.json'));
    assert.equal(argv![argv!.indexOf('--log-format') + 1], 'json');
    assert.ok(argv!.includes('--systemd-cgroup') && argv!.includes('--debug'));
    assert.deepEqual(argv!.slice(argv!.indexOf('create')), [
      'create', '--bundle', '/b', '--pid-file', '/b/pid', '--console-socket', '/s.sock', '--no-pivot', '--no-new-keyring', 'c1',
    ]);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, new RegExp(`^${f.binary.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} --root /r .* create --bundle /b .* c1$`));
  });

  test('kill, delete, pause, resume, start, ps, events, list, state: verbs and flags', async () => {
    const f = fake({ kind: 'ok', stdout: '[]' });
    const r = new Runc({ binary: f.binary, root: '/r' });
    await r.kill('c1', 'SIGKILL', { all: true });
    await r.kill('c1');
    await r.delete('c1', { force: true });
    await r.pause('c1');
    await r.resume('c1');
    await r.start('c1');
    assert.deepEqual(await r.ps('c1'), []);
    assert.deepEqual(await r.list(), []);
    const c = f.calls().map((a) => a.slice(2));
    assert.deepEqual(c, [
      ['kill', '--all', 'c1', 'SIGKILL'],
      ['kill', 'c1', 'SIGTERM'],
      ['delete', '--force', 'c1'],
      ['pause', 'c1'],
      ['resume', 'c1'],
      ['start', 'c1'],
      ['ps', '--format', 'json', 'c1'],
      ['list', '--format', 'json'],
    ]);
  });

  test('exec --detach writes the process spec to a private file and removes it', async () => {
    const f = fake({ kind: 'ok' });
    const r = new Runc({ binary: f.binary });
    const before = runcTempDirs().length;
    const proc = { terminal: true, user: { uid: 0, gid: 0 }, args: ['sh', '-c', 'echo hi'], cwd: '/', env: ['A=1'] };
    await r.exec('c1', proc, { pidFile: '/p', consoleSocket: '/s', tty: true });
    const argv = f.calls()[0]!;
    const i = argv.indexOf('exec');
    assert.deepEqual(argv.slice(i, i + 2), ['exec', '--detach']);
    assert.equal(argv[argv.indexOf('--pid-file') + 1], '/p');
    assert.equal(argv[argv.indexOf('--console-socket') + 1], '/s');
    assert.ok(argv.includes('--tty'));
    assert.equal(argv.at(-1), 'c1');
    assert.deepEqual(f.processJson(), proc);
    assert.equal(existsSync(argv[argv.indexOf('--process') + 1]!), false, 'process file removed');
    assert.equal(runcTempDirs().length, before, 'no per-call temp dirs left');
  });

  test('exec rejects a tty flag that disagrees with the process, and empty args', async () => {
    const f = fake({ kind: 'ok' });
    const r = new Runc({ binary: f.binary });
    const before = runcTempDirs().length;
    await rejects(r.exec('c1', { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/' }, { tty: true }), 'invalid-argument');
    await rejects(r.exec('c1', { user: { uid: 0, gid: 0 }, args: [], cwd: '/' }), 'invalid-argument');
    assert.throws(() => r.execForeground('c1', { user: { uid: 0, gid: 0 }, args: [], cwd: '/' }), CtrxError);
    assert.throws(() => r.run('c1', { bundle: '' }), CtrxError);
    assert.equal(f.calls().length, 0);
    assert.equal(runcTempDirs().length, before, 'no temp dirs left by refused calls');
  });

  test('update sends resources on stdin', async () => {
    const f = fake({ kind: 'ok' });
    await new Runc({ binary: f.binary }).update('c1', { memory: { limit: 1 << 24 }, pids: { limit: 10 } });
    assert.deepEqual(f.calls()[0], ['update', '--resources', '-', 'c1']);
    assert.deepEqual(JSON.parse(f.stdin()), { memory: { limit: 16777216 }, pids: { limit: 10 } });
  });

  test('ids and signals are checked before runc runs', async () => {
    const f = fake({ kind: 'ok' });
    const r = new Runc({ binary: f.binary });
    await rejects(r.state('../etc'), 'invalid-argument');
    await rejects(r.delete('-rf'), 'invalid-argument');
    await rejects(r.kill('c1', 'KILL; rm -rf /'), 'invalid-argument');
    assert.equal(f.calls().length, 0);
  });

  test('runcForContext: root <state>/runc/<ns>, binary from config, debug lines only with --debug', async () => {
    const f = fake({ kind: 'ok', stdout: 'null' });
    const facts = { ...defaultFacts(), runc: { systemdCgroup: false, binaryName: f.binary } };
    const lines: string[] = [];
    const ctx = { debug: false, onDebug: (l: string) => lines.push(l), namespace: 'ns1', state: '/st', facts };
    await runcForContext(ctx).list();
    assert.deepEqual(f.calls()[0]!.slice(0, 2), ['--root', '/st/runc/ns1']);
    assert.equal(lines.length, 0);
    await runcForContext({ ...ctx, debug: true }).list();
    assert.equal(lines.length, 1);
  });
});

describe('output parsing', () => {
  test('state parsed; list null is empty', async () => {
    const st = { ociVersion: '1.0.2-dev', id: 'c1', pid: 42, status: 'running', bundle: '/b', rootfs: '/b/rootfs', created: '2024-01-01T00:00:00Z', owner: '' };
    const r = new Runc({ binary: fake({ kind: 'ok', stdout: JSON.stringify(st) }).binary });
    assert.deepEqual(await r.state('c1'), st);
    assert.deepEqual(await new Runc({ binary: fake({ kind: 'ok', stdout: 'null' }).binary }).list(), []);
  });

  test('bad JSON is an internal error naming the verb', async () => {
    const r = new Runc({ binary: fake({ kind: 'ok', stdout: '{"id": "c1", ' }).binary });
    await rejects(r.state('c1'), 'internal', /runc state printed invalid JSON/);
    const r2 = new Runc({ binary: fake({ kind: 'ok', stdout: '{"type":"oom"}' }).binary });
    await rejects(r2.stats('c1'), 'internal', /unexpected document/);
    const r3 = new Runc({ binary: fake({ kind: 'ok', stdout: '["x"]' }).binary });
    await rejects(r3.ps('c1'), 'internal');
  });

  test('stdout beyond the limit is refused, not buffered', async () => {
    const f = fake({ kind: 'ok', stdout: 'x'.repeat(200_000) });
    await rejects(new Runc({ binary: f.binary, maxOutputBytes: 1000 }).list(), 'internal', /more than 1000 bytes/);
  });

  test('version parsed', async () => {
    const out = 'runc version 1.1.5\ncommit: abc\nspec: 1.0.2-dev\ngo: go1.19\n';
    assert.deepEqual(await new Runc({ binary: fake({ kind: 'ok', stdout: out }).binary }).version(), { version: '1.1.5', commit: 'abc', spec: '1.0.2-dev' });
  });
});

describe('failures', () => {
  test('runc messages map to categories with the container as subject', async () => {
    const cases: Array<[string, string]> = [
      ['container does not exist', 'not-found'],
      ['container with id exists: c1', 'already-exists'],
      ['cannot delete container c1 that is not stopped: running', 'failed-precondition'],
      ['container not running', 'failed-precondition'],
      ['something else broke', 'internal'],
    ];
    for (const [msg, cat] of cases) {
      const e = await rejects(new Runc({ binary: fake({ kind: 'fail', message: msg }).binary }).delete('c1'), cat);
      assert.equal(e.message, msg);
      assert.equal(e.subject, 'container "c1"');
    }
  });

  test('create reads the error back from its log (stdio belongs to the container)', async () => {
    const f = fake({ kind: 'fail', message: 'container with id exists: c1', viaLog: true });
    await rejects(new Runc({ binary: f.binary }).create('c1', { bundle: '/b' }), 'already-exists', /exists/);
  });

  test('a hanging runc is killed at the deadline', async () => {
    const f = fake({ kind: 'hang' });
    const t0 = Date.now();
    await rejects(new Runc({ binary: f.binary, timeoutMs: 300 }).state('c1'), 'unavailable', /did not finish within 300 ms/);
    assert.ok(Date.now() - t0 < 5000);
    const pid = f.pid()!;
    assert.equal(existsSync(`/proc/${pid}`), false, `fake runc ${pid} still alive`);
  });

  test('something runc left behind holding its pipes does not hang the call', async () => {
    const f = fake({ kind: 'orphan', stdout: 'null' });
    const t0 = Date.now();
    try {
      assert.deepEqual(await new Runc({ binary: f.binary }).list(), []);
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      const orphan = Number(readFileSync(f.binary + '.orphan', 'utf8'));
      if (orphan > 0) process.kill(orphan, 'SIGKILL');
    }
  });

  test('a runc flooding stderr: memory bounded, last line still reported', async () => {
    const f = fake({ kind: 'flood', bytes: 20 * 1024 * 1024, last: 'the real error' });
    const e = await rejects(new Runc({ binary: f.binary, maxErrorBytes: 4096 }).kill('c1', 9), 'internal');
    assert.equal(e.message, 'the real error');
  });

  test('a missing binary is unavailable with an install hint', async () => {
    const f = fake({ kind: 'missing' });
    const e = await rejects(new Runc({ binary: f.binary }).list(), 'unavailable', /not found/);
    assert.match(e.hint ?? '', /apt-get install runc/);
    const child = new Runc({ binary: f.binary }).run('c1', { bundle: '/b' });
    await rejects(child.wait(), 'unavailable', /not found/);
  });

  test('piped stdio for a detached process is refused before runc runs', async () => {
    const f = fake({ kind: 'ok' });
    await rejects(new Runc({ binary: f.binary }).create('c1', { bundle: '/b', stdio: { stdout: 'pipe' } }), 'invalid-argument');
    assert.equal(f.calls().length, 0);
  });
});

describe('foreground run', () => {
  test("the container's exit status and output come back", async () => {
    const f = makeFakeRunc(dir, { kind: 'ok', stdout: 'hi\n', exit: 3 }, 'fg1');
    const child = new Runc({ binary: f.binary }).run('c1', { bundle: '/b', stdio: { stdin: 'ignore' } });
    const chunks: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => chunks.push(b));
    assert.deepEqual(await child.wait(), { status: 3 });
    assert.equal(Buffer.concat(chunks).toString(), 'hi\n');
    assert.ok(f.calls()[0]!.includes('run'));
  });

  test("runc's own failure (logged) rejects instead of looking like an exit status", async () => {
    const f = makeFakeRunc(dir, { kind: 'fail', message: 'container with id exists: c1', viaLog: true }, 'fg2');
    const child = new Runc({ binary: f.binary }).run('c1', { bundle: '/b', stdio: { stdin: 'ignore', stderr: 'ignore' } });
    await rejects(child.wait(), 'already-exists');
  });
});
