/**
 * The one output contract for lists: a table with ctr's headers (tabwriter
 * style: columns padded to the widest cell plus the padding), `--format json`
 * (an array of view objects with stable field names), `-q` (ids, one a line).
 */
import type { Argv } from 'yargs';
import { stdout } from '../../src/platform/index.js';
import { invalidArgument } from '../../src/errdefs.js';

export interface OutputArgs {
  quiet?: boolean;
  format?: string;
}

export function outputFlags(y: Argv, formats: string[] = ['table', 'json']): Argv {
  return y
    .option('quiet', { alias: 'q', type: 'boolean', description: 'Print only the ids', default: false })
    .option('format', { type: 'string', description: `Output format (${formats.join('|')})`, default: 'table' });
}

export interface ListSpec<R> {
  headers: string[];
  row: (r: R) => string[];
  id: (r: R) => string;
  json?: (r: R) => unknown;
}

export function renderList<R>(args: OutputArgs, rows: R[], spec: ListSpec<R>): void {
  const format = args.format ?? 'table';
  if (args.quiet && format !== 'table') throw invalidArgument('--quiet and --format are mutually exclusive', { subject: 'flags' });
  if (args.quiet) {
    stdout.write(rows.map((r) => spec.id(r) + '\n').join(''));
    return;
  }
  if (format === 'json') {
    stdout.write(JSON.stringify(rows.map((r) => (spec.json ? spec.json(r) : r)), null, 2) + '\n');
    return;
  }
  if (format !== 'table') throw invalidArgument(`unknown format ${JSON.stringify(format)} (table or json)`, { subject: '--format' });
  stdout.write(formatTable(spec.headers, rows.map(spec.row)));
}

/** Like Go's tabwriter with minwidth 1, padding 1, padchar ' ': every cell padded to the column's width + 1. */
export function formatTable(headers: string[], rows: string[][], padding = 1): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + padding))).join('').trimEnd() + '\n')
    .join('');
}

export function printJSON(value: unknown): void {
  stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function print(line: string): void {
  stdout.write(line.endsWith('\n') ? line : line + '\n');
}

/** Labels as ctr prints them: k=v joined by ',' (sorted), '-' when none. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return '-';
  return keys.map((k) => `${k}=${labels![k]}`).join(',');
}

/** Sizes as ctr prints them (containerd's progress.Bytes: 1024-based, one decimal, "KiB"/"MiB"/...). */
export function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Ages as ctr prints them for content ls (go-units HumanDuration). */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}
