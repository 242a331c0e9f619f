import { command } from './_lib/define.js';

interface LoginArgs {
  server?: string;
  user?: string;
  passwordStdin: boolean;
  plainHttp: boolean;
  skipVerify: boolean;
  tlscacert?: string;
}

/**
 * Terminal input for credentials. Exported for `images pull -u user` (the
 * library asks through a callback; the prompt itself lives here).
 */
export async function promptLine(prompt: string): Promise<string> {
  const { invalidArgument } = await import('../src/errdefs.js');
  if (!process.stdin.isTTY) throw invalidArgument('cannot ask: standard input is not a terminal', { subject: prompt.replace(/:\s*$/, '') });
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question(prompt, resolve));
  } finally {
    rl.close();
  }
}

/** Reads a secret from the terminal without echoing it. */
export async function promptSecret(prompt: string): Promise<string> {
  const { invalidArgument, CtrxError } = await import('../src/errdefs.js');
  const { stderr } = await import('../src/platform/index.js');
  const stdin = process.stdin;
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
  const { invalidArgument } = await import('../src/errdefs.js');
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > 1 << 20) throw invalidArgument('more than 1 MiB on standard input', { subject: '--password-stdin' });
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\n$/, '').replace(/\r$/, '');
}

export const login = command<LoginArgs>({
  name: 'login',
  positional: '[server]',
  describe: 'Log in to a registry (checks the credentials, then stores them in ~/.docker/config.json)',
  options: (y) =>
    y
      .positional('server', { type: 'string', description: 'Registry host[:port] (default docker.io)' })
      .option('user', { alias: 'u', type: 'string', description: 'User name (user:password is accepted, but visible to other processes)' })
      .option('password-stdin', { type: 'boolean', default: false, description: 'Read the password from standard input' })
      .option('plain-http', { type: 'boolean', default: false, description: 'Use plain HTTP (loopback registries use it anyway)' })
      .option('skip-verify', { alias: 'k', type: 'boolean', default: false, description: "Do not verify the registry's TLS certificate" })
      .option('tlscacert', { type: 'string', description: 'CA certificate (PEM) to trust for the registry' }),
  run: async (argv) => {
    const { invalidArgument } = await import('../src/errdefs.js');
    const { stderr } = await import('../src/platform/index.js');
    const { print } = await import('./_lib/output.js');
    const reg = await import('../src/images/registry/index.js');
    const server = reg.loginRegistry(argv.server);
    const opts = {
      plainHttp: argv.plainHttp,
      skipVerify: argv.skipVerify,
      tlsCaCert: argv.tlscacert,
      onDebug: argv.debug ? (line: string) => stderr.write(`ctrx: debug: ${reg.redact(line)}\n`) : undefined,
    };
    try {
      let username: string | undefined;
      let secret: string | undefined;
      if (argv.user !== undefined) ({ username, secret } = reg.parseUserFlag(argv.user));
      if (argv.passwordStdin) {
        if (!username) throw invalidArgument('--password-stdin needs -u USER', { subject: 'login' });
        if (secret !== undefined) throw invalidArgument('give the password either in -u or on standard input, not both', { subject: 'login' });
        secret = await readStdinSecret();
      }
      if (!username && !argv.passwordStdin) {
        const stored = reg.lookupDockerCredential(server);
        if (stored) {
          await reg.verifyLogin(server, stored, opts);
          print('Login Succeeded (stored credentials)');
          return;
        }
        username = await promptLine('Username: ');
        if (!username) throw invalidArgument('a user name is required', { subject: 'login' });
      }
      if (secret === undefined) secret = await promptSecret('Password: ');
      if (secret === '') throw invalidArgument('empty password', { subject: 'login' });
      const cred = { username: username!, secret };
      await reg.verifyLogin(server, cred, opts);
      reg.saveLogin(server, cred);
      stderr.write(`WARNING! Your credentials are stored unencrypted in '${reg.dockerConfigPath()}'.\n`);
      print('Login Succeeded');
    } finally {
      reg.closeIdleConnections();
    }
  },
});
