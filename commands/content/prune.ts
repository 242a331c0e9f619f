import { command } from '../_lib/define.js';
import { print, printJSON } from '../_lib/output.js';

export const prune = command<{ what?: string; format: string }>({
  name: 'prune',
  positional: '[what]',
  describe: "Run containerd's garbage collection now; `prune references` first drops layer references (as ctr)",
  options: (y) =>
    y
      .positional('what', { type: 'string', choices: ['references'], describe: 'references: remove layer gc.ref labels first (layers then go)' })
      .option('format', { type: 'string', default: 'table', description: 'Output format (table|json)' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { contentPrune } = await import('../../src/metadata/api.js');
    const gc = contentPrune(await contextFrom(argv), argv.what === 'references');
    if (argv.format === 'json') return printJSON(gc);
    for (const n of gc.removed) print(`removed ${n.type} ${n.ns}/${n.key}`);
    for (const b of gc.blobs) print(`deleted blob ${b}`);
    for (const s of gc.backend) print(`deleted snapshot ${s.snapshotter}/${s.key}`);
  },
});
