/**
 * The world for the images-local interop tests: the rig's registry with the
 * 1-layer (busybox), 3-layer (layered) and two-platform (multi) fixtures, a
 * private containerd that pulled them, and helpers that run ctrx against the
 * daemon's root and state (text or raw bytes).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { startRegistry, pushImage, type Registry } from '../../helpers/registry.js';
import { buildFixture, fixtureUnavailable } from '../../helpers/fixtures.js';
import { ctrx, ctrxJs, runtimeCommand, type Result } from '../../cli/ctrx.js';

export interface World {
  registry: Registry;
  cd: Containerd;
  refs: { busybox: string; layered: string; multi: string };
  /** ctrx against the daemon's root/state (no host config). */
  x(args: string[], opts?: { ns?: string; input?: string }): Result;
  /** The same, stdout as bytes. */
  xBytes(args: string[], ns?: string): { code: number; stdout: Buffer; stderr: string };
  stop(): Promise<void>;
}

export function unavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (containerd, mounts)';
  return fixtureUnavailable('busybox') ?? fixtureUnavailable('layered');
}

export async function setupWorld(): Promise<World> {
  const registry = await startRegistry();
  let cd: Containerd | undefined;
  try {
    await pushImage(registry, 'library/busybox', 'latest', await buildFixture('busybox'));
    await pushImage(registry, 'test/layered', 'v1', await buildFixture('layered'));
    await pushImage(registry, 'library/multi', 'v1', await buildFixture('busybox', { style: 'docker', multiPlatform: true }));
    const refs = { busybox: `${registry.host}/library/busybox:latest`, layered: `${registry.host}/test/layered:v1`, multi: `${registry.host}/library/multi:v1` };
    cd = await startContainerd();
    const c = cd;
    const base = (ns: string) => ['--root', c.root, '--state', c.state, '-c', c.configPath + '.missing', '-n', ns];
    return {
      registry,
      cd: c,
      refs,
      x: (args, o = {}) => ctrx([...base(o.ns ?? 'default'), ...args], o.input !== undefined ? { input: o.input } : {}),
      xBytes: (args, ns = 'default') => {
        const [cmd, ...pre] = runtimeCommand(ctrxJs);
        const r = spawnSync(cmd!, [...pre, ...base(ns), ...args], { maxBuffer: 64 << 20, timeout: 60_000 });
        return { code: r.status ?? 128, stdout: r.stdout, stderr: String(r.stderr) };
      },
      stop: async () => {
        await c.stop();
        await registry.stop();
      },
    };
  } catch (e) {
    await cd?.stop();
    await registry.stop();
    throw e;
  }
}

export const sha256 = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** A fingerprint of every file containerd's metadata lives in, to prove a refused write changed nothing. */
export function stateFingerprint(root: string): string {
  const h = createHash('sha256');
  const files = [join(root, 'io.containerd.metadata.v1.bolt', 'meta.db'), join(root, 'io.containerd.snapshotter.v1.overlayfs', 'metadata.db')];
  for (const f of files) h.update(f).update(existsSync(f) ? readFileSync(f) : Buffer.alloc(0));
  for (const d of [join(root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots'), join(root, 'io.containerd.content.v1.content', 'ingest'), join(root, 'io.containerd.content.v1.content', 'blobs', 'sha256')]) {
    h.update(d).update(existsSync(d) ? readdirSync(d).sort().join('\n') : '-');
  }
  return h.digest('hex');
}
