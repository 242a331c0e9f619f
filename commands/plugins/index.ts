import { group } from '../_lib/define.js';
import { ls } from './ls.js';

export const plugins = group({
  name: 'plugins',
  aliases: ['plugin'],
  describe: 'Show what ctrx can use on this host, in containerd\'s plugin terms',
  commands: [ls],
});
