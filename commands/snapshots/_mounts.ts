/** ctr's two renderings of a snapshot's mounts. Not a verb. */
import type { Mount } from '../../src/snapshots/mount.js';
import { goJSON } from '../content/_ctrfmt.js';

/** ctr's printMounts: one `mount -t TYPE SOURCE TARGET -o OPTIONS` line per mount. */
export function mountLines(target: string, mounts: Mount[]): string {
  return mounts.map((m) => `mount -t ${m.type} ${m.source} ${target} -o ${m.options.join(',')}\n`).join('');
}

/** commands.PrintAsJSON of []mount.Mount (containerd 1.6: no JSON tags, so Go field names). */
export function mountsJSON(mounts: Mount[]): string {
  return goJSON(mounts.map((m) => ({ Type: m.type, Source: m.source, Options: m.options }))) + '\n';
}
