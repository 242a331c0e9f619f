import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeAny, decodeTime, decodeUvarint, decodeVarint, encodeAny, encodeTime, encodeUvarint, encodeVarint,
  formatRFC3339Nano, parseRFC3339, utf8, OCI_SPEC_TYPE_URL,
} from '../../../src/metadata/encoding.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

test('zigzag varints match Go PutVarint (reference examples)', () => {
  assert.equal(hex(encodeVarint(430)), 'dc06');
  assert.equal(hex(encodeVarint(349)), 'ba05');
  assert.equal(hex(encodeVarint(1084289)), '82ae8401');
  assert.equal(hex(encodeVarint(3)), '06');
  assert.equal(hex(encodeVarint(-1)), '01');
  assert.equal(hex(encodeVarint(0)), '00');
  for (const n of [0n, 1n, -1n, 63n, -64n, 64n, 430n, 2n ** 53n, -(2n ** 63n), 2n ** 63n - 1n]) {
    assert.equal(decodeVarint(encodeVarint(n)).value, n, String(n));
  }
  // a plain uvarint reading of a zigzag value gives double
  assert.equal(decodeUvarint(encodeVarint(430)).value, 860n);
  assert.equal(encodeVarint(-(2n ** 63n)).length, 10);
});

test('uvarints match Go PutUvarint; truncated and overlong input is rejected', () => {
  assert.equal(hex(encodeUvarint(5)), '05');
  assert.equal(hex(encodeUvarint(300)), 'ac02');
  assert.equal(decodeUvarint(unhex('ffffffffffffffffff01')).value, 2n ** 64n - 1n);
  assert.throws(() => decodeUvarint(unhex('80')), /truncated/);
  assert.throws(() => decodeUvarint(unhex('ffffffffffffffffff02')), /overflow/);
  assert.throws(() => encodeUvarint(-1));
});

test('Go time v1: the reference example decodes to 2026-11-22T08:43:42.702253333Z and re-encodes byte for byte', () => {
  // The reference prints this as "01 00000000 0ee294a2 3e 29db8915 ffff", one zero byte too many
  // (16 bytes, which Go itself rejects); the 8-byte seconds field is 00 00 00 0e e2 94 a2 3e.
  const raw = unhex('01 0000000ee294a23e 29db8915 ffff');
  assert.equal(raw.length, 15);
  const t = decodeTime(raw);
  assert.equal(t.offsetMin, null);
  assert.equal(formatRFC3339Nano(t), '2026-11-22T08:43:42.702253333Z');
  assert.equal(hex(encodeTime(t)), hex(raw));
});

test('Go time: v2 and zone offsets are read; bad lengths and versions are rejected like Go', () => {
  const v1 = encodeTime({ sec: 0n, nsec: 0, offsetMin: 60 });
  assert.equal(formatRFC3339Nano(decodeTime(v1)), '1970-01-01T01:00:00+01:00');
  const v2 = new Uint8Array(16);
  v2.set(v1);
  v2[0] = 2;
  v2[15] = 30;
  assert.equal(decodeTime(v2).offsetSec, 30);
  assert.throws(() => decodeTime(v1.subarray(0, 14)), /invalid length/);
  assert.throws(() => decodeTime(new Uint8Array(16).fill(1)), /invalid length/);
  const bad = Uint8Array.from(v1);
  bad[0] = 3;
  assert.throws(() => decodeTime(bad), /unsupported version/);
  assert.throws(() => decodeTime(new Uint8Array(0)), /no data/);
});

test('RFC3339 parsing as Go time.Parse(RFC3339) for gc.expire', () => {
  assert.equal(parseRFC3339('2020-01-01T00:00:00Z'), Date.UTC(2020, 0, 1));
  assert.equal(parseRFC3339('2020-01-01T01:00:00+01:00'), Date.UTC(2020, 0, 1));
  assert.equal(parseRFC3339('2020-01-01T00:00:00.5Z'), Date.UTC(2020, 0, 1) + 500);
  assert.equal(parseRFC3339('tomorrow'), null);
  assert.equal(parseRFC3339('2020-13-01T00:00:00Z'), null);
});

test('protobuf Any: ctr\'s empty runc options and a spec round-trip; unknown fields are skipped', () => {
  const opts = encodeAny({ typeUrl: 'containerd.runc.v1.Options', value: new Uint8Array(0) });
  assert.equal(hex(opts), '0a1a' + Buffer.from('containerd.runc.v1.Options').toString('hex'));
  const spec = utf8('{"ociVersion":"1.0.2-dev"}'.padEnd(300, ' '));
  const enc = encodeAny({ typeUrl: OCI_SPEC_TYPE_URL, value: spec });
  const back = decodeAny(enc);
  assert.equal(back.typeUrl, OCI_SPEC_TYPE_URL);
  assert.deepEqual(Buffer.from(back.value), Buffer.from(spec));
  // value length 300 needs a two-byte length
  assert.equal(hex(enc.subarray(enc.length - 302 - 1, enc.length - 300)), '12ac02');
  const withUnknown = new Uint8Array([...enc, 0x18, 0x05, 0x25, 1, 2, 3, 4]);
  assert.equal(decodeAny(withUnknown).typeUrl, OCI_SPEC_TYPE_URL);
  assert.throws(() => decodeAny(unhex('0a05616263')), /truncated/);
  // binary_name "runc", systemd_cgroup true (the reference's example value)
  const decoded = decodeAny(unhex('0a1a' + Buffer.from('containerd.runc.v1.Options').toString('hex') + '1208' + '320472756e634801'));
  assert.deepEqual(Buffer.from(decoded.value).toString('hex'), '320472756e634801');
});
