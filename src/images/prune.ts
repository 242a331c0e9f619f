/**
 * `ctr images prune --all` (containerd 1.7): remove every image record no
 * container of the namespace names as its image, then collect garbage as
 * containerd does after the last deletion. All in one locked session, so no
 * container can be created from an image between the check and the delete.
 */
import type { OpContext } from '../context.js';
import { collectGarbage, type GcReport } from '../metadata/collect.js';
import { listContainers } from '../metadata/containers.js';
import { deleteImage, listImages } from '../metadata/images.js';

type Ctx = Pick<OpContext, 'root' | 'namespace' | 'facts'>;

export interface PruneResult {
  removed: string[];
  /** Images kept because a container uses them. */
  kept: string[];
  gc: GcReport;
}

export function pruneImages(ctx: Ctx): PruneResult {
  const removed: string[] = [];
  const kept: string[] = [];
  const { gc } = collectGarbage(ctx, (meta) => {
    const used = new Set(listContainers(meta, ctx.namespace).map((c) => c.image));
    for (const img of listImages(meta, ctx.namespace)) {
      if (used.has(img.name)) {
        kept.push(img.name);
        continue;
      }
      deleteImage(meta, ctx.namespace, img.name);
      removed.push(img.name);
    }
  });
  return { removed, kept, gc };
}
