/** Terminal prompts for credentials (the library asks through callbacks; the asking lives here). */
import { stdioStreams } from '../../src/platform/index.js';

/**
 * Terminal input for credentials. Exported for `images pull -u user` (the
 * library asks through a callback; the prompt itself lives here).
 */
export async function promptLine(prompt: string): Promise<string> {
  const { invalidArgument } = await import('../../src/errdefs.js');
  if (!stdioStreams().stdin.isTTY) throw invalidArgument('cannot ask: standard input is not a terminal', { subject: prompt.replace(/:\s*$/, '') });
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: stdioStreams().stdin, output: stdioStreams().stderr, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question(prompt, resolve));
  } finally {
    rl.close();
  }
}

/** Reads a secret from the terminal without echoing it. */
export async function promptSecret(prompt: string): Promise<string> {
  const { invalidArgument, CtrxError } = await import('../../src/errdefs.js');
  const { stderr } = await import('../../src/platform/index.js');
  const stdin = stdioStreams().stdin;
  if (!stdin.isTTY) throw invalidArgument('cannot ask for a password: standard input is not a terminal', { hint: 'use --password-stdin' });
  // Echo off before the prompt shows, so an answer typed right after it is never echoed.
  stdin.setRawMode(true);
  stderr.write(prompt);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise<string>((resolve, reject) => {
    let buf = '';
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
    };
    const onData = (s: string): void => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(buf);
          return;
        }
        if (ch === '\u0003' || (ch === '\u0004' && buf === '')) {
          done();
          reject(new CtrxError('invalid-argument', 'cancelled', { subject: 'password' }));
          return;
        }
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else if (ch >= ' ') buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** All of standard input (at most 1 MiB), without the trailing newline, as docker login --password-stdin. */
export async function readStdinSecret(): Promise<string> {
  const { invalidArgument } = await import('../../src/errdefs.js');
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stdioStreams().stdin as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > 1 << 20) throw invalidArgument('more than 1 MiB on standard input', { subject: '--password-stdin' });
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\n$/, '').replace(/\r$/, '');
}

