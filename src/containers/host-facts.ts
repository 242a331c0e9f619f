/**
 * Host facts a spec depends on: the hostname (--net-host), the caller's
 * effective capabilities and the host's device nodes (--privileged), read
 * the way ctr reads them (pkg/cap.Current, oci.HostDevices).
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { KNOWN_CAPS } from './spec-defaults.js';
import type { HostFacts } from './spec-options.js';
import type { LinuxDevice } from './spec-types.js';

/** Capability names set in a hex bitmap (CapEff of /proc/<pid>/status). */
export function capsFromBitmap(hex: string): string[] {
  const v = BigInt('0x' + hex);
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if ((v >> BigInt(i)) & 1n) if (KNOWN_CAPS[i]) out.push(KNOWN_CAPS[i]!);
  return out;
}

export function currentCaps(): string[] {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? capsFromBitmap(m[1]!) : [];
}

const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Linux dev_t split (glibc's gnu_dev_major/minor). */
function majorMinor(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

/** Character and block devices under `dir` (sorted like Go's os.ReadDir), skipping what containerd skips. */
export function hostDevices(dir = '/dev'): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    let st;
    try {
      st = lstatSync(p, { bigint: true });
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (!SKIP_DIRS.has(name)) out.push(...hostDevices(p));
      continue;
    }
    if (name === 'console') continue;
    const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
    if (!type) continue;
    out.push({ path: p, type, ...majorMinor(st.rdev), fileMode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) });
  }
  return out;
}

export function hostFacts(overrides: Partial<HostFacts> = {}): HostFacts {
  return { hostname, currentCaps, devices: () => hostDevices(), ...overrides };
}
