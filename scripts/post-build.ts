// Makes the built entry points executable (tsc does not keep modes).
import { chmodSync, existsSync } from 'node:fs';

for (const f of ['../bin/ctrx.js', '../bin/ctrx-shim.js']) {
  const p = new URL(f, import.meta.url);
  if (existsSync(p)) chmodSync(p, 0o755);
}
