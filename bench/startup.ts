// Cold-start figures: ctrx commands against the bare runtime, side by side.
//   npm run build && node dist/bench/startup.js [runs]
// Prints one line per command with median and p90 wall time in ms.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ctrx = path.join(root, 'dist/cli/ctrx.js');
const deno = path.join(root, 'node_modules/.bin/deno');
const runs = Number(process.argv[2] ?? 30);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ctrx-bench-'));
const g = ['-c', path.join(tmp, 'none.toml'), '--root', path.join(tmp, 'root'), '--state', path.join(tmp, 'state')];

const cases: [string, string, string[]][] = [
  ['node -e 0', process.execPath, ['-e', '0']],
  ['ctrx --version (node)', process.execPath, [ctrx, '--version']],
  ['ctrx version (node)', process.execPath, [ctrx, ...g, 'version']],
  ['ctrx namespaces ls (node)', process.execPath, [ctrx, ...g, 'namespaces', 'ls']],
  ['ctrx plugins ls (node)', process.execPath, [ctrx, ...g, 'plugins', 'ls']],
  ['deno eval 0', deno, ['eval', '0']],
  ['ctrx --version (deno)', deno, ['run', '-A', '--quiet', ctrx, '--version']],
  ['ctrx namespaces ls (deno)', deno, ['run', '-A', '--quiet', ctrx, ...g, 'namespaces', 'ls']],
];
if (spawnSync('runc', ['--version']).status === 0) cases.push(['runc --version', 'runc', ['--version']]);

function measure(cmd: string, args: string[]): number[] {
  spawnSync(cmd, args); // warm the page cache
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    spawnSync(cmd, args, { stdio: 'ignore' });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b);
}

console.log(`${'command'.padEnd(30)} ${'median'.padStart(8)} ${'p90'.padStart(8)}   (${runs} runs, ${os.cpus().length} cpus, node ${process.versions.node})`);
for (const [name, cmd, args] of cases) {
  const t = measure(cmd, args);
  const q = (p: number) => t[Math.min(t.length - 1, Math.floor(p * t.length))]!.toFixed(1);
  console.log(`${name.padEnd(30)} ${q(0.5).padStart(8)} ${q(0.9).padStart(8)}`);
}
rmSync(tmp, { recursive: true, force: true });
