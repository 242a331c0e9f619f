import { command } from '../_lib/define.js';

export const inspect = command<{ ref: string; content: boolean; format: string }>({
  name: 'inspect',
  positional: '<ref>',
  describe: "Show an image's descriptor tree (index, manifests and platforms, config, layers; sizes and presence)",
  complete: 'images',
  options: (y) =>
    y
      .positional('ref', { type: 'string', describe: 'Image reference' })
      .option('content', { type: 'boolean', default: false, description: 'Show blob labels and the JSON documents' })
      .option('format', { type: 'string', default: 'tree', description: 'Output format (tree|json)' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { inspectImage } = await import('../../src/images/inspect.js');
    const { formatRFC3339Nano } = await import('../../src/metadata/encoding.js');
    const { invalidArgument } = await import('../../src/errdefs.js');
    const { stdout } = await import('../../src/platform/index.js');
    const format = argv.format === 'table' ? 'tree' : argv.format;
    if (format !== 'tree' && format !== 'json') throw invalidArgument(`unknown format ${JSON.stringify(argv.format)} (tree or json)`, { subject: '--format' });
    const t = inspectImage(await contextFrom(argv), String(argv.ref), { content: argv.content });
    if (format === 'json') {
      const { image } = t;
      stdout.write(
        JSON.stringify(
          {
            name: image.name,
            createdAt: image.createdAt ? formatRFC3339Nano(image.createdAt) : null,
            updatedAt: image.updatedAt ? formatRFC3339Nano(image.updatedAt) : null,
            labels: image.labels,
            target: t.target,
          },
          null,
          2,
        ) + '\n',
      );
      return;
    }
    const { renderTree } = await import('./_inspect.js');
    stdout.write(renderTree(t, argv.content));
  },
});
