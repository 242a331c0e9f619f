import { command, many } from '../_lib/define.js';
import { registryFlags, registryOptions } from '../_lib/registry-flags.js';

interface PushArgs {
  remote: string;
  local?: string;
  platform?: string[];
  manifest?: string;
  'manifest-type'?: string;
  'max-concurrent-uploaded-layers': number;
  'allow-non-distributable-blobs'?: boolean;
  'plain-http'?: boolean;
  'skip-verify'?: boolean;
  tlscacert?: string[];
  'hosts-dir'?: string[];
  user?: string;
  quiet?: boolean;
  format?: string;
}

export const push = command<PushArgs>({
  name: 'push',
  positional: '<remote> [local]',
  describe:
    'Push an image to a registry (ctr order: remote reference, then the local image, default the same name); blobs the registry has are skipped, blobs pulled from another repository of the same registry are mounted',
  complete: 'images',
  options: (y) =>
    registryFlags(y)
      .positional('remote', { type: 'string', describe: 'Where to push (short names like myuser/app:1 work)' })
      .positional('local', { type: 'string', describe: 'Local image name (default: the remote reference)' })
      .option('platform', { type: 'string', coerce: many, description: 'Push only the manifest of this platform from a multi-platform image' })
      .option('manifest', { type: 'string', description: 'Push this content digest instead of an image' })
      .option('manifest-type', { type: 'string', description: 'Media type of --manifest', default: 'application/vnd.oci.image.manifest.v1+json' })
      .option('max-concurrent-uploaded-layers', { alias: 'max-concurrent-uploads', type: 'number', default: 3, description: 'Blobs uploaded at once' })
      .option('allow-non-distributable-blobs', { type: 'boolean', description: 'Also push non-distributable layers' })
      .option('quiet', { alias: 'q', type: 'boolean', description: 'Print nothing' })
      .option('format', { type: 'string', choices: ['text', 'json'], default: 'text', description: 'Final report format' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { pushImage } = await import('../../src/images/push.js');
    const { humanSize, print, printJSON } = await import('../_lib/output.js');
    const { invalidArgument } = await import('../../src/errdefs.js');
    if ((argv.platform?.length ?? 0) > 1) throw invalidArgument('push takes one --platform (its manifest is pushed alone); without it every platform of the image is pushed', { subject: '--platform' });
    const ctx = await contextFrom(argv);
    const { pushProgress } = await import('../_lib/push-view.js');
    const { onProgress, view, started } = await pushProgress(!argv.quiet && argv.format !== 'json');
    let result;
    try {
      result = await pushImage(ctx, String(argv.remote), argv.local === undefined ? undefined : String(argv.local), {
        platform: argv.platform?.[0],
        manifest: argv.manifest,
        manifestType: argv['manifest-type'],
        allowNonDistributable: argv['allow-non-distributable-blobs'],
        maxConcurrentUploads: argv['max-concurrent-uploaded-layers'],
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
    const b = result.blobs;
    print(
      `${result.name}: ${result.target.digest} (${b.uploaded} blobs uploaded, ${b.mounted} mounted, ${b.exists} already there, ${result.manifests} manifests, ${humanSize(result.uploaded)} sent) in ${secs} s`,
    );
  },
});
