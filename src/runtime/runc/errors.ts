/**
 * runc reports failures as text (stderr, or `msg` in its log). Map the
 * messages runc 1.1 prints to error categories, so callers can tell "no
 * such container" from "already exists" from "not running" without parsing.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CtrxError, alreadyExists, failedPrecondition, internal, notFound } from '../../errdefs.js';

/** Patterns over runc 1.1.x messages (libcontainer/error.go, delete.go, kill.go, utils_linux.go). */
const RULES: Array<[RegExp, (msg: string, subject: string) => CtrxError]> = [
  [/container .*does not exist|container does not exist|container not found/i, (m, s) => notFound(m, { subject: s })],
  [/container with (id|given id) (already )?exists|container with id exists|already exists/i, (m, s) => alreadyExists(m, { subject: s })],
  [/not stopped|container not running|container is not running|not running|is paused|not paused|container is not paused|is stopped|cannot (start|exec|kill|pause|resume)/i,
    (m, s) => failedPrecondition(m, { subject: s })],
];

export function classifyRuncError(message: string, subject: string, cause?: unknown): CtrxError {
  for (const [re, make] of RULES) {
    if (re.test(message)) {
      const e = make(message, subject);
      return cause === undefined ? e : new CtrxError(e.category, e.message, { subject, cause });
    }
  }
  return internal(message, { subject, cause });
}

/** Reads at most `max` bytes of `file` starting at `from` (the log size before the command ran). */
export function readLogSince(file: string, from: number, max: number): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(from, size - max);
    const len = Math.max(0, size - start);
    const buf = Buffer.alloc(len);
    let off = 0;
    while (off < len) {
      const n = readSync(fd, buf, off, len - off, start + off);
      if (n <= 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Size of a file, 0 when missing. */
export function fileSize(file: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    return fstatSync(fd).size;
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The last error-level message in a chunk of runc's log, in either format:
 * json `{"level":"error","msg":"…"}` or text `level=error msg="…"`.
 */
export function lastLogError(text: string): string | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    if (t.startsWith('{')) {
      try {
        const v = JSON.parse(t) as { level?: unknown; msg?: unknown };
        if ((v.level === 'error' || v.level === 'fatal') && typeof v.msg === 'string') found = v.msg;
      } catch {
        /* a torn line at the start of the window */
      }
      continue;
    }
    const m = /level=(error|fatal)\s+msg="((?:[^"\\]|\\.)*)"/.exec(t);
    if (m) {
      try {
        found = JSON.parse(`"${m[2]}"`) as string;
      } catch {
        found = m[2];
      }
    }
  }
  return found;
}

/** The useful part of runc's stderr: its last non-empty line, without the `runc: ` style prefixes Go's logger adds. */
export function stderrMessage(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1);
  if (!last) return undefined;
  const json = lastLogError(last);
  if (json) return json;
  return last.replace(/^time="[^"]*"\s+level=\w+\s+msg=/, '').replace(/^"(.*)"$/, '$1');
}
