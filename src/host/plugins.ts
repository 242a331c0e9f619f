/**
 * What ctrx can do on this host, in containerd's plugin vocabulary, so that
 * `ctrx plugins ls` reads like `ctr plugins ls`.
 */
import path from 'node:path';
import { hostPlatform } from '../platform/index.js';
import type { OpContext } from '../context.js';
import { metadataLock, probeOverlay, type LockFacts } from './probe.js';
import { runcVersion, type RuncVersion } from '../runtime/runc/version.js';

export interface PluginInfo {
  type: string;
  id: string;
  platforms: string[];
  status: 'ok' | 'skip' | 'error' | 'read-only';
  /** Why it is skipped, errored or read-only. */
  reason?: string;
  exports: Record<string, string>;
}

export interface Paths {
  config: string;
  root: string;
  state: string;
  metaDB: string;
  content: string;
  snapshotters: Record<string, string>;
  ctrxState: string;
  ctrxRoot: string;
}

export function resolvePaths(ctx: OpContext): Paths {
  return {
    config: ctx.configPath,
    root: ctx.root,
    state: ctx.state,
    metaDB: path.join(ctx.root, 'io.containerd.metadata.v1.bolt', 'meta.db'),
    content: path.join(ctx.root, 'io.containerd.content.v1.content'),
    snapshotters: {
      overlayfs: ctx.facts.overlayfsRootPath ?? path.join(ctx.root, 'io.containerd.snapshotter.v1.overlayfs'),
      native: ctx.facts.nativeRootPath ?? path.join(ctx.root, 'io.containerd.snapshotter.v1.native'),
    },
    ctrxState: path.join(ctx.state, 'ctrx'),
    ctrxRoot: path.join(ctx.root, 'ctrx'),
  };
}

function platformString(): string {
  const p = hostPlatform();
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Snapshotters containerd ships that ctrx does not drive. */
const UNSUPPORTED_SNAPSHOTTERS: [string, string][] = [
  ['aufs', 'aufs is not supported by ctrx'],
  ['btrfs', 'btrfs is not supported by ctrx yet'],
  ['devmapper', 'devmapper is not supported by ctrx'],
  ['zfs', 'zfs is not supported by ctrx'],
];

export interface HostReport {
  plugins: PluginInfo[];
  paths: Paths;
  lock: LockFacts;
  runc: RuncVersion;
}

export function hostReport(ctx: OpContext): HostReport {
  const paths = resolvePaths(ctx);
  const platforms = [platformString()];
  const lock = metadataLock(paths.metaDB);
  const runc = runcVersion(ctx.facts.runc.binaryName ?? 'runc');
  const plugins: PluginInfo[] = [];
  plugins.push({ type: 'io.containerd.content.v1', id: 'content', platforms, status: 'ok', exports: { root: paths.content } });
  plugins.push({
    type: 'io.containerd.metadata.v1',
    id: 'bolt',
    platforms,
    status: lock.locked ? 'read-only' : 'ok',
    reason: lock.locked ? `meta.db is locked by ${lock.holder ?? 'another process'}${lock.pid ? ` (pid ${lock.pid})` : ''}: ctrx can read but not write while the daemon runs` : undefined,
    exports: { path: paths.metaDB },
  });
  const overlay = probeOverlay(paths.snapshotters.overlayfs!);
  plugins.push({ type: 'io.containerd.snapshotter.v1', id: 'overlayfs', platforms, status: overlay.status, reason: overlay.reason, exports: { root: paths.snapshotters.overlayfs! } });
  plugins.push({ type: 'io.containerd.snapshotter.v1', id: 'native', platforms, status: 'ok', exports: { root: paths.snapshotters.native! } });
  for (const [id, reason] of UNSUPPORTED_SNAPSHOTTERS) plugins.push({ type: 'io.containerd.snapshotter.v1', id, platforms, status: 'skip', reason, exports: {} });
  plugins.push({
    type: 'io.containerd.runtime.v2',
    id: 'runc',
    platforms,
    status: runc.ok ? 'ok' : 'error',
    reason: runc.ok ? undefined : runc.error,
    exports: runc.ok ? { binary: runc.path!, version: runc.version! } : {},
  });
  return { plugins, paths, lock, runc };
}
