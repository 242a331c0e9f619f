/**
 * ctr images inspect's tree (containerd 2.x pkg/display, line-drawing
 * format), with ctrx's addition of a "not present" mark on config and
 * layer lines whose blob is missing. Not a verb.
 */
import type { DescriptorNode, ImageTree } from '../../src/images/inspect.js';
import type { GoTime } from '../../src/metadata/encoding.js';

const F = { middle: '├── ', last: '└── ', skip: '│   ', spacer: '    ' };

/** Go's time.Time.String() for a UTC instant: "2006-01-02 15:04:05.999999999 +0000 UTC". */
export function goTimeString(t: GoTime | undefined): string {
  if (!t) return '0001-01-01 00:00:00 +0000 UTC';
  const d = new Date(Number(t.sec) * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  let s = `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  if (t.nsec > 0) s += '.' + String(t.nsec).padStart(9, '0').replace(/0+$/, '');
  return s + ' +0000 UTC';
}

/** Go's json.Indent(dst, src, prefix, indent): token-level, literals kept as written, empty {} and [] compact. */
export function goJsonIndent(src: string, prefix: string, indent: string): string {
  let out = '';
  let depth = 0;
  let inString = false;
  let needIndent = false;
  const newline = () => {
    out += '\n' + prefix + indent.repeat(depth);
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += src[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== ']' && c !== '}') {
      needIndent = false;
      depth++;
      newline();
    }
    if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '{' || c === '[') {
      out += c;
      needIndent = true;
    } else if (c === ',') {
      out += c;
      newline();
    } else if (c === ':') {
      out += ': ';
    } else if (c === '}' || c === ']') {
      if (needIndent) needIndent = false;
      else {
        depth--;
        newline();
      }
      out += c;
    } else out += c;
  }
  return out;
}

const line = (n: { mediaType: string; digest: string; size: number }) => `${n.mediaType} @${n.digest} (${n.size} bytes)`;
const q = (s: string) => JSON.stringify(s);

function showContent(out: string[], n: DescriptorNode, prefix: string, verbose: boolean): void {
  if (!verbose) return;
  const labels = Object.keys(n.labels ?? {}).sort();
  if (labels.length) {
    out.push(`${prefix}┌────────Labels─────────`);
    for (const k of labels) out.push(`${prefix}│${q(k)}: ${q(n.labels![k]!)}`);
    out.push(`${prefix}└───────────────────────`);
  }
  if (n.content !== undefined && n.mediaType.endsWith('json')) {
    out.push(`${prefix}┌────────Content────────`);
    out.push(`${prefix}│${goJsonIndent(n.content, prefix + '│', '   ').trim()}`);
    out.push(`${prefix}└───────────────────────`);
  }
}

function manifestTree(out: string[], n: DescriptorNode, prefix: string, childprefix: string, verbose: boolean): void {
  let subprefix = childprefix + F.middle;
  let subchild = childprefix + F.skip;
  out.push(prefix + line(n));
  if (n.platform) out.push(`${subchild} Platform: ${n.platform}`);
  if (!n.present) {
    out.push(`${childprefix}${F.last} Content does not exist locally, skipping`);
    return;
  }
  if (n.error) {
    out.push(`${childprefix}${F.last} Content cannot be read: ${n.error}`);
    return;
  }
  showContent(out, n, subchild, verbose);
  if (n.role === 'manifest') {
    const [config, ...layers] = n.children;
    if (layers.length === 0) {
      subprefix = childprefix + F.last;
      subchild = childprefix + F.spacer;
    }
    if (config) {
      out.push(subprefix + line(config) + (config.present ? '' : ' (not present)'));
      showContent(out, config, subchild, verbose);
    }
    layers.forEach((l, i) => {
      if (i === layers.length - 1) subprefix = childprefix + F.last;
      out.push(subprefix + line(l) + (l.present ? '' : ' (not present)'));
    });
  } else if (n.role === 'index') {
    n.children.forEach((m, i) => {
      if (i === n.children.length - 1) {
        subprefix = childprefix + F.last;
        subchild = childprefix + F.spacer;
      }
      manifestTree(out, m, subprefix, subchild, verbose);
    });
  }
}

export function renderTree(t: ImageTree, verbose: boolean): string {
  const out: string[] = [t.image.name];
  out.push(`${F.skip} Created: ${goTimeString(t.image.createdAt)}`);
  out.push(`${F.skip} Updated: ${goTimeString(t.image.updatedAt)}`);
  for (const k of Object.keys(t.image.labels).sort()) out.push(`${F.skip} Label ${q(k)}: ${q(t.image.labels[k]!)}`);
  manifestTree(out, t.target, F.last, F.spacer, verbose);
  return out.join('\n') + '\n';
}
