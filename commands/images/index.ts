import { group } from '../_lib/define.js';
import { label } from './label.js';
import { ls } from './ls.js';
import { rm } from './rm.js';
import { tag } from './tag.js';
import { check } from './check.js';
import { mount } from './mount.js';
import { unmount } from './unmount.js';
import { usage } from './usage.js';
import { inspect } from './inspect.js';
import { prune } from './prune.js';
import { pull } from './pull.js';
import { importCmd } from './import.js';
import { exportCmd } from './export.js';
import { push } from './push.js';

export const images = group({
  name: 'images',
  aliases: ['image', 'i'],
  describe: 'Manage images',
  commands: [
    ls,
    pull,
    push,
    rm,
    tag,
    label,
    importCmd,
    exportCmd,
    check,
    mount,
    unmount,
    usage,
    inspect,
    prune,
  ],
});
