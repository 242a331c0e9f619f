// Bundles the two entry points (CLI and shim) into dist/cli/ with esbuild.
// Why: Node 20 spends most of a plain command's start resolving and compiling
// yargs' ~40 modules one by one; one bundle with split chunks for lazily
// imported code roughly halves ctrx's cold start (see bench/README.md).
// Heavy or native packages stay external and load only where a command
// imports them.
import { build } from 'esbuild';
import { existsSync, rmSync, chmodSync } from 'node:fs';

const entryPoints = ['bin/ctrx.ts', 'bin/ctrx-shim.ts'].filter((f) => existsSync(f));
rmSync('dist/cli', { recursive: true, force: true });
await build({
  entryPoints,
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ink', 'react', 'react/*', 'ora', 'tar-stream', 'smol-toml', 'koffi'],
  chunkNames: 'chunks/[name]-[hash]',
  legalComments: 'none',
  logLevel: 'warning',
  // yargs' ESM build uses these CommonJS names through createRequire-style shims.
  banner: { js: "import { createRequire as __ctrxCreateRequire } from 'node:module'; const require = __ctrxCreateRequire(import.meta.url);" },
});
for (const f of entryPoints) chmodSync(`dist/cli/${f.replace(/^bin\//, '').replace(/\.ts$/, '.js')}`, 0o755);
