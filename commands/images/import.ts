import { command, many } from '../_lib/define.js';
import { env } from '../../src/platform/index.js';

interface ImportArgs {
  file: string;
  'base-name'?: string;
  digests?: boolean;
  'skip-digest-for-named'?: boolean;
  'index-name'?: string;
  'all-platforms'?: boolean;
  platform?: string;
  unpack: boolean;
  snapshotter?: string;
  label?: string[];
  quiet?: boolean;
  format?: string;
}

export const importCmd = command<ImportArgs>({
  name: 'import',
  positional: '<file>',
  describe:
    'Import images from an OCI layout tar or a docker save tar (FILE or - for stdin), named as ctr names them: tag-only OCI names get --base-name or import-<date> in front',
  complete: 'files',
  options: (y) =>
    y
      .positional('file', { type: 'string', describe: 'Archive file, or - for standard input' })
      .option('base-name', { type: 'string', description: 'Base image name for tag-only names; when given, only images under it are imported' })
      .option('digests', { type: 'boolean', description: 'Also create <base-name>@<digest> images' })
      .option('skip-digest-for-named', { type: 'boolean', description: 'With --digests: not for images the archive names' })
      .option('index-name', { type: 'string', description: 'Also keep the archive index as an image of this name' })
      .option('all-platforms', { type: 'boolean', description: 'Import the content of every platform' })
      .option('platform', { type: 'string', description: 'Import (and unpack) this platform only' })
      .option('unpack', { type: 'boolean', default: true, description: 'Unpack into the snapshotter (--no-unpack: do not)' })
      .option('snapshotter', { type: 'string', description: 'Snapshotter to unpack into', defaultDescription: '$CONTAINERD_SNAPSHOTTER or the config' })
      .option('label', { type: 'string', coerce: many, description: 'Label for the image records, key=value (repeatable)' })
      .option('quiet', { alias: 'q', type: 'boolean', description: 'Print nothing' })
      .option('format', { type: 'string', choices: ['text', 'json'], default: 'text', description: 'Report format' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { importArchive } = await import('../../src/images/archive/import.js');
    const { parseLabelArgs } = await import('../../src/metadata/validate.js');
    const { print, printJSON } = await import('../_lib/output.js');
    const { stderr, stdioStreams } = await import('../../src/platform/index.js');
    const { archiveProgress } = await import('../_lib/archive-view.js');
    const { notFound, fromSystemError, invalidArgument } = await import('../../src/errdefs.js');
    const ctx = await contextFrom(argv);
    // yargs hands a lone '-' positional over as '' (or true without a type).
    const file = argv.file === '' || (argv.file as unknown) === true ? '-' : String(argv.file);
    let source: AsyncIterable<Uint8Array>;
    if (file === '-') {
      if (stdioStreams().stdin.isTTY) throw invalidArgument('standard input is a terminal: pipe an archive in, or name the file', { subject: 'images import -' });
      source = stdioStreams().stdin as AsyncIterable<Uint8Array>;
    }
    else {
      const { open } = await import('node:fs/promises');
      const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'ENOENT' ? notFound('no such file', { subject: file }) : fromSystemError(e, file);
      });
      source = fh.createReadStream({ highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>;
    }
    const { onProgress, view } = await archiveProgress(!argv.quiet && argv.format !== 'json');
    let result;
    try {
      result = await importArchive(ctx, source, {
        subject: `archive ${JSON.stringify(file === '-' ? 'stdin' : file)}`,
        baseName: argv['base-name'],
        digests: argv.digests,
        skipDigestForNamed: argv['skip-digest-for-named'],
        indexName: argv['index-name'],
        allPlatforms: argv['all-platforms'],
        platform: argv.platform,
        unpack: argv.unpack !== false,
        snapshotter: argv.snapshotter ?? (env('CONTAINERD_SNAPSHOTTER') || undefined),
        labels: parseLabelArgs(argv.label ?? []),
        onProgress,
      });
    } finally {
      view.stop();
      (source as { destroy?: () => void }).destroy?.();
    }
    if (argv.format === 'json') {
      printJSON(result);
      return;
    }
    if (argv.quiet) return;
    // ctr's lines, one per image.
    for (const img of result.images) print(argv.unpack === false ? `imported ${img.name} (${img.target.digest})` : `unpacking ${img.name} (${img.target.digest})...done`);
    for (const s of result.skipped) stderr.write(`ctrx: skipped ${s.name}${s.platform ? ` (${s.platform})` : ''}: not the platform imported (use --platform or --all-platforms)\n`);
    if (result.images.length === 0) stderr.write('ctrx: the archive names no image: nothing was tagged (use --digests or --index-name to name its content)\n');
  },
});
