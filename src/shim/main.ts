/**
 * The shim's entry (bin/ctrx-shim.ts): `ctrx-shim --dir <process dir>`.
 * Everything else is in <dir>/proc.json. It writes only to <dir>/shim.log
 * and exits with the task's status. Loads nothing but src/shim,
 * src/platform (and the libc FFI for a tty): no CLI code, no heavy packages.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { args, exit } from '../platform/index.js';
import { SHIM_LOG } from './layout.js';
import { supervise } from './supervise.js';

export async function main(): Promise<void> {
  let dir: string | undefined;
  try {
    dir = parseArgs({ args: args(), options: { dir: { type: 'string' } }, strict: true }).values.dir;
  } catch {
    dir = undefined;
  }
  if (!dir) exit(2);
  const logFile = path.join(dir, SHIM_LOG);
  const diag = (line: string): void => {
    try {
      appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
    } catch {
      /* the dir was removed under us: nobody to tell */
    }
  };
  try {
    exit(await supervise(dir, diag));
  } catch (e) {
    diag(`fatal: ${(e as Error).stack ?? String(e)}`);
    exit(1);
  }
}
