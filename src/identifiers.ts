import { invalidArgument } from './errdefs.js';

/** containerd's identifier rule: alphanumerics separated by single '.', '_' or '-'; at most 76 chars. */
const ID_PATTERN = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
export const MAX_ID_LENGTH = 76;
/** containerd limits len(key)+len(value) of each label to 4096 bytes. */
export const MAX_LABEL_SIZE = 4096;

export function validateId(id: string, what = 'identifier'): string {
  if (id.length === 0) throw invalidArgument(`${what} must not be empty`);
  if (id.length > MAX_ID_LENGTH) throw invalidArgument(`${what} ${JSON.stringify(id.slice(0, 20) + '…')} is longer than ${MAX_ID_LENGTH} characters`);
  if (!ID_PATTERN.test(id)) throw invalidArgument(`${what} ${JSON.stringify(id)} must match ${ID_PATTERN.source}`);
  return id;
}

export function validateLabel(key: string, value: string): void {
  if (key.length === 0) throw invalidArgument('label key must not be empty');
  const size = Buffer.byteLength(key) + Buffer.byteLength(value);
  if (size > MAX_LABEL_SIZE) throw invalidArgument(`label ${JSON.stringify(key.slice(0, 40))}: key and value are ${size} bytes, more than ${MAX_LABEL_SIZE}`);
}
