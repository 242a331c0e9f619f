// Guards the layering in docs/ARCHITECTURE.md over the source tree itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../cli/ctrx.js';

function sources(dir: string): string[] {
  const abs = path.join(projectRoot, dir);
  return readdirSync(abs).flatMap((n) => {
    const p = path.join(abs, n);
    if (statSync(p).isDirectory()) return sources(path.join(dir, n));
    return /\.tsx?$/.test(n) ? [path.join(dir, n)] : [];
  });
}

const imports = (file: string) => [...readFileSync(path.join(projectRoot, file), 'utf8').matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
const code = (file: string) => readFileSync(path.join(projectRoot, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');

test('src/ never imports commands/ or the CLI/UI packages', () => {
  const bad = sources('src').flatMap((f) => imports(f).filter((i) => i.includes('/commands/') || /^(yargs|ink|react|ora)(\/|$)/.test(i)).map((i) => `${f}: ${i}`));
  assert.deepEqual(bad, []);
});

test('Deno, koffi and process.exit appear only in src/platform (and the shim entry)', () => {
  const bad = sources('src')
    .filter((f) => !f.startsWith(path.join('src', 'platform')) && !f.startsWith(path.join('src', 'shim')))
    .filter((f) => /\bDeno\.|['"]koffi['"]|process\.exit\(/.test(code(f)));
  assert.deepEqual(bad, []);
});

test('the library does not print', () => {
  const bad = sources('src')
    .filter((f) => !f.startsWith(path.join('src', 'platform')) && !f.startsWith(path.join('src', 'shim')))
    .filter((f) => /console\.(log|error|warn)\(/.test(code(f)));
  assert.deepEqual(bad, []);
});

test('command definitions load domain code lazily (no static import of src/ beyond types and light helpers)', () => {
  const allowed = /src\/(errdefs|identifiers|platform\/index|config\/facts|version)\.js$/;
  const staticImports = (f: string) =>
    [...readFileSync(path.join(projectRoot, f), 'utf8').matchAll(/^import\s+(?!type\b)[^;]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
  // Files named _*.ts beside verbs are helpers; those a verb imports statically are held to the same rule,
  // those imported only inside run() (views) may use the library.
  const all = sources('commands').filter((f) => !f.includes('_lib'));
  const loadedStatically = new Set(all.filter((f) => !path.basename(f).startsWith('_')));
  for (const f of [...loadedStatically]) {
    for (const i of staticImports(f)) if (/^\.\/_[^/]+\.js$/.test(i)) loadedStatically.add(path.join(path.dirname(f), i.replace(/\.js$/, '.ts')));
  }
  const bad = [...loadedStatically].flatMap((f) =>
    staticImports(f)
      .filter((i) => i.includes('/src/') && !allowed.test(i))
      .map((i) => `${f}: ${i}`),
  );
  assert.deepEqual(bad, []);
});

test('commands/ reach the process only through src/platform', () => {
  const bad = sources('commands').filter((f) => /\bprocess\.|\bDeno\./.test(code(f)));
  assert.deepEqual(bad, []);
});
