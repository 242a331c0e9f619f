import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';

const g = 'config';
export const config = group({
  name: 'config',
  describe: "Generate, show and check containerd's config.toml",
  commands: [
    stub(g, 'default', 'Print a default containerd config.toml'),
    stub(g, 'dump', 'Print the effective config (file over defaults, imports resolved)'),
    stub(g, 'check', 'Check a config.toml for unknown keys, wrong types and deprecated keys'),
    stub(g, 'hosts', 'Write a registry hosts.toml for containerd\'s config_path'),
  ],
});
