#!/usr/bin/env node
// The detached task supervisor (src/shim): forked by ctrx, never run by hand.
const { main } = await import('../src/shim/main.js');
await main();
