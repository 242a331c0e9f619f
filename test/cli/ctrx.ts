/** Runs the built CLI as a user would, with a private root/state and no host config. */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The bundled CLI, as installed (package.json bin). */
export const ctrxJs = path.join(projectRoot, 'dist', 'cli', 'ctrx.js');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The runtime under test: node by default, deno when CTRX_TEST_RUNTIME=deno. */
export function runtimeCommand(script: string): string[] {
  if (process.env.CTRX_TEST_RUNTIME === 'deno') return [path.join(projectRoot, 'node_modules', '.bin', 'deno'), 'run', '-A', '--quiet', script];
  return [process.execPath, script];
}

export function ctrx(args: string[], opts: SpawnSyncOptions & { input?: string } = {}): Result {
  const [cmd, ...pre] = runtimeCommand(ctrxJs);
  const r = spawnSync(cmd!, [...pre, ...args], { encoding: 'utf8', timeout: 60_000, ...opts, env: { ...process.env, ...(opts.env ?? {}) } });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: String(r.stdout), stderr: String(r.stderr) };
}
