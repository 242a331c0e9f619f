import { group } from '../_lib/define.js';
import { info } from './info.js';
import { label } from './label.js';
import { ls } from './ls.js';
import { rm } from './rm.js';
import { tree } from './tree.js';
import { usage } from './usage.js';
import { prepare, view } from './prepare.js';
import { commit } from './commit.js';
import { mounts } from './mounts.js';
import { diff } from './diff.js';

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
    prepare,
    view,
    commit,
    mounts,
    diff,
  ],
});
