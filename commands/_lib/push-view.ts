/** The push progress table (stderr, TTY only), in the style of the pull table. */
import type { PushProgress } from '../../src/images/push.js';
import { progressView, bar, rate, type ProgressView } from './progress.js';
import { humanSize } from './output.js';

export async function pushProgress(enabled: boolean): Promise<{ onProgress: (p: PushProgress) => void; view: ProgressView; started: number }> {
  const started = Date.now();
  const view = await progressView(enabled);
  const rows = new Map<string, { ref: string; offset: number; total: number; status: string }>();
  const onProgress = (p: PushProgress) => {
    if (p.kind === 'blob') rows.set(p.digest, { ref: p.ref, offset: p.offset, total: p.total, status: p.status });
    else rows.set(p.digest, { ref: p.ref, offset: 0, total: 0, status: p.status });
    const elapsed = Date.now() - started;
    const sent = [...rows.values()].filter((r) => r.status === 'uploading' || r.status === 'done').reduce((n, r) => n + r.offset, 0);
    const lines = [...rows.values()].map((r) =>
      r.total ? `${r.ref.slice(0, 32).padEnd(33)} ${r.status.padEnd(9)} ${bar(r.offset, r.total)} ${humanSize(r.offset)}/${humanSize(r.total)}` : `${r.ref.slice(0, 32).padEnd(33)} ${r.status}`,
    );
    lines.push(`elapsed: ${(elapsed / 1000).toFixed(1)} s  sent: ${humanSize(sent)}  (${rate(sent, elapsed)})`);
    view.update(lines);
  };
  return { onProgress, view, started };
}
