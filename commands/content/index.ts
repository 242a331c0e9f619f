import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';
import { label } from './label.js';
import { ls } from './ls.js';
import { prune } from './prune.js';
import { rm } from './rm.js';

const g = 'content';
export const content = group({
  name: 'content',
  describe: 'Manage content',
  commands: [
    ls,
    rm,
    label,
    prune,
    stub(g, 'get', 'Get the data for an object'),
    stub(g, 'fetch', 'Fetch all content for an image into containerd'),
    stub(g, 'ingest', 'Accept content into the store'),
    stub(g, 'active', 'Display active transfers'),
  ],
});
