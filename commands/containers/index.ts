import { group } from '../_lib/define.js';
import { create } from './create.js';
import { info } from './info.js';
import { label } from './label.js';
import { ls } from './ls.js';
import { rm } from './rm.js';

export const containers = group({
  name: 'containers',
  aliases: ['container', 'c'],
  describe: 'Manage containers',
  commands: [create, ls, info, rm, label],
});
