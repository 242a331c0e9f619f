/** Ids for shell completion (commands/completion.ts calls completeIds). Never throws for a missing state. */
import type { OpContext } from '../context.js';
import { env } from '../platform/index.js';
import { bucketNames, path } from './buckets.js';
import { viewMeta } from './db.js';
import { K } from './schema.js';

export type NameKind = 'namespaces' | 'images' | 'containers' | 'snapshots' | 'leases' | 'content';

/** Names of one kind in the context's namespace (snapshots: of the default or given snapshotter). */
export function listNames(ctx: Pick<OpContext, 'root' | 'namespace' | 'facts'>, kind: NameKind, snapshotter?: string): string[] {
  return viewMeta(ctx, (tx) => {
    if (!tx) return [];
    const ns = ctx.namespace;
    switch (kind) {
      case 'namespaces':
        return bucketNames(tx.bucket(K.v1));
      case 'images':
        return bucketNames(path(tx, K.v1, ns, K.images));
      case 'containers':
        return bucketNames(path(tx, K.v1, ns, K.containers));
      case 'leases':
        return bucketNames(path(tx, K.v1, ns, K.leases));
      case 'content':
        return bucketNames(path(tx, K.v1, ns, K.content, K.blob));
      case 'snapshots':
        return bucketNames(path(tx, K.v1, ns, K.snapshots, snapshotter || env('CONTAINERD_SNAPSHOTTER') || ctx.facts.snapshotter));
      default:
        return [];
    }
  });
}

export async function completeIds(ctx: Pick<OpContext, 'root' | 'namespace' | 'facts'>, kind: string): Promise<string[]> {
  if (!['namespaces', 'images', 'containers', 'snapshots', 'leases', 'content'].includes(kind)) return [];
  try {
    return listNames(ctx, kind as NameKind);
  } catch {
    return [];
  }
}
