/**
 * ctr's exact output mechanics, shared by the metadata groups: Go's
 * text/tabwriter (ctr's tables keep its trailing-tab padding, and `content
 * ls` pads with tabs), go-units sizes and durations, containerd's
 * progress.Bytes, Go's json.MarshalIndent (HTML-escaped). Not a verb.
 */
import { stdout } from '../../src/platform/index.js';
import { invalidArgument } from '../../src/errdefs.js';

export interface TabOpts {
  minwidth: number;
  tabwidth: number;
  padding: number;
  padchar: ' ' | '\t';
}

export const CTR_TABLE: TabOpts = { minwidth: 1, tabwidth: 8, padding: 1, padchar: ' ' };

const width = (s: string) => [...s].length;

/** Go text/tabwriter (flags 0) over text whose cells end in '\t' and lines in '\n'. */
export function tabwriter(text: string, o: TabOpts): string {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const cells = lines.map((l) => l.split('\t'));
  let out = '';
  const widths: number[] = [];
  const pad = (textw: number, cellw: number): string => {
    if (o.padchar === '\t') {
      const cw = Math.ceil(cellw / o.tabwidth) * o.tabwidth;
      return '\t'.repeat(Math.ceil((cw - textw) / o.tabwidth));
    }
    return ' '.repeat(cellw - textw);
  };
  formatGo(cells, o, widths, (s) => (out += s), pad);
  return out;
}

function formatGo(cells: string[][], o: TabOpts, widths: number[], write: (s: string) => void, pad: (a: number, b: number) => string): void {
  const writeLines = (l0: number, l1: number) => {
    for (let i = l0; i < l1; i++) {
      const line = cells[i]!;
      line.forEach((c, j) => {
        write(c);
        if (j < widths.length && j < line.length - 1) write(pad(width(c), widths[j]!));
      });
      write('\n');
    }
  };
  const format = (l0: number, l1: number): void => {
    const column = widths.length;
    let t = l0;
    while (t < l1) {
      if (column >= cells[t]!.length - 1) {
        t++;
        continue;
      }
      writeLines(l0, t);
      l0 = t;
      let w = o.minwidth;
      for (; t < l1; t++) {
        const line = cells[t]!;
        if (column >= line.length - 1) break;
        w = Math.max(w, width(line[column]!) + o.padding);
      }
      widths.push(w);
      format(l0, t);
      widths.pop();
      l0 = t;
    }
    writeLines(l0, l1);
  };
  format(0, cells.length);
}

/** A ctr-style table: header and rows joined with tabs, each line ending in `end` ('\t' when ctr's format string ends in "\t\n"). */
export function ctrTable(headers: string[], rows: string[][], o: TabOpts = CTR_TABLE, end = '\t'): string {
  const text = [headers, ...rows].map((r) => r.join('\t') + end + '\n').join('');
  return tabwriter(text, o);
}

export interface ListArgs {
  quiet?: boolean;
  format?: string;
}

/** -q ids, --format json (view objects), or ctr's exact table. */
export function renderCtr<R>(argv: ListArgs, rows: R[], spec: { headers: string[]; row: (r: R) => string[]; id: (r: R) => string; json: (r: R) => unknown; tab?: TabOpts; end?: string }): void {
  const format = argv.format ?? 'table';
  if (argv.quiet && format !== 'table') throw invalidArgument('--quiet and --format are mutually exclusive', { subject: 'flags' });
  if (argv.quiet) return stdout.write(rows.map((r) => spec.id(r) + '\n').join(''));
  if (format === 'json') return stdout.write(JSON.stringify(rows.map(spec.json), null, 2) + '\n');
  if (format !== 'table') throw invalidArgument(`unknown format ${JSON.stringify(format)} (table or json)`, { subject: '--format' });
  stdout.write(ctrTable(spec.headers, rows.map(spec.row), spec.tab, spec.end));
}

/** strconv 'f' with 1 decimal: exact binary ties round half to even, as Go does. */
function fixed1(v: number): string {
  const x = v * 100;
  if (Number.isInteger(x) && Math.abs(x) % 10 === 5) {
    const down = Math.floor(v * 10);
    return ((down % 2 === 0 ? down : down + 1) / 10).toFixed(1);
  }
  return v.toFixed(1);
}

/** containerd progress.Bytes: "%02.1f %s" over 1024-based units. */
export function goBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${fixed1(v).padStart(2, '0')} ${units[i]}`;
}

/** go-units HumanSize: "%.4g%s" over 1000-based units. */
export function goHumanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** go-units HumanDuration (truncating, as Go's int conversions do). */
export function goHumanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(hours / 24 / 365)} years`;
}

/** Labels the way ctr's list commands print them: sorted k=v joined by ','. */
export function ctrLabels(labels: Record<string, string>, empty = '-'): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort();
  return pairs.length ? pairs.join(',') : empty;
}

/** Go's json.MarshalIndent(v, "", indent) with encoding/json's HTML escaping. */
export function goJSON(v: unknown, indent = '    '): string {
  return JSON.stringify(v, null, indent).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** time.Time.Local().Format(time.RFC3339) for a millisecond instant. */
export function localRFC3339(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${p(Math.trunc(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}

/** The snapshotter a command uses: --snapshotter, $CONTAINERD_SNAPSHOTTER, then the config's default. */
export async function pickSnapshotter(flag: string | undefined, configDefault: string): Promise<string> {
  const { env } = await import('../../src/platform/index.js');
  return flag || env('CONTAINERD_SNAPSHOTTER') || configDefault;
}

/**
 * A trailing variadic positional (`<name> [labels..]`): the CLI may have put
 * its words after an inserted `--` (commands/_lib/argv.ts does so for verbs
 * whose last positional is `[x..]`), so read both places.
 */
export function variadic(argv: object, name: string): string[] {
  const a = argv as Record<string, unknown>;
  const own = (a[name] as unknown[] | undefined) ?? [];
  const rest = (a['--'] as unknown[] | undefined) ?? [];
  return [...own, ...rest].map(String);
}
