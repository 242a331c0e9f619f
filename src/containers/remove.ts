/**
 * Removing containers as a user expects: a container whose task still runs
 * is refused unless forced (then the task is killed and deleted first); a
 * stopped task's leftovers go with it; the record, the snapshot (unless
 * kept) and ctrx's log follow.
 */
import type { OpContext } from '../context.js';
import { failedPrecondition, isCategory } from '../errdefs.js';
import { containersRemove } from '../metadata/api.js';
import { deleteTask, removeTaskLogs } from '../tasks/manager.js';
import { containerTask } from './task.js';

export async function removeContainers(ctx: OpContext, ids: string[], o: { force?: boolean; keepSnapshot?: boolean } = {}): Promise<{ removed: string[]; missing: string[] }> {
  for (const id of ids) {
    const t = await containerTask(ctx, id);
    if (!t) continue;
    if (t.status !== 'stopped' && !o.force) {
      throw failedPrecondition(`cannot remove a container whose task is ${t.status}${t.owner !== 'ctrx' ? ` (${t.owner}'s)` : ''}`, {
        subject: `container ${JSON.stringify(id)}`,
        hint: `stop it first (ctrx -n ${ctx.namespace} stop ${id}) or use --force`,
      });
    }
    await deleteTask(ctx, id, { force: Boolean(o.force) }).catch((e) => {
      if (!isCategory(e, 'not-found')) throw e;
    });
  }
  const r = containersRemove(ctx, ids, Boolean(o.keepSnapshot));
  for (const id of r.removed) removeTaskLogs(ctx, id);
  return { removed: r.removed, missing: r.missing };
}
