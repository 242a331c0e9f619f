import { command } from '../_lib/define.js';
import { stdout } from '../../src/platform/index.js';
import { invalidArgument } from '../../src/errdefs.js';

interface DefaultArgs {
  'config-version': number;
  'systemd-cgroup': boolean;
  'sandbox-image'?: string;
  mirror?: string | string[];
  'config-path'?: string;
  'oom-score'?: number;
}

export const configDefault = command<DefaultArgs>({
  name: 'default',
  describe: 'Print a default containerd config.toml (as `containerd config default` does), with common edits applied',
  options: (y) =>
    y
      .option('config-version', { type: 'number', default: 2, description: 'Config version: 2 for containerd 1.6/1.7, 3 for containerd 2.x' })
      .option('systemd-cgroup', { type: 'boolean', default: false, description: "Set SystemdCgroup = true in the runc runtime's options" })
      .option('sandbox-image', { type: 'string', description: 'CRI sandbox (pause) image', requiresArg: true })
      .option('mirror', { type: 'string', description: 'HOST=ENDPOINT: a legacy CRI registry mirror (repeatable; endpoints of one host accumulate)', requiresArg: true })
      .option('config-path', { type: 'string', description: 'CRI registry.config_path: directory of hosts.toml files (see `ctrx config hosts`)', requiresArg: true })
      .option('oom-score', { type: 'number', description: "containerd's oom_score (-1000..1000)", requiresArg: true })
      .epilog('The global --root and --state set the generated root and state.\nExample: ctrx config default --systemd-cgroup > /etc/containerd/config.toml'),
  run: async (argv) => {
    const { generateConfig, parseMirrorFlag } = await import('../../src/config/generate.js');
    const version = argv['config-version'];
    if (version !== 2 && version !== 3) throw invalidArgument(`${version}: must be 2 (containerd 1.x) or 3 (containerd 2.x)`, { subject: '--config-version' });
    const oom = argv['oom-score'];
    if (oom !== undefined && Number.isNaN(oom)) throw invalidArgument('must be an integer', { subject: '--oom-score' });
    const mirrors = ([] as string[]).concat(argv.mirror ?? []).map(parseMirrorFlag);
    stdout.write(
      generateConfig({
        version,
        systemdCgroup: argv['systemd-cgroup'],
        sandboxImage: argv['sandbox-image'],
        mirrors,
        configPath: argv['config-path'],
        root: argv.root,
        state: argv.state,
        oomScore: oom,
      }),
    );
  },
});
