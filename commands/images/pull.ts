import { command, many } from '../_lib/define.js';
import { registryFlags, registryOptions } from '../_lib/registry-flags.js';
import { env } from '../../src/platform/index.js';

interface PullArgs {
  ref: string;
  platform?: string[];
  'all-platforms'?: boolean;
  snapshotter?: string;
  unpack: boolean;
  'max-concurrent-downloads': number;
  label?: string[];
  'plain-http'?: boolean;
  'skip-verify'?: boolean;
  tlscacert?: string[];
  'hosts-dir'?: string[];
  user?: string;
  'print-chainid'?: boolean;
  quiet?: boolean;
  format?: string;
}

export const pull = command<PullArgs>({
  name: 'pull',
  positional: '<ref>',
  describe: 'Pull an image (short names like redis work; mirrors from hosts.toml and config.toml are always honoured)',
  options: (y) =>
    registryFlags(y)
      .positional('ref', { type: 'string', describe: 'Image reference' })
      .option('platform', { type: 'string', coerce: many, description: 'Pull content for this platform (repeatable; default: this host)' })
      .option('all-platforms', { type: 'boolean', description: 'Pull content for all platforms' })
      .option('snapshotter', { type: 'string', description: 'Snapshotter to unpack into', defaultDescription: '$CONTAINERD_SNAPSHOTTER or the config' })
      // yargs reads --no-unpack as unpack=false: an option named 'no-unpack' would be refused as the unknown 'unpack'
      .option('unpack', { type: 'boolean', default: true, description: 'Unpack into the snapshotter (--no-unpack: fetch only)' })
      .option('max-concurrent-downloads', { type: 'number', default: 3, description: 'Layers downloaded at once' })
      .option('label', { type: 'string', coerce: many, description: 'Label for the image record, key=value' })
      .option('print-chainid', { type: 'boolean', description: 'Print the image chainID' })
      .option('quiet', { alias: 'q', type: 'boolean', description: 'Print nothing' })
      .option('format', { type: 'string', choices: ['text', 'json'], default: 'text', description: 'Final report format' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { pullImage } = await import('../../src/images/pull.js');
    const { humanSize, print, printJSON } = await import('../_lib/output.js');
    const { parseLabelArgs } = await import('../../src/metadata/validate.js');
    const ctx = await contextFrom(argv);
    const { pullProgress } = await import('../_lib/pull-view.js');
    const { onProgress, view, started } = await pullProgress(!argv.quiet && argv.format !== 'json');
    let result;
    try {
      result = await pullImage(ctx, argv.ref, {
        platforms: argv.platform,
        allPlatforms: argv['all-platforms'],
        snapshotter: argv.snapshotter ?? (env('CONTAINERD_SNAPSHOTTER') || undefined),
        unpack: argv.unpack,
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
    if (argv['print-chainid']) for (const u of result.unpacked) print(`image chain ID: ${u.chainId}`);
    if (argv.quiet) return;
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const unpacked = result.unpacked.length ? `, unpacked ${result.unpacked.map((u) => u.platform ?? 'image').join(', ')} into ${result.unpacked[0]!.snapshotter}` : '';
    print(`${result.name}: ${result.target.digest} (${result.blobs} blobs, ${humanSize(result.downloaded)} downloaded${unpacked}) in ${secs} s`);
  },
});
