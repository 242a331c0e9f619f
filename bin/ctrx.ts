#!/usr/bin/env node
// Kept tiny: the CLI lives in commands/, loaded on demand.
const { main } = await import('../commands/main.js');
await main();
