/**
 * A writer in its own process, for the crash and concurrency tests (not a
 * test file). argv[2] is JSON: { root, ref, size, seed, expected?, waitMs?,
 * chunk, delayMs, goFile? }. Prints one JSON line: { outcome, ... }.
 */
import { existsSync } from 'node:fs';
import { ContentStore } from '../../../src/content/local-store.js';
import { CtrxError } from '../../../src/errdefs.js';

interface Args {
  root: string;
  ref: string;
  size: number;
  seed: number;
  expected?: string;
  waitMs?: number;
  chunk: number;
  delayMs: number;
  goFile?: string;
}

export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2]!) as Args;
  const data = pattern(a.size, a.seed);
  if (a.goFile) while (!existsSync(a.goFile)) await sleep(2);
  const cs = ContentStore.forRoot(a.root);
  let w;
  try {
    w = await cs.writer(a.ref, { total: a.size, expected: a.expected, waitMs: a.waitMs ?? 0 });
  } catch (e) {
    const inUse = e instanceof CtrxError && e.category === 'unavailable';
    console.log(JSON.stringify({ outcome: inUse ? 'in-use' : 'error', message: String((e as Error).message) }));
    return;
  }
  if (w.existing) {
    const r = await w.commit(a.size, a.expected);
    console.log(JSON.stringify({ outcome: 'exists', at: 'open', ...r }));
    return;
  }
  for (let off = w.offset; off < a.size; off += a.chunk) {
    await w.write(data.subarray(off, Math.min(a.size, off + a.chunk)));
    if (a.delayMs) await sleep(a.delayMs);
  }
  try {
    const r = await w.commit(a.size, a.expected);
    console.log(JSON.stringify({ outcome: r.alreadyExists ? 'exists' : 'committed', at: 'commit', ...r }));
  } catch (e) {
    const c = e instanceof CtrxError ? e : undefined;
    console.log(JSON.stringify({ outcome: 'error', at: 'commit', category: c?.category, message: String((e as Error).message), hint: c?.hint }));
  }
}

if (process.argv[2]) {
  main().catch((e) => {
    console.log(JSON.stringify({ outcome: 'error', message: String((e as Error)?.message ?? e) }));
    process.exitCode = 1;
  });
}
