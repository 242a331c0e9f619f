/**
 * The attach protocol: a stream unix socket served by the shim at
 * `<state>/ctrx/_s/<hash>.a`. Every message in both directions is a frame:
 *
 *   u8 type | u32 big-endian payload length | payload
 *
 * shim → client:  1 STDOUT bytes, 2 STDERR bytes (a tty has only STDOUT),
 *                 3 EXIT  JSON ExitRecord, sent once, then the shim closes.
 * client → shim:  0 STDIN bytes (to the pty, or to the stdin pipe when the task kept one),
 *                 4 RESIZE u16 rows, u16 cols (big-endian; a tty only),
 *                 5 CLOSE_STDIN (no payload): EOF on the stdin pipe.
 *
 * A client gets output from the moment it connects (history is in the log),
 * and leaves by closing the connection: the detach keys (ctrl-p ctrl-q) are
 * the client's business and never reach the shim. Several clients may attach;
 * one that does not read is dropped once 1 MiB is queued for it.
 * Payloads are at most 1 MiB; a larger length ends the connection.
 */
export const FRAME = {
  STDIN: 0,
  STDOUT: 1,
  STDERR: 2,
  EXIT: 3,
  RESIZE: 4,
  CLOSE_STDIN: 5,
} as const;

export const MAX_FRAME = 1 << 20;

export interface Frame {
  type: number;
  payload: Buffer;
}

export function encodeFrame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt8(type, 0);
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

export function resizeFrame(rows: number, cols: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16BE(rows & 0xffff, 0);
  p.writeUInt16BE(cols & 0xffff, 2);
  return encodeFrame(FRAME.RESIZE, p);
}

/** Splits a byte stream into frames; throws on an oversized frame (the caller drops the connection). */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (len > MAX_FRAME) throw new RangeError(`attach frame of ${len} bytes exceeds ${MAX_FRAME}`);
      if (this.buf.length < 5 + len) break;
      out.push({ type: this.buf.readUInt8(0), payload: Buffer.from(this.buf.subarray(5, 5 + len)) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
}
