import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';

export const rm = command<{ digests: string[] }>({
  name: 'rm',
  aliases: ['del', 'delete', 'remove'],
  positional: '<digests..>',
  describe: 'Permanently delete one or more blobs (files go when no namespace references them)',
  complete: 'content',
  options: (y) => y.positional('digests', { type: 'string', array: true }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { contentRemove } = await import('../../src/metadata/api.js');
    const { validateDigest } = await import('../../src/metadata/validate.js');
    const digests = argv.digests.map(String);
    for (const d of digests) validateDigest(d);
    const res = contentRemove(await contextFrom(argv), digests);
    // ctr prints each deleted digest; a missing one is skipped silently
    for (const d of res.removed) print(d);
  },
});
