// npm run build: type-check and compile with tsc (dist/ for tests), then
// bundle the entry points (dist/cli/). The bundle is made even when tsc
// reports type errors, so work in progress elsewhere in the tree does not
// block running one's own tests; the exit code still reports tsc's failure.
import { spawnSync } from 'node:child_process';

const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
const bundle = spawnSync(process.execPath, ['scripts/bundle.mjs'], { stdio: 'inherit' });
process.exit(tsc.status || bundle.status || 0);
