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
  // Files named _*.ts next to verbs are view helpers that verbs import lazily; they must never be imported statically.
  const staticHelperImports = sources('commands').flatMap((f) =>
    [...readFileSync(path.join(projectRoot, f), 'utf8').matchAll(/^import\s+(?!type\b)[^;]*?from\s+['"](\.\/_[^'"]+)['"]/gm)].map((m) => `${f}: ${m[1]}`),
  );
  assert.deepEqual(staticHelperImports, []);
  const bad = sources('commands')
    .filter((f) => !f.includes('_lib') && !path.basename(f).startsWith('_'))
    .flatMap((f) => [...readFileSync(path.join(projectRoot, f), 'utf8').matchAll(/^import\s+(?!type\b)[^;]*?from\s+['"]([^'"]+)['"]/gm)]
      .map((m) => m[1]!)
      .filter((i) => i.includes('/src/') && !allowed.test(i))
      .map((i) => `${f}: ${i}`));
  assert.deepEqual(bad, []);
});
