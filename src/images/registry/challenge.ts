/**
 * WWW-Authenticate parsing (RFC 7235): one or more challenges, each a
 * scheme followed by comma-separated `name=value` parameters (token or
 * quoted-string with backslash escapes) or a token68. Several headers joined
 * with ", " parse the same as one. Unparseable input yields what could be
 * read, never an exception; absurdly long headers are ignored.
 */

export interface Challenge {
  /** Lower-cased scheme: 'bearer', 'basic', … */
  scheme: string;
  /** Lower-cased parameter names; values unescaped. */
  params: Map<string, string>;
}

const MAX_HEADER = 16 << 10;
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header || header.length > MAX_HEADER) return [];
  const s = header;
  let i = 0;
  const out: Challenge[] = [];
  const ws = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    const st = i;
    while (i < s.length && TCHAR.test(s[i]!)) i++;
    return s.slice(st, i);
  };
  const quoted = (): string | undefined => {
    if (s[i] !== '"') return undefined;
    i++;
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i];
      i++;
    }
    if (s[i] !== '"') return undefined;
    i++;
    return v;
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    ws();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const name = token();
    if (!name) {
      // skip a character we cannot read, to guarantee progress
      i++;
      continue;
    }
    ws();
    if (s[i] === '=' && current) {
      // a parameter of the current challenge (or a token68 ending in '=')
      i++;
      ws();
      let value: string | undefined;
      if (s[i] === '"') value = quoted();
      else {
        const t = token();
        value = t;
        // token68 padding: "abc==" → the name was the whole token68
        if (t === '' && (s[i] === '=' || i >= s.length || s[i] === ',')) {
          while (s[i] === '=') i++;
          continue;
        }
      }
      if (value === undefined) break;
      const key = name.toLowerCase();
      if (!current.params.has(key)) current.params.set(key, value);
      continue;
    }
    // A new challenge: the token is its scheme.
    current = { scheme: name.toLowerCase(), params: new Map() };
    out.push(current);
    // A token68 may follow the scheme directly (e.g. "Negotiate abc=="): skip it.
    ws();
    const save = i;
    const t = token();
    ws();
    if (t && s[i] !== '=') {
      while (s[i] === '=') i++;
    } else {
      i = save;
    }
  }
  return out;
}
