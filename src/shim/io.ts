/**
 * The shim's files and sockets: atomic state files, the output log and the
 * attach server.
 *
 * Log format (docker's json-file, one JSON object per line):
 *   {"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
 * `log` is one line including its "\n"; a line longer than 16 KiB, or the
 * unterminated tail at the end of the output, is written as a partial record
 * whose `log` does not end in "\n" (readers join partials with what follows,
 * as docker does). `stream` is "stdout" or "stderr" ("stdout" for a tty,
 * whose output is one stream). `time` is RFC 3339 with nanoseconds, UTC,
 * strictly increasing within one shim.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { FRAME, FrameDecoder, encodeFrame } from './protocol.js';

/**
 * Write a file so readers see the old content or the whole new one, never a
 * torn one (tmp + rename). No fsync unless `durable`: task state lives
 * under `state`, which a reboot wipes anyway (on containerd hosts a tmpfs),
 * and an fsync on a busy disk costs more than the whole start.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o644, durable = false): void {
  const tmp = `${file}.tmp-${Math.random().toString(36).slice(2, 10)}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown, mode = 0o644, durable = false): void {
  writeFileAtomic(file, JSON.stringify(value) + '\n', mode, durable);
}

/** Parsed JSON of a file, or undefined when it is missing or not (yet) valid JSON. */
export function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

let lastNs = 0n;

/** Now as RFC 3339 with nanoseconds (UTC), strictly increasing in this process. */
export function rfc3339Nano(): string {
  let ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString(); // 2024-05-01T10:00:00.123Z
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

export type Stream = 'stdout' | 'stderr';

const PARTIAL_MAX = 16 * 1024;

/** Cut position at or before `n` that does not split a UTF-8 sequence. */
function utf8Cut(b: Buffer, n: number): number {
  let i = n;
  while (i > n - 4 && i > 0 && (b[i]! & 0xc0) === 0x80) i--;
  return i > 0 ? i : n;
}

/** Appends json-file records to the log; the file is opened once, in append mode. */
export class JsonLogWriter {
  private readonly fd: number;
  private readonly pending: Record<Stream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = openSync(file, 'a', 0o640);
  }

  /** Bytes that could not be written (disk full, I/O error): the task must not die because its log cannot grow. */
  dropped = 0;
  onDrop: (err: Error) => void = () => {};

  private record(stream: Stream, text: string): void {
    const line = JSON.stringify({ log: text, stream, time: rfc3339Nano() }) + '\n';
    try {
      writeSync(this.fd, line);
    } catch (e) {
      if (this.dropped === 0) this.onDrop(e as Error);
      this.dropped += line.length;
    }
  }

  write(stream: Stream, chunk: Buffer): void {
    let buf = this.pending[stream].length ? Buffer.concat([this.pending[stream], chunk]) : chunk;
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl >= 0 && nl < PARTIAL_MAX) {
        this.record(stream, buf.subarray(0, nl + 1).toString('utf8'));
        buf = buf.subarray(nl + 1);
        continue;
      }
      if (buf.length >= PARTIAL_MAX) {
        const cut = utf8Cut(buf, PARTIAL_MAX);
        this.record(stream, buf.subarray(0, cut).toString('utf8'));
        buf = buf.subarray(cut);
        continue;
      }
      break;
    }
    this.pending[stream] = Buffer.from(buf);
  }

  /** Writes unterminated tails as partial records. */
  flush(): void {
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.pending[s].length) this.record(s, this.pending[s].toString('utf8'));
      this.pending[s] = Buffer.alloc(0);
    }
  }

  close(): void {
    this.flush();
    try {
      fsyncSync(this.fd);
    } catch {
      /* a log on a filesystem without fsync is still a log */
    }
    closeSync(this.fd);
  }
}

export interface AttachHandlers {
  onInput(data: Buffer): void;
  onResize(rows: number, cols: number): void;
  onCloseStdin(): void;
}

const CLIENT_QUEUE_MAX = 1 << 20;

/** The attach socket (protocol in ./protocol.ts). */
export class AttachServer {
  private readonly server: net.Server;
  private readonly clients = new Set<net.Socket>();

  private constructor(
    readonly socketPath: string,
    handlers: AttachHandlers,
    netModule: typeof net,
  ) {
    this.server = netModule.createServer((sock) => {
      this.clients.add(sock);
      const dec = new FrameDecoder();
      sock.on('data', (chunk: Buffer) => {
        let frames;
        try {
          frames = dec.push(chunk);
        } catch {
          sock.destroy();
          return;
        }
        for (const f of frames) {
          if (f.type === FRAME.STDIN) handlers.onInput(f.payload);
          else if (f.type === FRAME.RESIZE && f.payload.length >= 4) handlers.onResize(f.payload.readUInt16BE(0), f.payload.readUInt16BE(2));
          else if (f.type === FRAME.CLOSE_STDIN) handlers.onCloseStdin();
        }
      });
      sock.on('error', () => sock.destroy());
      sock.on('close', () => this.clients.delete(sock));
    });
  }

  /** node:net is loaded here, not at startup: the shim starts runc first and listens meanwhile. */
  static async listen(socketPath: string, handlers: AttachHandlers): Promise<AttachServer> {
    const netModule = (await import('node:net')).default;
    unlinkQuiet(socketPath);
    const s = new AttachServer(socketPath, handlers, netModule);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(socketPath, () => {
        s.server.off('error', reject);
        resolve();
      });
    });
    return s;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  send(type: number, payload: Buffer): void {
    if (!this.clients.size) return;
    const frame = encodeFrame(type, payload);
    for (const c of this.clients) {
      if (c.writableLength > CLIENT_QUEUE_MAX) {
        c.destroy();
        continue;
      }
      c.write(frame);
    }
  }

  /** Sends the exit frame to everyone, then closes the clients and the socket. */
  async close(exit?: unknown): Promise<void> {
    if (exit !== undefined) this.send(FRAME.EXIT, Buffer.from(JSON.stringify(exit)));
    const ended = [...this.clients].map(
      (c) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            c.destroy();
            resolve();
          }, 1000);
          c.end(() => {
            clearTimeout(t);
            resolve();
          });
        }),
    );
    await Promise.all(ended);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    unlinkQuiet(this.socketPath);
  }
}
