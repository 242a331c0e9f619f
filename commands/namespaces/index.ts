import { group } from '../_lib/define.js';
import { create } from './create.js';
import { label } from './label.js';
import { ls } from './ls.js';
import { rm } from './rm.js';

export const namespaces = group({
  name: 'namespaces',
  aliases: ['namespace', 'ns'],
  describe: 'Manage namespaces',
  commands: [ls, create, rm, label],
});
