import { group } from '../_lib/define.js';
import { label } from './label.js';
import { ls } from './ls.js';
import { prune } from './prune.js';
import { rm } from './rm.js';
import { get } from './get.js';
import { active } from './active.js';
import { ingest } from './ingest.js';
import { fetch } from './fetch.js';

export const content = group({
  name: 'content',
  describe: 'Manage content',
  commands: [
    ls,
    rm,
    label,
    prune,
    get,
    fetch,
    ingest,
    active,
  ],
});
