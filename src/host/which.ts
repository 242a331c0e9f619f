import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { env } from '../platform/index.js';

/** Resolve a command name on PATH (or check an explicit path). */
export function which(name: string): string | undefined {
  const candidates = name.includes('/') ? [name] : (env('PATH') ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':').filter(Boolean).map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}
