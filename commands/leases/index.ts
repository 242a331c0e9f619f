import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';

const g = 'leases';
export const leases = group({
  name: 'leases',
  describe: 'Manage leases',
  commands: [
    stub(g, 'ls', 'List all active leases', { aliases: ['list'] }),
    stub(g, 'create', 'Create lease'),
    stub(g, 'rm', 'Remove leases', { aliases: ['delete'] }),
  ],
});
