/**
 * What one shim costs: the modules it loads (only src/shim and
 * src/platform, koffi for a tty; never the CLI, yargs, ink, react, ora,
 * tar-stream, smol-toml) and its memory (PSS, for the bench).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteTask, startTask } from '../../../src/tasks/manager.js';
import { runtime } from '../../../src/platform/index.js';
import { makeWorld, runcAvailable, type World } from './rig.js';

const skip = runcAvailable();
// The module recorder is a Node loader hook (--import); under Deno only the memory figure is taken.
const nodeOnly = skip ?? (runtime().name === 'node' ? undefined : 'the module recorder needs Node');
let w: World;
before(async () => {
  if (!skip) w = await makeWorld('fp');
});
after(async () => {
  w?.close();
});

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const recorder = path.join(dist, 'test', 'cli', 'record-modules.js');
const HEAVY = ['yargs', 'ink', 'react', 'ora', 'tar-stream', 'smol-toml'];

/** koffi (and its per-platform binary package) for a tty, nothing at all otherwise. */
function assertPackages(packages: Set<string>, tty: boolean): void {
  const koffi = [...packages].filter((p) => /(^|\/)koffi/.test(p));
  assert.deepEqual([...packages].filter((p) => !koffi.includes(p)), [], 'packages other than koffi');
  assert.equal(koffi.includes('koffi'), tty, tty ? 'a tty needs koffi (console socket)' : 'no tty: no FFI at all');
}

/** Runs one shim to completion on a prepared process dir under the module recorder. */
function recordShim(script: string, id: string, tty: boolean): { urls: string[]; packages: Set<string>; code: number | null } {
  const dir = path.join(w.state, 'ctrx', w.ns, id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(w.spec(id, ['true'], { tty })));
  writeFileSync(path.join(dir, 'proc.json'), JSON.stringify({
    version: 1, kind: 'init', namespace: w.ns, id, runc: { binary: 'runc', root: w.runcRoot }, bundle: dir, tty, stdin: false,
    logPath: path.join(w.root, 'ctrx', w.ns, id, 'task.log'), attachSocket: path.join(w.state, 'ctrx', '_s', `${id}.a`),
    consoleSocket: tty ? path.join(w.state, 'ctrx', '_s', `${id}.c`) : undefined, createdAt: new Date().toISOString(),
  }));
  const record = path.join(w.dir, `modules-${id}.txt`);
  writeFileSync(record, '');
  const r = spawnSync(process.execPath, ['--import', recorder, script, '--dir', dir], { env: { ...process.env, CTRX_RECORD_MODULES: record }, timeout: 20_000 });
  const urls = readFileSync(record, 'utf8').split('\n').filter(Boolean);
  const packages = new Set(urls.map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1]).filter((p): p is string => Boolean(p)));
  assert.ok(existsSync(path.join(dir, 'exit.json')), `the shim ran the task: ${readFileSync(path.join(dir, 'shim.log'), 'utf8')}`);
  return { urls, packages, code: r.status };
}

test('the compiled shim loads only src/shim and src/platform (and koffi only for a tty)', { skip: nodeOnly }, () => {
  const script = path.join(dist, 'bin', 'ctrx-shim.js');
  for (const tty of [false, true]) {
    const { urls, packages, code } = recordShim(script, tty ? 'modtty' : 'mod', tty);
    assert.equal(code, 0);
    const own = urls.filter((u) => u.startsWith('file://') && !u.includes('/node_modules/')).map((u) => path.relative(dist, fileURLToPath(u)));
    assert.ok(own.includes(path.join('src', 'shim', 'supervise.js')), `the recorder saw the shim: ${own.join(', ')}`);
    const stray = own.filter((f) => !/^(bin\/ctrx-shim\.js|src\/shim\/|src\/platform\/|test\/cli\/)/.test(f));
    assert.deepEqual(stray, [], 'modules outside src/shim and src/platform');
    assertPackages(packages, tty);
  }
});

test('the bundled shim (dist/cli/ctrx-shim.js, what users run) loads no package but koffi for a tty', { skip: nodeOnly ?? (existsSync(path.join(dist, 'cli', 'ctrx-shim.js')) ? undefined : 'run npm run build for the bundle') }, () => {
  const script = path.join(dist, 'cli', 'ctrx-shim.js');
  for (const tty of [false, true]) {
    const { urls, packages, code } = recordShim(script, tty ? 'bundtty' : 'bund', tty);
    assert.equal(code, 0);
    for (const p of HEAVY) assert.ok(!packages.has(p), `${p} loaded`);
    assertPackages(packages, tty);
    const bytes = urls.filter((u) => u.includes('/dist/cli/')).reduce((n, u) => n + readFileSync(fileURLToPath(u)).length, 0);
    assert.ok(bytes < 200_000, `the shim's code is small: ${bytes} bytes`);
  }
});

function pssKiB(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return Number(m?.[1]);
}

test('memory of one supervised task: PSS of the shim (and of the runc it keeps in the foreground)', { skip }, async (t) => {
  const info = await startTask(w.ctx, { id: 'mem', spec: w.spec('mem', ['sleep', '60']) });
  await new Promise((r) => setTimeout(r, 500));
  const shim = info.supervisor!.pid;
  const runcPid = Number(spawnSync('pgrep', ['-P', String(shim)], { encoding: 'utf8' }).stdout.trim().split('\n')[0]);
  const shimPss = pssKiB(shim);
  const runcPss = runcPid ? pssKiB(runcPid) : NaN;
  t.diagnostic(`shim PSS ${shimPss} KiB, runc run PSS ${runcPss} KiB, total ${shimPss + runcPss} KiB`);
  assert.ok(shimPss > 1000 && shimPss < 100_000, `shim PSS ${shimPss} KiB`);
  await deleteTask(w.ctx, 'mem', { force: true });

  // A tty task keeps no runc: the shim reaps the init itself.
  const tty = await startTask(w.ctx, { id: 'memtty', spec: w.spec('memtty', ['sleep', '60'], { tty: true }) });
  await new Promise((r) => setTimeout(r, 500));
  const children = spawnSync('pgrep', ['-P', String(tty.supervisor!.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  assert.deepEqual(children, [tty.pid], 'the init is the shim\'s child, no runc left');
  t.diagnostic(`tty shim PSS ${pssKiB(tty.supervisor!.pid)} KiB (no runc process)`);
  await deleteTask(w.ctx, 'memtty', { force: true });
});
