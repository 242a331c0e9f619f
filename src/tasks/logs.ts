/**
 * Reading a task's json-file log (format in src/shim/io.ts). Partial
 * records are joined with what follows on the same stream, as docker does,
 * so a consumer sees whole lines. Following stops once the task has ended
 * (its exit file exists, or there is no task any more) and the log is drained.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import type { OpContext } from '../context.js';
import { invalidArgument, notFound } from '../errdefs.js';
import { sameProcess } from '../platform/index.js';
import { readJson } from '../shim/io.js';
import { EXIT_FILE, PROC_FILE, SHIM_FILE, type ProcConfig, type SupervisorRecord } from '../shim/layout.js';
import { paths } from './manager.js';

export interface LogRecord {
  /** RFC 3339 with nanoseconds (of the record's first part). */
  time: string;
  stream: 'stdout' | 'stderr';
  /** The line, with its "\n" (absent only for a final unterminated line). */
  log: string;
}

export interface ReadLogsOptions {
  follow?: boolean;
  /** Only the last N lines (before following). */
  tail?: number;
  /** Only lines at or after this time (Date, RFC 3339 string, or a duration like "10m" back from now). */
  since?: Date | string;
  until?: Date | string;
  /** Poll interval while following (default 100 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

/** RFC 3339 (any fraction digits) → nanoseconds since the epoch. */
export function parseTimeNs(s: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) throw invalidArgument(`not an RFC 3339 time: ${JSON.stringify(s)}`);
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) throw invalidArgument(`not an RFC 3339 time: ${JSON.stringify(s)}`);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function toNs(t: Date | string, now = Date.now()): bigint {
  if (t instanceof Date) return BigInt(t.getTime()) * 1_000_000n;
  const d = DURATION.exec(t);
  if (d) return BigInt(Math.round(now - Number(d[1]) * UNIT_MS[d[2]!]!)) * 1_000_000n;
  return parseTimeNs(t);
}

/** `time log` as `docker logs -t` prints a line; the line alone without timestamps. */
export function formatLogRecord(r: LogRecord, o: { timestamps?: boolean } = {}): string {
  return o.timestamps ? `${r.time} ${r.log}` : r.log;
}

/** Joins partial records; `flush` releases what is still pending at the end. */
export class RecordJoiner {
  private pending: Partial<Record<'stdout' | 'stderr', LogRecord>> = {};

  push(line: string): LogRecord | undefined {
    let v: { log?: unknown; stream?: unknown; time?: unknown };
    try {
      v = JSON.parse(line);
    } catch {
      return undefined; // a torn last line, or garbage: skipped
    }
    if (typeof v.log !== 'string' || typeof v.time !== 'string' || (v.stream !== 'stdout' && v.stream !== 'stderr')) return undefined;
    const stream = v.stream;
    const p = this.pending[stream];
    const rec: LogRecord = p ? { ...p, log: p.log + v.log } : { time: v.time, stream, log: v.log };
    if (rec.log.endsWith('\n')) {
      delete this.pending[stream];
      return rec;
    }
    this.pending[stream] = rec;
    return undefined;
  }

  flush(): LogRecord[] {
    const out = Object.values(this.pending).filter((r): r is LogRecord => Boolean(r));
    this.pending = {};
    return out.sort((a, b) => (a.time < b.time ? -1 : 1));
  }
}

/** Whether the task that writes this log is over (or gone), so following can stop. */
function taskEnded(dir: string): boolean {
  if (!existsSync(path.join(dir, PROC_FILE))) return true;
  if (existsSync(path.join(dir, EXIT_FILE))) return true;
  const s = readJson<SupervisorRecord>(path.join(dir, SHIM_FILE));
  return Boolean(s) && !sameProcess(s!.pid, s!.startTime);
}

export async function* readLogs(ctx: OpContext, id: string, o: ReadLogsOptions = {}): AsyncGenerator<LogRecord> {
  const tp = paths(ctx, id);
  const proc = readJson<ProcConfig>(path.join(tp.dir, PROC_FILE));
  const file = proc?.logPath ?? tp.logPath;
  if (!existsSync(file)) {
    if (!proc) throw notFound('no logs', { subject: `task "${id}"` });
    if (!o.follow) return;
  }
  const since = o.since !== undefined ? toNs(o.since) : undefined;
  const until = o.until !== undefined ? toNs(o.until) : undefined;
  const keep = (r: LogRecord): boolean => {
    if (since === undefined && until === undefined) return true;
    const t = parseTimeNs(r.time);
    return (since === undefined || t >= since) && (until === undefined || t <= until);
  };
  const joiner = new RecordJoiner();
  let offset = 0;
  let rest: Buffer = Buffer.alloc(0);
  const buf = Buffer.alloc(256 * 1024);
  const readMore = (): LogRecord[] => {
    const out: LogRecord[] = [];
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return out;
    }
    try {
      if (statSync(file).size < offset) {
        offset = 0; // truncated: start over
        rest = Buffer.alloc(0);
      }
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        // Split bytes, not text: a chunk boundary may fall inside a UTF-8 sequence.
        let data = rest.length ? Buffer.concat([rest, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n));
        for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10)) {
          const r = nl > 0 ? joiner.push(data.subarray(0, nl).toString('utf8')) : undefined;
          if (r && keep(r)) out.push(r);
          data = data.subarray(nl + 1);
        }
        rest = data;
      }
    } finally {
      closeSync(fd);
    }
    return out;
  };

  let first = readMore();
  if (!o.follow) first.push(...joiner.flush().filter(keep));
  if (o.tail !== undefined) first = o.tail > 0 ? first.slice(-o.tail) : [];
  yield* first;
  if (!o.follow) return;
  for (;;) {
    if (o.signal?.aborted) return;
    const ended = taskEnded(tp.dir);
    const more = readMore();
    yield* more;
    if (ended && more.length === 0) {
      yield* joiner.flush().filter(keep);
      return;
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
  }
}
