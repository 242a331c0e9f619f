import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';

const g = 'snapshots';
export const snapshots = group({
  name: 'snapshots',
  aliases: ['snapshot'],
  describe: 'Manage snapshots',
  commands: [
    stub(g, 'ls', 'List snapshots', { aliases: ['list'] }),
    stub(g, 'info', 'Get info about a snapshot'),
    stub(g, 'tree', 'Display the tree of snapshots'),
    stub(g, 'label', 'Set and clear labels of a snapshot'),
    stub(g, 'rm', 'Remove snapshots', { aliases: ['del', 'delete', 'remove'] }),
    stub(g, 'usage', 'Usage snapshots'),
    stub(g, 'prepare', 'Prepare an active snapshot'),
    stub(g, 'view', 'Create a read-only snapshot from a committed snapshot'),
    stub(g, 'commit', 'Commit an active snapshot into the provided name'),
    stub(g, 'mounts', 'Mount instructions of a snapshot', { aliases: ['m', 'mount'] }),
    stub(g, 'diff', 'Get the diff of two snapshots'),
  ],
});
