/**
 * Registry error responses as CtrxErrors: the status decides the category,
 * the body (at most `errorBodyBytes` read, the rest dropped unread) gives a
 * brief quote: the distribution `errors[].code: message` when it is JSON, a
 * hint when it is an HTML page, else a short cleaned excerpt. Everything is
 * redacted.
 */
import { CtrxError, failedPrecondition, invalidArgument, notFound, permissionDenied, unavailable } from '../../errdefs.js';
import type { HttpResponse } from './http.js';
import { isObject, parseJson } from './json.js';
import { quoteServerText } from './redact.js';
import { baseMediaType } from '../media-types.js';

/** A short description of an error body, or ''. */
export function describeErrorBody(body: Buffer, contentType: string | undefined): string {
  if (body.length === 0) return '';
  const ct = baseMediaType(contentType);
  const text = body.toString('utf8');
  if (ct === 'text/html' || /^\s*<(!doctype|html)/i.test(text)) return 'an HTML page (a proxy or login portal in the way?)';
  if (ct.includes('json') || /^\s*\{/.test(text)) {
    try {
      const doc = parseJson(text, 'error body');
      const errs = isObject(doc) && Array.isArray(doc.errors) ? doc.errors : [];
      const parts = errs.slice(0, 3).flatMap((e: unknown) => {
        if (!isObject(e)) return [];
        const code = typeof e.code === 'string' ? e.code : '';
        const msg = typeof e.message === 'string' ? e.message : '';
        return [[code, msg].filter(Boolean).join(': ')];
      });
      if (parts.length) return quoteServerText(parts.join('; '), 200);
      if (isObject(doc) && typeof doc.message === 'string') return quoteServerText(doc.message, 200);
    } catch {
      /* fall through to the excerpt (a truncated body is not valid JSON) */
    }
  }
  return quoteServerText(text, 120);
}

/** Reads (a bounded prefix of) the body and returns the error for this status. */
export async function errorFromResponse(res: HttpResponse, what: string, limit: number): Promise<CtrxError> {
  const body = await res.readPrefix(limit);
  return errorForStatus(res.status, describeErrorBody(body, res.header('content-type')), what, res.header('retry-after'));
}

export function errorForStatus(status: number, detail: string, what: string, retryAfter?: string): CtrxError {
  const msg = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  const o = { subject: what };
  switch (true) {
    case status === 400:
      return invalidArgument(`registry refused the request: ${msg}`, o);
    case status === 401:
      return permissionDenied(`authorization failed: ${msg}`, o);
    case status === 403:
      return permissionDenied(`access denied: ${msg}`, o);
    case status === 404:
      return notFound(`not found: ${msg}`, o);
    case status === 405:
      return failedPrecondition(`the registry does not allow this operation: ${msg}`, o);
    case status === 416:
      return unavailable(`range not satisfiable: ${msg}`, o);
    case status === 429:
      return unavailable(`rate limited by the registry: ${msg}`, { ...o, hint: retryAfter ? `the registry asks to wait (Retry-After: ${quoteServerText(retryAfter, 40)})` : 'try again later' });
    case status >= 500:
      return unavailable(`registry error: ${msg}`, o);
    default:
      return unavailable(`unexpected response: ${msg}`, o);
  }
}
