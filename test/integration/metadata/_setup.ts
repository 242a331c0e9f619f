/**
 * Shared state for the metadata interop tests: the rig's registry with the
 * 1-layer (busybox) and 2-layer (layered) fixtures, a private containerd
 * that pulled them into two namespaces and created a container.
 */
import { startContainerd, type Containerd } from '../../helpers/containerd.js';
import { startRegistry, pushImage, type Registry } from '../../helpers/registry.js';
import { buildFixture, fixtureUnavailable } from '../../helpers/fixtures.js';
import { ctrx, type Result } from '../../cli/ctrx.js';

export interface World {
  registry: Registry;
  cd: Containerd;
  /** multi: a Docker-media-type index (host + a fake linux/arm64/v8), pulled into the second namespace only */
  refs: { busybox: string; layered: string; multi: string };
  /** ctrx against the daemon's root/state (no host config). */
  x(args: string[], ns?: string, env?: Record<string, string>): Result;
  stop(): Promise<void>;
}

export function unavailableReason(): string | undefined {
  return fixtureUnavailable('busybox') ?? fixtureUnavailable('layered');
}

export async function setupWorld(opts: { namespaces?: string[] } = {}): Promise<World> {
  const registry = await startRegistry();
  let cd: Containerd | undefined;
  try {
    const busybox = await buildFixture('busybox');
    const layered = await buildFixture('layered');
    await pushImage(registry, 'library/busybox', 'latest', busybox);
    await pushImage(registry, 'test/layered', 'v1', layered);
    await pushImage(registry, 'library/multi', 'v1', await buildFixture('busybox', { style: 'docker', multiPlatform: true }));
    const refs = { busybox: `${registry.host}/library/busybox:latest`, layered: `${registry.host}/test/layered:v1`, multi: `${registry.host}/library/multi:v1` };
    cd = await startContainerd();
    for (const ns of opts.namespaces ?? ['default', 'second']) {
      await cd.ctrOk(['images', 'pull', '--plain-http', refs.busybox], { namespace: ns });
      await cd.ctrOk(['images', 'pull', '--plain-http', refs.layered], { namespace: ns });
    }
    const all = opts.namespaces ?? ['default', 'second'];
    if (all.length > 1) {
      await cd.ctrOk(['images', 'pull', '--plain-http', refs.multi], { namespace: all[1] });
      // the native snapshotter too: one image unpacked there, and a container on it
      await cd.ctrOk(['images', 'pull', '--plain-http', '--snapshotter', 'native', refs.layered], { namespace: all[1] });
      await cd.ctrOk(['containers', 'create', '--snapshotter', 'native', refs.layered, 'cn'], { namespace: all[1] });
    }
    await cd.ctrOk(['containers', 'create', refs.busybox, 'c1'], { namespace: 'default' });
    const c = cd;
    return {
      registry,
      cd: c,
      refs,
      x: (args, ns = 'default', env = {}) => ctrx(['--root', c.root, '--state', c.state, '-c', c.configPath + '.missing', '-n', ns, ...args], { env }),
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
