/**
 * A write that must not half-happen (unmount before removing records, read
 * stdin before recording a blob) asks first whether a write session would be
 * refused, with the same message the session gives.
 */
import { existsSync } from 'node:fs';
import type { OpContext } from '../context.js';
import { unavailable } from '../errdefs.js';
import { lockHolder, metaDbPath } from './db.js';

/** Throws 'unavailable' when another process (containerd) holds meta.db's lock. */
export function assertWritable(ctx: Pick<OpContext, 'root'>): void {
  const file = metaDbPath(ctx.root);
  if (!existsSync(file)) return;
  const who = lockHolder(file);
  if (!who.pid) return;
  const holder = `${who.name || 'process'} (pid ${who.pid})`;
  const daemon = !who.name || /containerd/.test(who.name);
  throw unavailable(`locked by ${holder}: ctrx cannot write while ${daemon ? 'the daemon' : 'it'} runs; ${daemon ? 'stop it or use ctr' : 'try again when it is done'}`, { subject: 'meta.db' });
}
