/**
 * JSON from registries, parsed defensively: UTF-8 only (a BOM is refused, as
 * Go's decoder refuses it), nesting limited before parsing (a linear scan,
 * so 100 000 nested brackets cost nothing), duplicate keys resolved as Go
 * does (last wins), and every object given a null prototype so keys like
 * `__proto__` or `constructor` stay plain data.
 */
import { invalidArgument } from '../../errdefs.js';

export const MAX_JSON_DEPTH = 64;

/** The deepest bracket nesting in a JSON text, ignoring brackets inside strings. Stops counting past `limit`. */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function nullProto(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(value)) o[k] = (value as Record<string, unknown>)[k];
    return o;
  }
  return value;
}

/** Parses JSON bytes; throws invalid-argument naming `what` (never quoting the whole text). */
export function parseJson(data: Uint8Array | string, what: string, subject?: string): unknown {
  let text: string;
  if (typeof data === 'string') text = data;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
    } catch {
      throw invalidArgument(`${what} is not valid UTF-8`, { subject });
    }
  }
  if (text.charCodeAt(0) === 0xfeff) throw invalidArgument(`${what} starts with a byte order mark`, { subject });
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) throw invalidArgument(`${what} is nested more than ${MAX_JSON_DEPTH} levels deep`, { subject });
  try {
    return JSON.parse(text, nullProto);
  } catch (e) {
    const msg = e instanceof SyntaxError ? e.message.replace(/"[^"]{40,}"/g, '"…"').slice(0, 120) : 'parse error';
    throw invalidArgument(`${what} is not valid JSON (${msg})`, { subject });
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
