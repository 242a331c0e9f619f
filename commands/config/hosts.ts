import { command } from '../_lib/define.js';
import { stdout } from '../../src/platform/index.js';

interface HostsArgs {
  host: string;
  mirror?: string | string[];
  capabilities?: string;
  'skip-verify'?: boolean;
  ca?: string;
  dir: string;
  server?: string;
  'dry-run': boolean;
}

export const configHosts = command<HostsArgs>({
  name: 'hosts',
  positional: '<host>',
  describe: "Write DIR/HOST/hosts.toml for containerd's registry config_path (merging into an existing file)",
  options: (y) =>
    y
      .positional('host', { type: 'string', description: 'Registry host (docker.io, registry.example.com:5000) or _default' })
      .option('mirror', { type: 'string', description: 'Mirror URL, tried in the given order (repeatable)', requiresArg: true })
      .option('capabilities', { type: 'string', description: 'Mirror capabilities: pull,resolve,push (default for new mirrors: pull,resolve)', requiresArg: true })
      .option('skip-verify', { type: 'boolean', description: "Don't verify the mirrors' TLS certificates" })
      .option('ca', { type: 'string', description: "CA certificate file for the mirrors", requiresArg: true })
      .option('dir', { type: 'string', default: '/etc/containerd/certs.d', description: 'hosts directory (containerd config_path)' })
      .option('server', { type: 'string', description: 'Upstream server URL (default https://HOST; docker.io: https://registry-1.docker.io)', requiresArg: true })
      .option('dry-run', { type: 'boolean', default: false, description: 'Print the resulting file instead of writing it' })
      .demandOption('mirror', 'at least one --mirror URL is required'),
  run: async (argv) => {
    const { planHostsFile, writeHostsFile } = await import('../../src/config/hosts.js');
    const opts = {
      host: argv.host,
      mirrors: ([] as string[]).concat(argv.mirror ?? []),
      capabilities: argv.capabilities === undefined ? undefined : [argv.capabilities],
      skipVerify: argv['skip-verify'],
      ca: argv.ca,
      dir: argv.dir,
      server: argv.server,
    };
    if (argv['dry-run']) {
      stdout.write((await planHostsFile(opts)).text);
      return;
    }
    const res = await writeHostsFile(opts);
    stdout.write(`${res.created ? 'wrote' : 'updated'} ${res.path}\n`);
  },
});
