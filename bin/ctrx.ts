#!/usr/bin/env node
// Kept tiny: the CLI lives in commands/, loaded on demand. `--version` alone
// is answered here, before yargs (the largest part of cold start) is loaded.
import { VERSION } from '../src/version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`ctrx ${VERSION}\n`);
} else {
  const { main } = await import('../commands/main.js');
  await main();
}
