/**
 * Removing a task's dir without ever deleting through a mount: whatever is
 * still mounted under it (the rootfs the caller mounted in the bundle, if
 * its cleanup hook did not unmount it) is unmounted first, deepest first,
 * as containerd's shim does on delete; if that fails nothing is removed.
 */
import { lstatSync, readdirSync, readFileSync, rmdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { failedPrecondition } from '../errdefs.js';
import { MNT_DETACH, errnoName, umount2 } from '../platform/index.js';

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir` (this process's mount namespace), deepest first. */
export function mountsBelow(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const abs = path.resolve(dir);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = unescapeMount(mp);
    if (p === abs || p.startsWith(abs + '/')) out.push(p);
  }
  return out.sort((a, b) => b.split('/').length - a.split('/').length);
}

export function unmountBelow(dir: string): void {
  for (let round = 0; round < 8; round++) {
    const mounts = mountsBelow(dir);
    if (!mounts.length) return;
    for (const m of mounts) {
      if (umount2(m, 0) !== 0) umount2(m, MNT_DETACH);
    }
  }
  const left = mountsBelow(dir);
  if (left.length) {
    const e = umount2(left[0]!, MNT_DETACH);
    throw failedPrecondition(`cannot unmount ${left[0]} (${errnoName(e)})`, { subject: dir });
  }
}

/** rm -rf that refuses to cross into another filesystem. */
export function removeTree(dir: string): void {
  let top;
  try {
    top = lstatSync(dir);
  } catch {
    return;
  }
  unmountBelow(dir);
  if (!top.isDirectory()) {
    unlinkSync(dir);
    return;
  }
  // Another ctrx may be removing the same dir: what is already gone is fine.
  const gone = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  };
  const walk = (p: string): void => {
    let names: string[] = [];
    gone(() => (names = readdirSync(p)));
    for (const name of names) {
      const c = path.join(p, name);
      let st;
      try {
        st = lstatSync(c);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (st.dev !== top.dev) throw failedPrecondition(`refusing to remove across a mount point at ${c}`, { subject: dir });
        walk(c);
        gone(() => rmdirSync(c));
      } else {
        gone(() => unlinkSync(c));
      }
    }
  };
  walk(dir);
  gone(() => rmdirSync(dir));
}
