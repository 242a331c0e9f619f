import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';
import { info } from './info.js';
import { label } from './label.js';
import { ls } from './ls.js';
import { rm } from './rm.js';

const g = 'containers';
export const containers = group({
  name: 'containers',
  aliases: ['container', 'c'],
  describe: 'Manage containers',
  commands: [stub(g, 'create', 'Create a container'), ls, info, rm, label],
});
