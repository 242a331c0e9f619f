import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';
import { label } from './label.js';
import { ls } from './ls.js';
import { rm } from './rm.js';
import { tag } from './tag.js';

const g = 'images';
export const images = group({
  name: 'images',
  aliases: ['image', 'i'],
  describe: 'Manage images',
  commands: [
    ls,
    stub(g, 'pull', 'Pull an image from a registry'),
    stub(g, 'push', 'Push an image to a registry'),
    rm,
    tag,
    label,
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
