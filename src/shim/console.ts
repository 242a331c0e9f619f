/**
 * The console socket and the pty master. runc (given `--console-socket`)
 * connects, sends the pty's name with the master fd as SCM_RIGHTS, and
 * hangs up; neither Node nor Deno can take an fd out of a message, so the
 * socket lives in libc (src/platform) and is polled from a timer.
 * The master is then read (platform fdRead: node:fs, or libc on Deno) until
 * EIO: that is how a pty says every slave fd is closed, i.e. the container is gone.
 */
import { EAGAIN, closeFd, fdRead, fdWrite, recvFd, unixAccept, unixListen } from '../platform/index.js';
import { unlinkQuiet } from './io.js';

export interface ConsoleMaster {
  fd: number;
  /** The slave's path inside the container (/dev/pts/N). */
  name: string;
}

const POLL_MS = 5;

/**
 * Listens on `socketPath` until runc sends the master. `abandoned()` is
 * checked on every poll: when runc exits without connecting, this rejects
 * instead of waiting forever.
 */
export function listenConsole(socketPath: string): { master: (abandoned: () => boolean) => Promise<ConsoleMaster> } {
  unlinkQuiet(socketPath);
  const l = unixListen(socketPath);
  if (!l.ok) throw new Error(`console socket ${socketPath}: listen failed (errno ${l.errno})`);
  const listenFd = l.value;
  const master = (abandoned: () => boolean): Promise<ConsoleMaster> =>
    new Promise((resolve, reject) => {
      let conn = -1;
      const finish = (err: Error | undefined, value?: ConsoleMaster): void => {
        clearInterval(timer);
        if (conn >= 0) closeFd(conn);
        closeFd(listenFd);
        unlinkQuiet(socketPath);
        if (err) reject(err);
        else resolve(value!);
      };
      const tick = (): void => {
        if (conn < 0) {
          const a = unixAccept(listenFd);
          if (!a.ok) {
            if (a.errno !== EAGAIN) return finish(new Error(`console socket: accept failed (errno ${a.errno})`));
            if (abandoned()) return finish(new Error('runc exited before sending the console'));
            return;
          }
          conn = a.value;
        }
        const r = recvFd(conn);
        if (!r.ok) {
          if (r.errno !== EAGAIN) return finish(new Error(`console socket: no pty master received (errno ${r.errno})`));
          if (abandoned()) return finish(new Error('runc exited before sending the console'));
          return;
        }
        finish(undefined, { fd: r.value.fd, name: r.value.data.toString('utf8').replace(/\0+$/, '') });
      };
      const timer = setInterval(tick, POLL_MS);
      tick();
    });
  return { master };
}

/** Reads a pty master until EIO (no slave left); EAGAIN (-2) on a non-blocking master is retried. */
export function pumpMaster(fd: number, onData: (b: Buffer) => void, onEnd: () => void): void {
  const buf = Buffer.alloc(64 * 1024);
  const next = (): void => {
    void fdRead(fd, buf).then((n) => {
      if (n === -2) return void setTimeout(next, 10);
      if (n <= 0) return onEnd();
      onData(Buffer.from(buf.subarray(0, n)));
      next();
    });
  };
  next();
}

/** Input to the master, written in order (attach clients may send faster than the pty takes it). */
export class MasterWriter {
  private queue: Buffer[] = [];
  private busy = false;
  constructor(private readonly fd: number) {}

  write(data: Buffer): void {
    this.queue.push(data);
    if (!this.busy) void this.drain();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    while (this.queue.length) {
      let data = this.queue.shift()!;
      while (data.length) {
        const n = await fdWrite(this.fd, data);
        if (n === -2) {
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        if (n < 0) {
          this.queue = [];
          break;
        }
        data = data.subarray(n);
      }
    }
    this.busy = false;
  }
}
