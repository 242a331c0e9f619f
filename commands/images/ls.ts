import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';

export const ls = command<{ quiet: boolean; format: string }>({
  name: 'ls',
  aliases: ['list'],
  describe: 'List images (size and platforms from the content store)',
  options: (y) => outputFlags(y),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { imagesList } = await import('../../src/metadata/api.js');
    const { formatRFC3339Nano } = await import('../../src/metadata/encoding.js');
    const { renderCtr, ctrLabels, goBytes } = await import('../content/_ctrfmt.js');
    const rows = imagesList(await contextFrom(argv), !argv.quiet);
    renderCtr(argv, rows, {
      headers: ['REF', 'TYPE', 'DIGEST', 'SIZE', 'PLATFORMS', 'LABELS'],
      row: (r) => [r.name, r.target.mediaType, r.target.digest, goBytes(r.size), r.platforms.length ? r.platforms.join(',') : '-', ctrLabels(r.labels)],
      id: (r) => r.name,
      json: (r) => ({
        name: r.name,
        mediaType: r.target.mediaType,
        digest: r.target.digest,
        targetSize: r.target.size,
        size: r.size,
        ...(r.sizeError ? { sizeError: r.sizeError } : {}),
        platforms: r.platforms,
        labels: r.labels,
        createdAt: r.createdAt ? formatRFC3339Nano(r.createdAt) : null,
        updatedAt: r.updatedAt ? formatRFC3339Nano(r.updatedAt) : null,
      }),
    });
  },
});
