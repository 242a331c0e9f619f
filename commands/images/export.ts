import { command, many } from '../_lib/define.js';

interface ExportArgs {
  out: string;
  images: string[];
  platform?: string[];
  'all-platforms'?: boolean;
  'skip-manifest-json'?: boolean;
  'skip-non-distributable'?: boolean;
}

export const exportCmd = command<ExportArgs>({
  name: 'export',
  positional: '<out> <images..>',
  describe: 'Export images to an OCI layout tar with a Docker manifest.json (OUT or - for stdout); an index keeps the host platform unless --platform/--all-platforms',
  complete: 'images',
  options: (y) =>
    y
      .positional('out', { type: 'string', describe: 'Output file, or - for standard output' })
      .positional('images', { type: 'string', array: true, describe: 'Image names' })
      .option('platform', { type: 'string', coerce: many, description: 'Export this platform (repeatable; default: this host)' })
      .option('all-platforms', { type: 'boolean', description: 'Export every platform (all must be present)' })
      .option('skip-manifest-json', { type: 'boolean', description: 'Leave out the Docker manifest.json' })
      .option('skip-non-distributable', { type: 'boolean', description: 'Leave out non-distributable layers' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { exportImages } = await import('../../src/images/archive/export.js');
    const { writeStreamTo } = await import('../_lib/archive-view.js');
    const ctx = await contextFrom(argv);
    const { stream } = await exportImages(ctx, (argv.images ?? []).map(String), {
      platforms: argv.platform,
      allPlatforms: argv['all-platforms'],
      skipManifestJson: argv['skip-manifest-json'],
      skipNonDistributable: argv['skip-non-distributable'],
    });
    // yargs hands a lone '-' positional over as '' (or true without a type).
    await writeStreamTo(argv.out === '' || (argv.out as unknown) === true ? '-' : String(argv.out), stream);
  },
});
