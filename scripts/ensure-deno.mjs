// Deno 2 runs the same compiled code in tests (the CLI under Deno, unit tests
// under `deno test`). It is installed on demand and not locked: the npm
// registry this project builds against lacks some of the deno package's
// per-platform binaries, which `npm ci` would insist on locking.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const VERSION = '2.9.6';
if (!existsSync(new URL('../node_modules/.bin/deno', import.meta.url))) {
  const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', `deno@${VERSION}`], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`could not install deno@${VERSION}; tests that run Deno will be skipped or fail`);
    process.exit(r.status ?? 1);
  }
}
