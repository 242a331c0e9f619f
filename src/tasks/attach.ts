/**
 * The client side of the shim's attach socket (protocol in
 * src/shim/protocol.ts). Input is scanned for the detach keys (ctrl-p
 * ctrl-q by default, as docker): when they arrive the client closes the
 * connection and the task keeps running. The keys are never sent.
 */
import net from 'node:net';
import type { OpContext } from '../context.js';
import { failedPrecondition, unavailable } from '../errdefs.js';
import { FRAME, FrameDecoder, encodeFrame, resizeFrame } from '../shim/protocol.js';
import type { ExitRecord } from '../shim/layout.js';
import { execPaths } from './paths.js';
import { paths, taskStatus } from './manager.js';
import { readProcFiles, supervisorAlive } from './state.js';

export const DEFAULT_DETACH_KEYS = [0x10, 0x11];

export interface AttachOptions {
  /** Attach to a detached exec instead of the task's init. */
  execId?: string;
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Byte sequence that detaches (default ctrl-p ctrl-q); [] disables it. */
  detachKeys?: number[];
  /** Sent right after connecting (the caller's terminal size). */
  size?: { rows: number; cols: number };
}

export interface AttachSession {
  resize(rows: number, cols: number): void;
  write(data: Buffer | string): void;
  closeStdin(): void;
  detach(): void;
  /** Resolves when the task exits (with its status) or the client detached. */
  done: Promise<{ detached: boolean; exit?: ExitRecord }>;
}

/** Splits input into what to send and whether the detach keys completed (a partial match is held back). */
export class DetachScanner {
  private held: number[] = [];
  constructor(private readonly keys: number[]) {}

  push(chunk: Buffer): { send: Buffer; detach: boolean } {
    if (!this.keys.length) return { send: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held.length]) {
        this.held.push(b);
        if (this.held.length === this.keys.length) return { send: Buffer.from(out), detach: true };
        continue;
      }
      out.push(...this.held);
      this.held = [];
      if (b === this.keys[0]) this.held.push(b);
      else out.push(b);
    }
    return { send: Buffer.from(out), detach: false };
  }
}

export async function attachTask(ctx: OpContext, id: string, o: AttachOptions): Promise<AttachSession> {
  const tp = paths(ctx, id);
  const target = o.execId ? execPaths(tp, ctx.namespace, id, o.execId) : tp;
  const files = readProcFiles(target.dir);
  if (!files?.proc) {
    await taskStatus(ctx, id); // not found → notFound
    throw failedPrecondition('not a ctrx task: nothing to attach to', { subject: `task "${id}"` });
  }
  if (files.exit || !supervisorAlive(files.supervisor)) throw failedPrecondition('the task has no running shim to attach to', { subject: `task "${id}"` });
  const sock = net.createConnection(files.proc.attachSocket);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', (e) => reject(unavailable(`cannot attach: ${e.message}`, { subject: `task "${id}"` })));
  });
  let detached = false;
  let exit: ExitRecord | undefined;
  const scanner = new DetachScanner(o.detachKeys ?? DEFAULT_DETACH_KEYS);
  const send = (b: Buffer): void => {
    if (b.length && !sock.destroyed) sock.write(encodeFrame(FRAME.STDIN, b));
  };
  const onInput = (chunk: Buffer | string): void => {
    const r = scanner.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    send(r.send);
    if (r.detach) session.detach();
  };
  const onInputEnd = (): void => session.closeStdin();
  o.stdin?.on('data', onInput);
  o.stdin?.on('end', onInputEnd);
  const dec = new FrameDecoder();
  const done = new Promise<{ detached: boolean; exit?: ExitRecord }>((resolve) => {
    sock.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = dec.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (f.type === FRAME.STDOUT) o.stdout.write(f.payload);
        else if (f.type === FRAME.STDERR) (o.stderr ?? o.stdout).write(f.payload);
        else if (f.type === FRAME.EXIT) {
          try {
            exit = JSON.parse(f.payload.toString('utf8')) as ExitRecord;
          } catch {
            /* keep going: the close ends it */
          }
        }
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      o.stdin?.off('data', onInput);
      o.stdin?.off('end', onInputEnd);
      resolve({ detached, exit });
    });
  });
  const session: AttachSession = {
    resize: (rows, cols) => {
      if (!sock.destroyed) sock.write(resizeFrame(rows, cols));
    },
    write: (d) => onInput(d),
    closeStdin: () => {
      if (!sock.destroyed) sock.write(encodeFrame(FRAME.CLOSE_STDIN));
    },
    detach: () => {
      detached = true;
      sock.end();
    },
    done,
  };
  if (o.size) session.resize(o.size.rows, o.size.cols);
  return session;
}
