#!/usr/bin/env node
// Runs the compiled test files with node's test runner (one `node --test`
// over an explicit file list, so helpers under test/ are never run as tests).
//   node test/run.mjs                 every test
//   node test/run.mjs unit cli        only files whose path contains one of the words
//   node test/run.mjs --deno unit     the same files under Deno 2 (deno test, node:test compatible)
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist', 'test');
let args = process.argv.slice(2);
const deno = args.includes('--deno');
args = args.filter((a) => a !== '--deno');

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : name.endsWith('.test.js') ? [p] : [];
  });
}

const files = walk(dist)
  .filter((f) => args.length === 0 || args.some((w) => path.relative(dist, f).includes(w)))
  .sort();
if (files.length === 0) {
  console.error(`no test files matched ${args.join(' ') || '(all)'} under dist/test (did the build run?)`);
  process.exit(1);
}
const cmd = deno
  ? [path.join(root, 'node_modules', '.bin', 'deno'), ['test', '-A', '--quiet', ...files]]
  : [process.execPath, ['--test', ...files]];
const r = spawnSync(cmd[0], cmd[1], { stdio: 'inherit', cwd: root, env: { ...process.env, ...(deno ? { CTRX_TEST_RUNTIME: 'deno' } : {}) } });
process.exit(r.status ?? 1);
