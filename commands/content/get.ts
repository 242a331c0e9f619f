import { stdioStreams } from '../../src/platform/index.js';
import { command } from '../_lib/define.js';

export const get = command<{ digest: string }>({
  name: 'get',
  positional: '<digest>',
  describe: "Write a blob to standard output (the namespace must have it; the bytes are checked against the digest, a mismatch fails at the end)",
  complete: 'content',
  options: (y) => y.positional('digest', { type: 'string', describe: 'Blob digest (sha256:…)' }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { readBlobStream } = await import('../../src/content/namespaced.js');
    const { pipeline } = await import('node:stream/promises');
    const { stream } = readBlobStream(await contextFrom(argv), String(argv.digest));
    await pipeline(stream, stdioStreams().stdout, { end: false });
  },
});
