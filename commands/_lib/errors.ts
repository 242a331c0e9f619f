/**
 * The failure path: an error category becomes one line on stderr and a
 * stable exit code. Stack traces only with --debug.
 */
import { CtrxError, EXIT_CODES, fromSystemError } from '../../src/errdefs.js';
import { stderr } from '../../src/platform/index.js';

export function reportError(err: unknown, debug: boolean): number {
  const e = err instanceof CtrxError ? err : isSystemError(err) ? fromSystemError(err) : undefined;
  if (!e) {
    stderr.write(`ctrx: ${(err as Error)?.message ?? String(err)}\n`);
    if (debug && (err as Error)?.stack) stderr.write(`${(err as Error).stack}\n`);
    return EXIT_CODES.internal;
  }
  stderr.write(`ctrx: ${e.subject ? `${e.subject}: ` : ''}${e.message}\n`);
  if (e.hint) stderr.write(`  hint: ${e.hint}\n`);
  if (debug) stderr.write(`${e.stack}\n${e.cause instanceof Error ? `caused by: ${e.cause.stack}\n` : ''}`);
  return EXIT_CODES[e.category];
}

function isSystemError(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException)?.code === 'string' && typeof (err as NodeJS.ErrnoException)?.syscall === 'string';
}
