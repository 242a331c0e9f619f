/**
 * Last-chance cleanup when a test process ends without running its after
 * hooks (an uncaught error, process.exit, SIGINT/SIGTERM from the runner).
 * Order matters: processes must die before their dirs and mounts are
 * removed, so handlers run by phase.
 */
export type ExitPhase = 'kill' | 'cleanup';

const handlers: Record<ExitPhase, (() => void)[]> = { kill: [], cleanup: [] };
let installed = false;
let ran = false;

function runAll(): void {
  if (ran) return;
  ran = true;
  for (const phase of ['kill', 'cleanup'] as const) {
    for (const h of handlers[phase]) {
      try {
        h();
      } catch {
        /* best effort: the after hooks report real failures */
      }
    }
  }
}

/** Runs `fn` synchronously when the process exits or is interrupted. */
export function atExit(phase: ExitPhase, fn: () => void): void {
  handlers[phase].push(fn);
  if (installed) return;
  installed = true;
  process.once('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      runAll();
      // The listener is gone now, so this takes the default action (die by the signal).
      process.kill(process.pid, sig);
    });
  }
}
