import { stub } from './_lib/stub.js';

export const run = stub('', 'run', 'Run a container', { positional: '<image> <id> [args..]' });
