/** Progress for `images import` (stderr, TTY only) and writing an export to a file or stdout. */
import type { ImportProgress } from '../../src/images/archive/import.js';
import { progressView, bar, type ProgressView } from './progress.js';
import { humanSize } from './output.js';
import { selfPid, stdioStreams } from '../../src/platform/index.js';

export async function archiveProgress(enabled: boolean): Promise<{ onProgress: (p: ImportProgress) => void; view: ProgressView }> {
  const view = await progressView(enabled);
  const started = Date.now();
  let files = 0;
  let bytes = 0;
  let current = '';
  let unpacking = '';
  const onProgress = (p: ImportProgress) => {
    if (p.kind === 'file') {
      if (p.status !== 'reading') {
        files++;
        bytes += p.size;
        current = '';
      } else current = `${p.name.slice(0, 40).padEnd(41)} ${bar(p.offset, p.size)} ${humanSize(p.offset)}/${humanSize(p.size)}`;
    } else if (p.kind === 'unpack-image') unpacking = `unpacking ${p.name} (${p.digest.slice(0, 19)}…)`;
    else if (p.kind === 'unpack') unpacking = `unpacking layer ${p.layer + 1}/${p.layers} ${p.chainId.slice(0, 19)}… ${p.status}`;
    const lines = [`read ${files} files, ${humanSize(bytes)} in ${((Date.now() - started) / 1000).toFixed(1)} s`];
    if (current) lines.push(current);
    if (unpacking) lines.push(unpacking);
    view.update(lines);
  };
  return { onProgress, view };
}

/**
 * Writes a stream to `out` ('-' = stdout). A file is written under a
 * temporary name next to it and renamed when complete, so a failed export
 * never leaves a truncated archive under the requested name.
 */
export async function writeStreamTo(out: string, stream: AsyncIterable<Uint8Array>): Promise<void> {
  const { pipeline } = await import('node:stream/promises');
  const { Readable } = await import('node:stream');
  if (out === '-') {
    if (stdioStreams().stdout.isTTY) {
      const { failedPrecondition } = await import('../../src/errdefs.js');
      throw failedPrecondition('refusing to write an archive to a terminal: redirect standard output or name a file', { subject: 'images export -' });
    }
    await pipeline(Readable.from(stream), stdioStreams().stdout, { end: false });
    return;
  }
  const { createWriteStream, renameSync, rmSync } = await import('node:fs');
  const path = await import('node:path');
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.ctrx-${selfPid()}.tmp`);
  try {
    await pipeline(Readable.from(stream), createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
