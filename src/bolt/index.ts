/**
 * ctrx's bbolt-compatible storage engine. See types.ts for the interface.
 */
export type { Bytes, Key, OpenOptions, DB, Tx, Bucket, Cursor, Entry } from './types.js';
export { openDB } from './db.js';
export { MAX_KEY_SIZE, MAX_VALUE_SIZE } from './page.js';
export { inspect, type Inspection, type BucketInfo } from './check.js';
