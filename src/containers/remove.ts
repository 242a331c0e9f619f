/**
 * Removing containers as a user expects: a container whose task still runs
 * is refused unless forced (then the task is killed and deleted first); a
 * stopped task's leftovers go with it; the record, the snapshot (unless
 * kept) and ctrx's log follow.
 */
import type { OpContext } from '../context.js';
import { failedPrecondition, isCategory } from '../errdefs.js';
import { containersRemove } from '../metadata/api.js';
import { viewMeta } from '../metadata/db.js';
import { path as bucketPath } from '../metadata/buckets.js';
import { K } from '../metadata/schema.js';
import { deleteTask, removeTaskLogs } from '../tasks/manager.js';
import { containerTask, getContainerRecord } from './task.js';

function hasRecord(ctx: OpContext, id: string): boolean {
  try {
    getContainerRecord(ctx, id);
    return true;
  } catch (e) {
    if (isCategory(e, 'not-found')) return false;
    throw e;
  }
}

export async function removeContainers(ctx: OpContext, ids: string[], o: { force?: boolean; keepSnapshot?: boolean } = {}): Promise<{ removed: string[]; missing: string[] }> {
  // Containers whose task this call ends: the `run --rm` that ran it may remove the record first, which is no failure.
  const ending = new Set<string>();
  for (const id of ids) {
    const t = await containerTask(ctx, id);
    if (!t) continue;
    if (t.status !== 'stopped' && !o.force) {
      throw failedPrecondition(`cannot remove a container whose task is ${t.status}${t.owner !== 'ctrx' ? ` (${t.owner}'s)` : ''}`, {
        subject: `container ${JSON.stringify(id)}`,
        hint: `stop it first (ctrx -n ${ctx.namespace} stop ${id}) or use --force`,
      });
    }
    if (t.status !== 'stopped' && hasRecord(ctx, id)) ending.add(id);
    await deleteTask(ctx, id, { force: Boolean(o.force) }).catch((e) => {
      if (!isCategory(e, 'not-found')) throw e;
    });
  }
  // Only ids with a record go to the store, so one missing id never stops the others (ctr goes on with the rest).
  const present = new Set(viewMeta(ctx, (tx) => ids.filter((id) => tx && bucketPath(tx, K.v1, ctx.namespace, K.containers, id))));
  const r = present.size ? containersRemove(ctx, [...present], Boolean(o.keepSnapshot)) : { removed: [], missing: [] };
  for (const id of r.removed) removeTaskLogs(ctx, id);
  const missing = [...ids.filter((id) => !present.has(id)), ...r.missing];
  return { removed: [...r.removed, ...missing.filter((id) => ending.has(id))], missing: missing.filter((id) => !ending.has(id)) };
}
