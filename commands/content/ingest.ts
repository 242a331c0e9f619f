import { stdioStreams } from '../../src/platform/index.js';
import { command } from '../_lib/define.js';

export const ingest = command<{ ref: string; 'expected-size': number; 'expected-digest'?: string }>({
  name: 'ingest',
  positional: '<ref>',
  describe: 'Read standard input into the content store under an ingest ref (as ctr: the blob record gets no labels, so GC removes it unless referenced)',
  options: (y) =>
    y
      .positional('ref', { type: 'string', describe: 'Ingest (transaction) reference' })
      .option('expected-size', { type: 'number', default: 0, description: 'Validate against this size' })
      .option('expected-digest', { type: 'string', description: 'Verify the content against this digest' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { ingest: ingestBlob } = await import('../../src/content/namespaced.js');
    await ingestBlob(await contextFrom(argv), String(argv.ref), stdioStreams().stdin as AsyncIterable<Uint8Array>, {
      expectedSize: argv['expected-size'],
      expectedDigest: argv['expected-digest'],
    });
  },
});
