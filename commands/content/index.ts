import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';

const g = 'content';
export const content = group({
  name: 'content',
  describe: 'Manage content',
  commands: [
    stub(g, 'ls', 'List all blobs in the store', { aliases: ['list'] }),
    stub(g, 'rm', 'Permanently delete one or more blobs', { aliases: ['del', 'delete', 'remove'] }),
    stub(g, 'label', 'Add labels to content'),
    stub(g, 'prune', 'Prune content from the content store'),
    stub(g, 'get', 'Get the data for an object'),
    stub(g, 'fetch', 'Fetch all content for an image into containerd'),
    stub(g, 'ingest', 'Accept content into the store'),
    stub(g, 'active', 'Display active transfers'),
  ],
});
