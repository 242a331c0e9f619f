import { group } from '../_lib/define.js';
import { configDefault } from './default.js';
import { configDump } from './dump.js';
import { configCheck } from './check.js';
import { configHosts } from './hosts.js';

export const config = group({
  name: 'config',
  describe: "Generate, show and check containerd's config.toml",
  commands: [configDefault, configDump, configCheck, configHosts],
});
