import { command } from '../_lib/define.js';
import { stdout } from '../../src/platform/index.js';
import { invalidArgument } from '../../src/errdefs.js';

export const configDump = command<{ format: string }>({
  name: 'dump',
  describe: 'Print the effective config: the -c file over the defaults, imports resolved as containerd does',
  options: (y) => y.option('format', { type: 'string', default: 'toml', description: 'Output format (toml|json)' }),
  run: async (argv) => {
    if (argv.format !== 'toml' && argv.format !== 'json') throw invalidArgument(`unknown format ${JSON.stringify(argv.format)} (toml or json)`, { subject: '--format' });
    const { loadConfig } = await import('../../src/config/load.js');
    const { stringifyToml, toJSONValue } = await import('../../src/config/toml.js');
    const loaded = await loadConfig(argv.config);
    const tree = loaded.effective as Parameters<typeof stringifyToml>[0];
    if (argv.format === 'json') stdout.write(JSON.stringify(toJSONValue(tree), null, 2) + '\n');
    else stdout.write(stringifyToml(tree, { style: loaded.version >= 3 ? 'v2' : 'v1' }));
  },
});
