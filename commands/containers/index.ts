import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';

const g = 'containers';
export const containers = group({
  name: 'containers',
  aliases: ['container', 'c'],
  describe: 'Manage containers',
  commands: [
    stub(g, 'create', 'Create a container'),
    stub(g, 'ls', 'List containers', { aliases: ['list'] }),
    stub(g, 'info', 'Get info about a container'),
    stub(g, 'rm', 'Delete one or more containers', { aliases: ['del', 'delete', 'remove'] }),
    stub(g, 'label', 'Set and clear labels of a container'),
  ],
});
