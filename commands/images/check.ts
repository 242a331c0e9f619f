import { command } from '../_lib/define.js';
import { outputFlags } from '../_lib/output.js';
import { snapshotterFlag } from '../snapshots/_flags.js';

export const check = command<{ filters: string[]; quiet: boolean; format: string; snapshotter?: string }>({
  name: 'check',
  positional: '[filters..]',
  describe: 'Check that images have all their content locally and are unpacked (filters as ctr: name==REF, labels.KEY==VALUE)',
  options: (y) => snapshotterFlag(outputFlags(y.positional('filters', { type: 'string', array: true, describe: 'containerd filters' }))),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { checkImages } = await import('../../src/images/check.js');
    const { tabwriter, CTR_TABLE, goBytes, variadic } = await import('../content/_ctrfmt.js');
    const { snapshotterOf } = await import('../snapshots/_flags.js');
    const { stdout, stderr } = await import('../../src/platform/index.js');
    const { invalidArgument, CtrxError } = await import('../../src/errdefs.js');
    const ctx = await contextFrom(argv);
    const sn = await snapshotterOf(argv, ctx);
    const results = checkImages(ctx, variadic(argv, 'filters'), sn);
    const sum = (ds: Array<{ size: number }>) => ds.reduce((n, d) => n + d.size, 0);
    const view = results.map((r) => {
      let status: string = r.status;
      let size = '-';
      if (r.status !== 'error') {
        if (r.available) {
          status = `${r.status} (${r.present.length}/${r.required.length})`;
          size = `${goBytes(sum(r.present))}/${goBytes(sum(r.required))}`;
        } else {
          status = `unavailable (${r.present.length}/?)`;
          size = `${goBytes(sum(r.present))}/?`;
        }
      }
      return { r, status, size, complete: r.status === 'complete' && r.available };
    });
    const format = argv.format ?? 'table';
    if (argv.quiet && format !== 'table') throw invalidArgument('--quiet and --format are mutually exclusive', { subject: 'flags' });
    if (argv.quiet) {
      // ctr -q: the complete images (all content present), whatever their unpack state
      stdout.write(view.filter((v) => v.complete).map((v) => v.r.image.name + '\n').join(''));
    } else if (format === 'json') {
      stdout.write(
        JSON.stringify(
          view.map(({ r }) => ({
            name: r.image.name,
            mediaType: r.image.target.mediaType,
            digest: r.image.target.digest,
            status: r.status,
            available: r.available,
            required: r.required.length,
            present: r.present.length,
            requiredSize: sum(r.required),
            presentSize: sum(r.present),
            missing: r.missing.map((d) => d.digest),
            unpacked: r.unpacked,
            ...(r.error ? { error: r.error.message } : {}),
            ...(r.unpackError ? { unpackError: r.unpackError.message } : {}),
          })),
          null,
          2,
        ) + '\n',
      );
    } else if (format === 'table') {
      // ctr's header ends in a tab, its rows do not
      const text = 'REF\tTYPE\tDIGEST\tSTATUS\tSIZE\tUNPACKED\t\n' + view.map((v) => [v.r.image.name, v.r.image.target.mediaType, v.r.image.target.digest, v.status, v.size, String(v.r.unpacked)].join('\t') + '\n').join('');
      if (results.length) stdout.write(tabwriter(text, CTR_TABLE));
    } else throw invalidArgument(`unknown format ${JSON.stringify(format)} (table or json)`, { subject: '--format' });
    // ctr reports every failure, prints the table anyway and exits non-zero for the first one
    const failures = results.flatMap((r) => [
      ...(r.error ? [{ err: r.error, what: `unable to check ${r.image.name}` }] : []),
      ...(r.unpackError ? [{ err: r.unpackError, what: `unable to check unpack for ${r.image.name}` }] : []),
    ]);
    for (const f of failures.slice(1)) stderr.write(`ctrx: ${f.what}: ${f.err.subject ? f.err.subject + ': ' : ''}${f.err.message}\n`);
    const first = failures[0];
    if (first) throw new CtrxError(first.err.category, `${first.what}: ${first.err.message}`, { subject: first.err.subject });
  },
});
