/**
 * Error categories, as containerd's errdefs. The library throws these with a
 * subject; the CLI maps a category to an exit code and one line of text.
 */
export type ErrorCategory =
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'failed-precondition'
  | 'unavailable'
  | 'not-implemented'
  | 'permission-denied'
  | 'internal';

/** Stable exit codes per category (documented in docs/ARCHITECTURE.md). */
export const EXIT_CODES: Record<ErrorCategory | 'usage', number> = {
  internal: 1,
  usage: 2,
  'not-implemented': 2,
  'invalid-argument': 3,
  'not-found': 4,
  'already-exists': 5,
  'failed-precondition': 6,
  unavailable: 7,
  'permission-denied': 8,
};

export class CtrxError extends Error {
  readonly category: ErrorCategory;
  readonly subject: string | undefined;
  readonly hint: string | undefined;
  constructor(category: ErrorCategory, message: string, opts: { subject?: string; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CtrxError';
    this.category = category;
    this.subject = opts.subject;
    this.hint = opts.hint;
  }
}

type Opts = { subject?: string; hint?: string; cause?: unknown };
export const invalidArgument = (msg: string, o?: Opts) => new CtrxError('invalid-argument', msg, o);
export const notFound = (msg: string, o?: Opts) => new CtrxError('not-found', msg, o);
export const alreadyExists = (msg: string, o?: Opts) => new CtrxError('already-exists', msg, o);
export const failedPrecondition = (msg: string, o?: Opts) => new CtrxError('failed-precondition', msg, o);
export const unavailable = (msg: string, o?: Opts) => new CtrxError('unavailable', msg, o);
export const notImplemented = (msg: string, o?: Opts) => new CtrxError('not-implemented', msg, o);
export const permissionDenied = (msg: string, o?: Opts) => new CtrxError('permission-denied', msg, o);
export const internal = (msg: string, o?: Opts) => new CtrxError('internal', msg, o);

export function isCategory(err: unknown, category: ErrorCategory): boolean {
  return err instanceof CtrxError && err.category === category;
}

/** Map a Node/Deno system error (errno code) to a category, keeping the subject. */
export function fromSystemError(err: unknown, subject?: string): CtrxError {
  if (err instanceof CtrxError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  const what = e?.message ?? String(err);
  const o = { subject, cause: err };
  switch (code) {
    case 'ENOENT':
      return notFound(subject ? 'no such file or directory' : what, o);
    case 'EEXIST':
      return alreadyExists(subject ? 'already exists' : what, o);
    case 'EACCES':
    case 'EPERM':
      return permissionDenied(subject ? `permission denied (${code})` : what, o);
    case 'EAGAIN':
    case 'EWOULDBLOCK':
    case 'EBUSY':
      return unavailable(subject ? `resource busy (${code})` : what, o);
    case 'EINVAL':
    case 'ENOTDIR':
    case 'EISDIR':
      return invalidArgument(what, o);
    default:
      return internal(what, o);
  }
}
