/**
 * Progress on stderr: an ora spinner whose text is a small table of the
 * blobs in flight (like ctr's pull table), only when stderr is a TTY and the
 * output is not quiet or JSON. ora is imported lazily, so commands that
 * never show progress never load it.
 */
import { stderr, stdioStreams } from '../../src/platform/index.js';
import { humanSize } from './output.js';

export interface ProgressView {
  update(lines: string[]): void;
  stop(finalLine?: string): void;
}

export async function progressView(enabled: boolean): Promise<ProgressView> {
  if (!enabled || !stderr.isTTY()) return { update: () => {}, stop: () => {} };
  const { default: ora } = await import('ora');
  const spinner = ora({ stream: stdioStreams().stderr, text: '' }).start();
  return {
    update: (lines) => {
      spinner.text = lines.join('\n');
    },
    stop: (finalLine) => {
      spinner.stop();
      if (finalLine) stderr.write(finalLine + '\n');
    },
  };
}

export function bar(done: number, total: number, width = 24): string {
  const f = total > 0 ? Math.min(1, done / total) : 0;
  const n = Math.round(f * width);
  return `|${'+'.repeat(n)}${'-'.repeat(width - n)}|`;
}

export function rate(bytes: number, ms: number): string {
  return ms > 0 ? `${humanSize((bytes * 1000) / ms)}/s` : '-';
}
