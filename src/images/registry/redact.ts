/**
 * Keeps credentials out of messages. Every password, token and Basic/Bearer
 * header value the registry client handles is registered here, and every
 * message built from registry data (error bodies, URLs, debug lines) passes
 * through `redact` before it leaves the module. URLs are shown without user
 * info, query or fragment (pre-signed redirect URLs carry signatures).
 */

const secrets = new Set<string>();

/** Registers a secret and the encodings it may appear in. Short strings are ignored (they would redact ordinary words). */
export function addSecret(s: string | undefined): void {
  if (!s || s.length < 4) return;
  secrets.add(s);
  secrets.add(Buffer.from(s).toString('base64'));
  const enc = encodeURIComponent(s);
  if (enc !== s) secrets.add(enc);
}

/** Registers a Basic credential: the password, `user:password` and its base64. */
export function addCredential(username: string, secret: string): void {
  addSecret(secret);
  addSecret(`${username}:${secret}`);
}

export function redact(text: string): string {
  if (secrets.size === 0 || !text) return text;
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join('***');
  }
  return out;
}

/** A URL for messages: scheme, host and path only. */
export function safeUrl(u: URL | string): string {
  try {
    const url = typeof u === 'string' ? new URL(u) : u;
    return redact(`${url.protocol}//${url.host}${url.pathname}`);
  } catch {
    return '(invalid URL)';
  }
}

/** Server-provided text quoted in a message: control characters replaced, cut short, redacted. */
export function quoteServerText(text: string, max = 200): string {
  const clean = redact(text).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '?').replace(/\s+/g, ' ').trim();
  return clean.length > max ? clean.slice(0, max) + '…' : clean;
}
