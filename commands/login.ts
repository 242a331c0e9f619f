import { command } from './_lib/define.js';
import { promptLine, promptSecret, readStdinSecret } from './_lib/prompt.js';

interface LoginArgs {
  server?: string;
  user?: string;
  passwordStdin: boolean;
  plainHttp: boolean;
  skipVerify: boolean;
  tlscacert?: string;
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
