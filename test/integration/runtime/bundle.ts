/**
 * OCI bundles for real runc, without an image store: a rootfs made of the
 * host's static busybox (applet symlinks, /etc/passwd with app 1000:1000 in
 * staff 50), and config.json from ctrx's own generateSpec.
 *
 * Layout of one bundle (a temp dir):
 *   <dir>/config.json
 *   <dir>/rootfs/{bin/busybox, bin/<applet> -> busybox, etc/passwd, etc/group, tmp, proc, sys, dev}
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSpec, type SpecOptions } from '../../../src/containers/spec.js';
import type { Spec } from '../../../src/containers/spec-types.js';

export const BUSYBOX = '/bin/busybox';

export function busyboxAvailable(): string | undefined {
  const r = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${BUSYBOX} (busybox-static) missing`;
}

export function runcAvailable(): string | undefined {
  const r = spawnSync('runc', ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return 'runc missing';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root';
  return undefined;
}

export function makeBusyboxRootfs(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  const list = spawnSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' }).stdout;
  for (const line of list.split('\n')) {
    const p = line.trim();
    if (!p || p === 'bin/busybox') continue;
    mkdirSync(join(dir, p, '..'), { recursive: true });
    try {
      symlinkSync('/bin/busybox', join(dir, p));
    } catch {
      /* duplicate applet paths */
    }
  }
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nstaff:x:50:app\napp:x:1000:\n');
  for (const d of ['tmp', 'proc', 'sys', 'dev', 'root', 'home/app']) mkdirSync(join(dir, d), { recursive: true, mode: d === 'tmp' ? 0o1777 : 0o755 });
}

/** Writes `<dir>/rootfs` (busybox) and `<dir>/config.json` from generateSpec with `opts`. */
export function writeBundle(dir: string, opts: Omit<SpecOptions, 'rootfs'>): Spec {
  const rootfs = join(dir, 'rootfs');
  makeBusyboxRootfs(rootfs);
  const { spec } = generateSpec({ ...opts, rootfs });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return spec;
}
