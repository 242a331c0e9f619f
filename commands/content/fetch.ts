import { command, many } from '../_lib/define.js';
import { registryFlags, registryOptions } from '../_lib/registry-flags.js';

interface FetchArgs {
  ref: string;
  platform?: string[];
  'all-platforms'?: boolean;
  'metadata-only'?: boolean;
  label?: string[];
  'max-concurrent-downloads': number;
  'plain-http'?: boolean;
  'skip-verify'?: boolean;
  tlscacert?: string[];
  'hosts-dir'?: string[];
  user?: string;
  quiet?: boolean;
  format?: string;
}

export const fetch = command<FetchArgs>({
  name: 'fetch',
  positional: '<ref>',
  describe: 'Fetch all content for an image into the content store without unpacking it (and record the image, as ctr)',
  options: (y) =>
    registryFlags(y)
      .positional('ref', { type: 'string', describe: 'Image reference' })
      .option('platform', { type: 'string', coerce: many, description: 'Fetch content for this platform (repeatable; default: this host)' })
      .option('all-platforms', { type: 'boolean', description: 'Fetch content for all platforms' })
      .option('metadata-only', { type: 'boolean', description: 'Fetch the index, manifests and configs of every platform, no layers' })
      .option('label', { type: 'string', coerce: many, description: 'Label for the image record, key=value' })
      .option('max-concurrent-downloads', { type: 'number', default: 3, description: 'Layers downloaded at once' })
      .option('quiet', { alias: 'q', type: 'boolean', description: 'Print nothing' })
      .option('format', { type: 'string', choices: ['text', 'json'], default: 'text', description: 'Final report format' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { pullImage } = await import('../../src/images/pull.js');
    const { defaultPlatform, formatPlatform } = await import('../../src/images/platform.js');
    const { humanSize, print, printJSON } = await import('../_lib/output.js');
    const { parseLabelArgs } = await import('../../src/metadata/validate.js');
    const ctx = await contextFrom(argv);
    const { pullProgress } = await import('../_lib/pull-view.js');
    const { onProgress, view, started } = await pullProgress(!argv.quiet && argv.format !== 'json');
    let result;
    try {
      result = await pullImage(ctx, argv.ref, {
        // ctr's fetch keeps every manifest that matches the host, not only the best one.
        platforms: argv['all-platforms'] ? undefined : argv.platform?.length ? argv.platform : [formatPlatform(defaultPlatform())],
        allPlatforms: argv['all-platforms'],
        ...(argv['metadata-only'] ? { metadataOnly: true } : {}),
        unpack: false,
        maxConcurrentDownloads: argv['max-concurrent-downloads'],
        labels: parseLabelArgs(argv.label ?? []),
        registry: await registryOptions(argv),
        onProgress,
      });
    } finally {
      view.stop();
    }
    if (argv.format === 'json') {
      printJSON(result);
      return;
    }
    if (argv.quiet) return;
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const platforms = result.manifests.map((m) => m.platform).filter(Boolean);
    print(`${result.name}: ${result.target.digest} (${result.blobs} blobs${platforms.length ? ` for ${platforms.join(', ')}` : ''}, ${humanSize(result.downloaded)} downloaded) in ${secs} s`);
  },
});
