import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';

export const rm = command<{ names: string[] }>({
  name: 'rm',
  aliases: ['remove'],
  positional: '<names..>',
  describe: 'Remove one or more namespaces (they must be empty)',
  complete: 'namespaces',
  options: (y) => y.positional('names', { type: 'string', array: true, describe: 'Namespaces' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { namespaceRemove } = await import('../../src/metadata/api.js');
    const ctx = await contextFrom(argv);
    let first: unknown;
    for (const n of argv.names.map(String)) {
      try {
        namespaceRemove(ctx, n);
        print(n);
      } catch (e) {
        // ctr goes on with the other names and fails at the end
        if ((e as { category?: string }).category === 'unavailable') throw e;
        first ??= e;
      }
    }
    if (first) throw first;
  },
});
