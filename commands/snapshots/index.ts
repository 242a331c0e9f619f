import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';
import { info } from './info.js';
import { label } from './label.js';
import { ls } from './ls.js';
import { rm } from './rm.js';
import { tree } from './tree.js';
import { usage } from './usage.js';

const g = 'snapshots';
export const snapshots = group({
  name: 'snapshots',
  aliases: ['snapshot'],
  describe: 'Manage snapshots',
  commands: [
    ls,
    info,
    tree,
    label,
    rm,
    usage,
    stub(g, 'prepare', 'Prepare an active snapshot'),
    stub(g, 'view', 'Create a read-only snapshot from a committed snapshot'),
    stub(g, 'commit', 'Commit an active snapshot into the provided name'),
    stub(g, 'mounts', 'Mount instructions of a snapshot', { aliases: ['m', 'mount'] }),
    stub(g, 'diff', 'Get the diff of two snapshots'),
  ],
});
