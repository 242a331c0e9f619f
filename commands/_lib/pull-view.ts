/** The pull progress table (stderr, TTY only), shared by `images pull` and `run`'s auto-pull. */
import type { PullProgress } from '../../src/images/pull.js';
import { progressView, bar, rate, type ProgressView } from './progress.js';
import { humanSize } from './output.js';

export async function pullProgress(enabled: boolean): Promise<{ onProgress: (p: PullProgress) => void; view: ProgressView; started: number }> {
  const started = Date.now();
  const view = await progressView(enabled);
  const blobs = new Map<string, { ref: string; offset: number; total: number; status: string }>();
  let unpacking = '';
  const onProgress = (p: PullProgress) => {
    if (p.kind === 'blob') blobs.set(p.digest, { ref: p.ref, offset: p.offset, total: p.total, status: p.status });
    else if (p.kind === 'unpack') unpacking = `unpacking layer ${p.layer + 1}/${p.layers} ${p.chainId.slice(0, 19)}… ${p.status}`;
    const elapsed = Date.now() - started;
    const done = [...blobs.values()].reduce((n, b) => n + b.offset, 0);
    const lines = [...blobs.values()].map((b) => `${b.ref.slice(0, 32).padEnd(33)} ${b.status.padEnd(11)} ${bar(b.offset, b.total)} ${humanSize(b.offset)}/${humanSize(b.total)}`);
    lines.push(`elapsed: ${(elapsed / 1000).toFixed(1)} s  total: ${humanSize(done)}  (${rate(done, elapsed)})`);
    if (unpacking) lines.push(unpacking);
    view.update(lines);
  };
  return { onProgress, view, started };
}
