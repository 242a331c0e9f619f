// Preloaded with `node --import` to record every module a command loads:
// ESM through a resolve hook, CommonJS from require.cache at exit.
import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';

register(new URL('./record-hooks.js', import.meta.url));
const out = process.env.CTRX_RECORD_MODULES;
if (out) {
  const require = createRequire(import.meta.url);
  process.on('exit', () => appendFileSync(out, Object.keys(require.cache).map((f) => `file://${f}\n`).join('')));
}
