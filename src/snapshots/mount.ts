/**
 * containerd's mount.Mount and the two mount kinds its snapshotters hand out
 * (bind and overlay), performed with mount(2) through src/platform.
 */
import { existsSync, readFileSync } from 'node:fs';
import { internal } from '../errdefs.js';
import { errnoName, mount, umount2, MS_BIND, MS_REC, MS_RDONLY, MNT_DETACH } from '../platform/index.js';

export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

const MS_REMOUNT = 32;

/** Mount a snapshotter's mounts (one, as both snapshotters return) onto target. */
export function mountAll(mounts: Mount[], target: string): void {
  for (const m of mounts) {
    if (m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind')) {
      const rec = m.options.includes('rbind') ? MS_REC : 0;
      let rc = mount(m.source, target, null, MS_BIND | rec, null);
      if (rc !== 0) throw internal(`bind mount ${m.source} on ${target}: ${errnoName(rc)}`, { subject: 'mount' });
      if (m.options.includes('ro')) {
        rc = mount('', target, null, MS_REMOUNT | MS_BIND | MS_RDONLY | rec, null);
        if (rc !== 0) {
          umount2(target, MNT_DETACH);
          throw internal(`read-only remount of ${target}: ${errnoName(rc)}`, { subject: 'mount' });
        }
      }
    } else if (m.type === 'overlay') {
      const ro = m.options.includes('ro');
      const data = m.options.filter((o) => o !== 'ro' && o !== 'rw').join(',');
      const rc = mount('overlay', target, 'overlay', ro ? MS_RDONLY : 0, data);
      if (rc !== 0) throw internal(`overlay mount on ${target}: ${errnoName(rc)}${data.length > 4000 ? ' (mount data longer than a page: too many layers)' : ''}`, { subject: 'mount' });
    } else {
      throw internal(`unsupported mount type ${JSON.stringify(m.type)}`, { subject: 'mount' });
    }
  }
}

/** Unmount target (and anything stacked on it). Missing or not-mounted targets are fine. */
export function unmountAll(target: string, opts: { detach?: boolean } = {}): void {
  for (let i = 0; i < 16 && isMountPoint(target); i++) {
    const rc = umount2(target, opts.detach ? MNT_DETACH : 0);
    if (rc !== 0) throw internal(`unmount ${target}: ${errnoName(rc)}`, { subject: 'mount' });
  }
}

/** Whether path is a mount point in this process's mount namespace (per /proc/self/mountinfo). */
export function isMountPoint(p: string): boolean {
  if (!existsSync('/proc/self/mountinfo')) return false;
  const target = p.replace(/\/+$/, '');
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => unescapeMountPath(l.split(' ')[4] ?? '') === target);
}

/** Mount points at or under dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  const base = dir.replace(/\/+$/, '');
  if (!existsSync('/proc/self/mountinfo')) return [];
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => unescapeMountPath(l.split(' ')[4] ?? ''))
    .filter((m) => m === base || m.startsWith(base + '/'))
    .sort((a, b) => b.length - a.length);
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
