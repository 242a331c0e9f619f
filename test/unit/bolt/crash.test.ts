/**
 * Crash safety: a child process commits a deterministic sequence of
 * transactions and prints each committed number; we SIGKILL it at random
 * moments, many times. After every kill the file must open, pass Go bbolt's
 * check, and hold exactly the state after the last printed commit or the one
 * after it (the kill can land between the meta write and the print).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect, openDB } from '../../../src/bolt/index.js';
import { assertGoCheck, goSkipReason, tsDumpTx, type DumpBucket } from '../../helpers/bbolt.js';
import { committedCount, CRASH_BUCKET, crashTx } from '../../helpers/bolt-crash-writer.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { dumpModel, MBucket } from './model.js';

const goSkip = goSkipReason();
const SEED = process.env.CTRX_BOLT_SEED ? Number(process.env.CTRX_BOLT_SEED) : (Date.now() ^ (process.pid << 4)) >>> 0;
const KILLS = 120;
const BUDGET_MS = 45_000;
const writer = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'bolt-crash-writer.js');

let dir = '';
before(() => {
  dir = makeTempDir('ctrx-bolt-crash-');
});
after(() => {
  if (dir) removeTempDir(dir);
});

function writerCommand(file: string): [string, string[]] {
  const args = [writer, file, String(SEED)];
  return process.env.CTRX_TEST_RUNTIME === 'deno' ? [process.execPath, ['run', '-A', ...args]] : [process.execPath, args];
}

/** Run the writer, kill it after `delayMs` (measured from its first output, or from spawn if it prints nothing), return the last number printed. */
function runAndKill(file: string, delayMs: number): Promise<{ last: number; exitedEarly: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [cmd, args] = writerCommand(file);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    let killed = false;
    const kill = (): void => {
      killed = true;
      child.kill('SIGKILL');
    };
    const arm = (): void => {
      if (!timer) timer = setTimeout(kill, delayMs);
    };
    const fallback = setTimeout(arm, 1500); // a slow start must not keep it alive forever
    child.stdout.on('data', (d) => {
      out += String(d);
      arm();
    });
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      clearTimeout(fallback);
      const nums = out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
      resolve({ last: nums.length ? nums[nums.length - 1]! : -1, exitedEarly: !killed, stderr });
    });
  });
}

function withoutCrashBucket(d: DumpBucket): DumpBucket {
  const crashHex = Buffer.from(CRASH_BUCKET).toString('hex');
  return { seq: d.seq, entries: d.entries.filter((e) => e.k !== crashHex) };
}

describe('bolt crash safety', { skip: goSkip ?? false }, () => {
  it(`survives SIGKILL at random moments (seed ${SEED})`, async (t) => {
    assert.ok(existsSync(writer), `crash writer not built at ${writer}`);
    const file = join(dir, 'crash.db');
    const model = new MBucket();
    let modelAt = 0;
    // Commit counts only grow from kill to kill, so the model only moves forward.
    const stateAfter = (n: number): DumpBucket => {
      assert.ok(n >= modelAt, `commit count went back from ${modelAt} to ${n}`);
      while (modelAt < n) crashTx(SEED, ++modelAt, model);
      return dumpModel(model);
    };
    let committed = 0;
    let kills = 0;
    let midTx = 0;
    const start = Date.now();
    while (kills < KILLS && Date.now() - start < BUDGET_MS) {
      // Mostly short delays (a few commits), sometimes longer runs.
      const delay = kills % 7 === 0 ? 40 + ((kills * 37) % 160) : (kills * 13) % 45;
      const r = await runAndKill(file, delay);
      assert.ok(!r.exitedEarly, `writer exited by itself (seed ${SEED}): ${r.stderr}`);
      kills++;
      const ctx = `seed ${SEED}, kill ${kills}, last printed ${r.last}`;
      if (!existsSync(file)) continue; // killed before it created the file
      // Until a first commit is reported the writer may have died creating the file:
      // the next creator (here: us) must be able to finish that.
      const db = openDB(file, { create: committed === 0 && r.last < 0 });
      assertGoCheck(file, ctx);
      try {
        const { n, dump } = db.view((tx) => ({ n: committedCount(tx), dump: tsDumpTx(tx) }));
        const printed = Math.max(r.last, committed);
        assert.ok(n === printed || n === printed + 1, `file holds ${n} commits, writer printed ${printed} (${ctx})`);
        if (n === printed + 1) midTx++;
        committed = n;
        assert.deepEqual(withoutCrashBucket(dump), stateAfter(n), `content after ${n} commits (${ctx})`);
        assert.deepEqual(inspect(db).problems, [], ctx);
      } finally {
        db.close();
      }
    }
    t.diagnostic(
      `seed ${SEED}: ${kills} kills survived in ${((Date.now() - start) / 1000).toFixed(1)} s, ${committed} transactions committed, ` +
        `${midTx} kills landed after a commit but before its print`,
    );
    assert.ok(kills >= 50, `only ${kills} kills in the time budget`);
    assert.ok(committed >= 50, `only ${committed} commits happened between kills`);
  });
});
