import { stdioStreams } from '../../src/platform/index.js';
import { command } from '../_lib/define.js';
import { snapshotterFlag } from './_flags.js';

export const diff = command<{ idA: string; idB?: string; 'media-type': string; ref?: string; keep: boolean; label?: string | string[]; snapshotter?: string }>({
  name: 'diff',
  positional: '<idA> [idB]',
  describe: "Write the layer from snapshot A to B (default: from A's parent to A) to standard output, as ctr; --keep also stores it (gc.root)",
  complete: 'snapshots',
  options: (y) =>
    snapshotterFlag(
      y
        .positional('idA', { type: 'string', describe: 'Snapshot key (the lower one when idB is given)' })
        .positional('idB', { type: 'string', describe: 'Snapshot key of the upper tree' })
        .option('media-type', { type: 'string', default: 'application/vnd.oci.image.layer.v1.tar+gzip', description: 'Media type of the diff (tar or tar+gzip)' })
        .option('ref', { type: 'string', description: 'Content upload reference to use (with --keep)' })
        .option('keep', { type: 'boolean', default: false, description: 'Keep the diff in the content store (labelled containerd.io/gc.root)' })
        .option('label', { type: 'string', description: 'Label for the stored diff, key=value (repeatable)' }),
    ),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { diffSnapshots } = await import('../../src/snapshots/diff.js');
    const { snapshotterOf } = await import('./_flags.js');
    const { invalidArgument } = await import('../../src/errdefs.js');
    const { Readable } = await import('node:stream');
    const { pipeline } = await import('node:stream/promises');
    const labels: Record<string, string> = {};
    for (const l of ([] as string[]).concat(argv.label ?? [])) {
      const i = String(l).indexOf('=');
      if (i <= 0) throw invalidArgument('labels are key=value', { subject: `--label ${JSON.stringify(l)}` });
      labels[String(l).slice(0, i)] = String(l).slice(i + 1);
    }
    const ctx = await contextFrom(argv);
    const d = diffSnapshots(ctx, await snapshotterOf(argv, ctx), String(argv.idA), argv.idB === undefined ? undefined : String(argv.idB), {
      mediaType: argv['media-type'],
      ...(argv.ref ? { ref: argv.ref } : {}),
      keep: argv.keep,
      labels,
    });
    await pipeline(Readable.from(d.stream), stdioStreams().stdout, { end: false });
  },
});
