import { command } from '../_lib/define.js';
import { outputFlags, renderList, print, type OutputArgs } from '../_lib/output.js';

export const ls = command<OutputArgs & { detailed: boolean }>({
  name: 'ls',
  aliases: ['list'],
  describe: 'List plugins: content, metadata, snapshotters, runtime',
  options: (y) => outputFlags(y).option('detailed', { alias: 'd', type: 'boolean', description: 'Print detailed information about each plugin', default: false }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { hostReport } = await import('../../src/host/plugins.js');
    const ctx = await contextFrom(argv);
    const { plugins } = hostReport(ctx);
    if (argv.detailed && !argv.quiet && argv.format === 'table') {
      const blocks = plugins.map((p) => {
        const lines = [`Type:          ${p.type}`, `ID:            ${p.id}`, `Platforms:     ${p.platforms.join(',')}`, `Status:        ${p.status}`];
        const exports = Object.entries(p.exports);
        if (exports.length) {
          lines.push('Exports:');
          for (const [k, v] of exports) lines.push(`               ${k.padEnd(10)} ${v}`);
        }
        if (p.reason) lines.push('Reason:', `               ${p.reason}`);
        return lines.join('\n');
      });
      print(blocks.join('\n\n'));
      return;
    }
    renderList(argv, plugins, {
      headers: ['TYPE', 'ID', 'PLATFORMS', 'STATUS'],
      row: (p) => [p.type, p.id, p.platforms.join(','), p.status],
      id: (p) => `${p.type}.${p.id}`,
    });
  },
});
