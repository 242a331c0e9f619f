import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';

const g = 'namespaces';
export const namespaces = group({
  name: 'namespaces',
  aliases: ['namespace', 'ns'],
  describe: 'Manage namespaces',
  commands: [
    stub(g, 'ls', 'List namespaces', { aliases: ['list'] }),
    stub(g, 'create', 'Create a new namespace', { aliases: ['c'] }),
    stub(g, 'rm', 'Remove one or more namespaces', { aliases: ['remove'] }),
    stub(g, 'label', 'Set and clear labels of a namespace'),
  ],
});
