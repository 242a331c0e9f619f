import { group } from '../_lib/define.js';
import { create } from './create.js';
import { ls } from './ls.js';
import { rm } from './rm.js';

export const leases = group({
  name: 'leases',
  describe: 'Manage leases',
  commands: [ls, create, rm],
});
