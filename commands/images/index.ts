import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';

const g = 'images';
export const images = group({
  name: 'images',
  aliases: ['image', 'i'],
  describe: 'Manage images',
  commands: [
    stub(g, 'ls', 'List images', { aliases: ['list'] }),
    stub(g, 'pull', 'Pull an image from a registry'),
    stub(g, 'push', 'Push an image to a registry'),
    stub(g, 'rm', 'Remove one or more images', { aliases: ['del', 'delete', 'remove'] }),
    stub(g, 'tag', 'Tag an image'),
    stub(g, 'label', 'Set and clear labels of an image'),
    stub(g, 'import', 'Import images from an OCI or docker archive'),
    stub(g, 'export', 'Export images to an OCI archive'),
    stub(g, 'check', 'Check that images are complete and unpacked'),
    stub(g, 'mount', 'Mount an image to a directory'),
    stub(g, 'unmount', 'Unmount an image mounted with images mount'),
    stub(g, 'usage', 'Display the disk usage of an image'),
    stub(g, 'inspect', 'Show the descriptor tree of an image'),
    stub(g, 'prune', 'Remove unused images'),
  ],
});
