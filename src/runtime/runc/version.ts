import { execFileSync } from 'node:child_process';
import { which } from '../../host/which.js';

export interface RuncVersion {
  ok: boolean;
  binary: string;
  path?: string;
  version?: string;
  commit?: string;
  spec?: string;
  error?: string;
}

/** Parses `runc --version` output; undefined when it does not look like runc's. */
export function parseRuncVersion(out: string): { version: string; commit?: string; spec?: string } | undefined {
  const version = /runc version (\S+)/.exec(out)?.[1];
  if (!version) return undefined;
  return { version, commit: /commit: (\S+)/.exec(out)?.[1], spec: /spec: (\S+)/.exec(out)?.[1] };
}

export const RUNC_INSTALL_HINT = 'install it (Debian/Ubuntu: apt-get install runc)';

/** `runc --version`, parsed. Never throws: a missing or broken runc is a fact to report. */
export function runcVersion(binary = 'runc'): RuncVersion {
  const p = which(binary);
  if (!p) return { ok: false, binary, error: `${binary}: not found — ${RUNC_INSTALL_HINT}` };
  try {
    const out = execFileSync(p, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
    const v = parseRuncVersion(out);
    if (!v) return { ok: false, binary, path: p, error: `${p}: unexpected --version output` };
    return { ok: true, binary, path: p, ...v };
  } catch (err) {
    return { ok: false, binary, path: p, error: `${p} --version failed: ${(err as Error).message.split('\n')[0]}` };
  }
}
