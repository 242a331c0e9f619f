/**
 * Go's archive/tar (the reader containerd uses) as an oracle for ctrx's tar
 * reading. A corpus of valid tars in every format (ustar, PAX, GNU, STAR,
 * V7; long names, links, devices, base-256 numbers, legacy directories,
 * trailing data) and seeded mutations of them (truncations, header bytes
 * changed with and without a fixed checksum, zero blocks, garbage) is read by
 * a small Go program and by readTar. Whenever ctrx accepts an archive, Go
 * must accept it and see the same entries: names, link names, types, data,
 * modes, owners, mtimes, device numbers, xattrs. ctrx may refuse more (it
 * refuses what tar-stream and Go would read differently).
 *
 * The Go program is built once into os.tmpdir() (GOCACHE there too); without
 * `go` the test is skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { Digester } from '../../../src/digest.js';
import { readTar } from '../../../src/archive/tar.js';
import { CtrxError } from '../../../src/errdefs.js';
import { cleanupTempDirs, makeTempDir } from '../../helpers/tmp.js';
import { END, base256, packTar, paxEntry, rawEntry, rawHeader, tarBytes, type PackEntry } from './util.js';

const GO_SOURCE = `package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

type entry struct {
	Name     string            \`json:"name"\`
	Linkname string            \`json:"linkname"\`
	Type     string            \`json:"type"\`
	Data     string            \`json:"data"\`
	Len      int               \`json:"len"\`
	Mode     string            \`json:"mode"\`
	Uid      string            \`json:"uid"\`
	Gid      string            \`json:"gid"\`
	Mtime    string            \`json:"mtime"\`
	Dev      string            \`json:"dev"\`
	Xattrs   map[string]string \`json:"xattrs"\`
}

type result struct {
	Entries []entry \`json:"entries"\`
	Error   string  \`json:"error,omitempty"\`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	in := bufio.NewReader(f)
	out := json.NewEncoder(os.Stdout)
	for {
		var n uint32
		if err := binary.Read(in, binary.BigEndian, &n); err != nil {
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(in, buf); err != nil {
			return
		}
		tr := tar.NewReader(bytes.NewReader(buf))
		r := result{Entries: []entry{}}
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Error = err.Error()
				break
			}
			if h.Typeflag == tar.TypeXGlobalHeader {
				continue
			}
			d, err := io.ReadAll(tr)
			if err != nil {
				r.Error = err.Error()
				break
			}
			sum := sha256.Sum256(d)
			x := map[string]string{}
			for k, v := range h.PAXRecords {
				if strings.HasPrefix(k, "SCHILY.xattr.") {
					x[k[len("SCHILY.xattr."):]] = b64(v)
				}
			}
			r.Entries = append(r.Entries, entry{
				Name: b64(h.Name), Linkname: b64(h.Linkname), Type: string([]byte{h.Typeflag}),
				Data: hex.EncodeToString(sum[:]), Len: len(d), Mode: fmt.Sprint(h.Mode),
				Uid: fmt.Sprint(h.Uid), Gid: fmt.Sprint(h.Gid),
				Mtime: fmt.Sprintf("%d.%09d", h.ModTime.Unix(), h.ModTime.Nanosecond()),
				Dev: fmt.Sprintf("%d:%d", h.Devmajor, h.Devminor), Xattrs: x,
			})
		}
		out.Encode(r)
	}
}
`;

interface Entry {
  name: string;
  linkname: string;
  type: string;
  data: string;
  len: number;
  mode: string;
  uid: string;
  gid: string;
  mtime: string;
  dev: string;
  xattrs: Record<string, string>;
}
interface Result {
  entries: Entry[];
  error?: string;
}

function goBinary(): string | undefined {
  if (spawnSync('go', ['version']).status !== 0) return undefined;
  const hash = createHash('sha256').update(GO_SOURCE).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'ctrx-go-oracle');
  const bin = join(dir, `tar-oracle-${hash}`);
  if (existsSync(bin)) return bin;
  const src = join(dir, `src-${process.pid}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'main.go'), GO_SOURCE);
  const tmpBin = `${bin}.${process.pid}`;
  const r = spawnSync('go', ['build', '-o', tmpBin, 'main.go'], {
    cwd: src,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, GOCACHE: join(dir, 'gocache'), GOPATH: join(dir, 'gopath'), GO111MODULE: 'off', GOFLAGS: '' },
  });
  if (r.status !== 0) throw new Error(`go build failed: ${r.stderr}`);
  renameSync(tmpBin, bin);
  return bin;
}

/** Runs the oracle over a file of length-prefixed tars (a file, not stdin: Deno's spawnSync would deadlock on a large input). */
function runGo(bin: string, tars: Buffer[]): Result[] {
  const frames = tars.map((t) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(t.length);
    return Buffer.concat([len, t]);
  });
  const input = join(makeTempDir('ctrx-oracle-'), 'tars');
  writeFileSync(input, Buffer.concat(frames));
  const r = spawnSync(bin, [input], { maxBuffer: 1 << 28, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr?.toString());
  return r.stdout.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Result);
}

function mtimeText(ns: bigint): string {
  let s = ns / 1_000_000_000n;
  let n = ns % 1_000_000_000n;
  if (n < 0n) {
    n += 1_000_000_000n;
    s -= 1n;
  }
  return `${s}.${String(n).padStart(9, '0')}`;
}

async function runCtrx(tar: Buffer): Promise<Result> {
  const entries: Entry[] = [];
  try {
    for await (const e of readTar(Readable.from([tar]), new Digester())) {
      const h = createHash('sha256');
      let len = 0;
      for await (const c of e.body) {
        h.update(c);
        len += c.length;
      }
      const xattrs: Record<string, string> = {};
      for (const [k, v] of e.pax) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice(13)] = v.toString('base64');
      entries.push({
        name: e.name.toString('base64'),
        linkname: e.linkname.toString('base64'),
        type: e.typeflag,
        data: h.digest('hex'),
        len,
        mode: String(e.mode),
        uid: String(e.uid),
        gid: String(e.gid),
        mtime: mtimeText(e.mtimeNs),
        dev: `${e.devmajor}:${e.devminor}`,
        xattrs,
      });
    }
    return { entries };
  } catch (err) {
    if (!(err instanceof CtrxError)) throw err;
    return { entries, error: err.message };
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Valid tars, one per format feature. */
async function baseCorpus(): Promise<Buffer[]> {
  const entries: PackEntry[] = [
    { name: 'dir', type: 'directory', mode: 0o755 },
    { name: 'dir/file', type: 'file', data: 'hello', mode: 0o644, uid: 1000, gid: 50 },
    { name: 'dir/' + 'long'.repeat(40), type: 'file', data: 'long', mode: 0o600 },
    { name: 'lnk', type: 'symlink', linkname: '/' + 'target'.repeat(30) },
    { name: 'hard', type: 'link', linkname: 'dir/file' },
    { name: 'dev', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'pipe', type: 'fifo', mode: 0o600 },
    { name: 'x', type: 'file', data: 'x', pax: { 'SCHILY.xattr.user.a': 'b', comment: 'c' } },
  ];
  const gnu = (name: string, type: string, data: string) => rawEntry({ name: '././@LongLink', typeflag: type, format: 'gnu' }, data + '\0');
  return [
    await packTar(entries),
    tarBytes(paxEntry([['path', 'pax/path'], ['linkpath', 'target'], ['uid', '3000000'], ['gid', '7'], ['mtime', '1700000000.5'], ['SCHILY.xattr.user.bin', Buffer.from([0, 255])]]), rawEntry({ name: 'short', typeflag: '2', linkname: 't' })),
    tarBytes(gnu('', 'L', 'gnu/long/' + 'n'.repeat(120)), gnu('', 'K', 'gnu/link'), rawEntry({ name: 'g', typeflag: '1', linkname: 'l', format: 'gnu' }), rawEntry({ name: 'plain', format: 'gnu' }, 'data')),
    tarBytes(rawEntry({ name: 'v7file', format: 'v7' }, 'v7'), rawEntry({ name: 'v7dir/', typeflag: '\0', format: 'v7' })),
    tarBytes(rawEntry({ name: 'b256', size: base256(5n, 12), uid: base256(70000n, 8), mtime: base256(-5n, 12) }, 'abcde')),
    tarBytes(rawEntry({ name: 'legacy/', typeflag: '\0' }), rawEntry({ name: 'legacy0/', typeflag: '0' })),
    tarBytes(paxEntry([['path', '']]), rawEntry({ name: 'empty-pax-keeps-name' }, 'x')),
    Buffer.concat([rawEntry({ name: 'a' }, 'abc'), END, Buffer.from('trailing garbage')]),
    Buffer.concat([rawEntry({ name: 'no-end-marker' }, 'x')]),
    tarBytes(paxEntry([['path', 'global']], 'g'), rawEntry({ name: 'after-global' }, 'y')),
    (() => {
      // STAR: ustar magic plus "tar\0" trailer; a 131-byte prefix and atime/ctime
      const h = rawHeader({ name: 'starfile', size: 2 });
      h.write('starprefix', 345, 'latin1');
      h.write('tar\0', 508, 'latin1');
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const c of h) sum += c;
      h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
      return tarBytes(h, Buffer.concat([Buffer.from('st'), Buffer.alloc(510)]));
    })(),
  ];
}

const INTERESTING = [0, 0x20, 0x30, 0x31, 0x37, 0x38, 0x2f, 0x2e, 0x78, 0x4c, 0x4b, 0x67, 0x35, 0x80, 0xff, 0x0a, 0x3d];

function fixChecksum(t: Buffer, at: number): void {
  const h = t.subarray(at, at + 512);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
}

function mutate(base: Buffer, r: () => number): Buffer {
  const t = Buffer.from(base);
  const blocks = Math.max(1, Math.floor(t.length / 512));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  switch (Math.floor(r() * 6)) {
    case 0:
      return t.subarray(0, Math.floor(r() * t.length));
    case 1:
    case 2: {
      const at = Math.floor(r() * blocks) * 512;
      const n = 1 + Math.floor(r() * 3);
      for (let i = 0; i < n; i++) {
        const pos = at + pick([156, 124, 130, 135, 100, 0, 1, 99, 157, 345, 257, 263, 329, 337, 108, 136, Math.floor(r() * 512)]);
        if (pos < t.length) t[pos] = r() < 0.7 ? pick(INTERESTING) : Math.floor(r() * 256);
      }
      if (r() < 0.8 && at + 512 <= t.length) fixChecksum(t, at);
      return t;
    }
    case 3: {
      const at = Math.floor(r() * blocks) * 512;
      return Buffer.concat([t.subarray(0, at), Buffer.alloc(512), t.subarray(at)]);
    }
    case 4:
      return Buffer.concat([t, r() < 0.5 ? Buffer.alloc(Math.floor(r() * 1500)) : Buffer.from('garbage'.repeat(Math.floor(r() * 100)))]);
    default: {
      // change a PAX record's bytes inside a data block
      const at = Math.floor(r() * t.length);
      t[at] = pick(INTERESTING);
      return t;
    }
  }
}

after(() => cleanupTempDirs());

const SEED = Number(process.env.CTRX_ORACLE_SEED ?? 4242);
const MUTANTS = Number(process.env.CTRX_ORACLE_MUTANTS ?? 60);

describe('tar reading against Go archive/tar', () => {
  const bin = (() => {
    try {
      return goBinary();
    } catch (e) {
      return `error: ${(e as Error).message}`;
    }
  })();
  test('every archive ctrx accepts, Go reads identically', { skip: bin === undefined ? 'go is not installed' : false }, async (t) => {
    assert.ok(bin && !bin.startsWith('error:'), bin);
    const bases = await baseCorpus();
    const r = mulberry32(SEED);
    const corpus: { tar: Buffer; origin: string }[] = bases.map((tar, i) => ({ tar, origin: `base ${i}` }));
    for (const [i, b] of bases.entries()) for (let m = 0; m < MUTANTS; m++) corpus.push({ tar: mutate(b, r), origin: `base ${i} mutant ${m} (seed ${SEED})` });
    const go = runGo(bin!, corpus.map((c) => c.tar));
    let same = 0;
    let stricter = 0;
    let bothRefuse = 0;
    const reasons = new Map<string, number>();
    for (const [i, c] of corpus.entries()) {
      const mine = await runCtrx(c.tar);
      const theirs = go[i]!;
      if (mine.error === undefined) {
        assert.equal(theirs.error, undefined, `${c.origin}: ctrx accepted, Go refused (${theirs.error}); tar ${c.tar.toString('base64').slice(0, 200)}…`);
        assert.deepEqual(mine.entries, theirs.entries, `${c.origin}: entries differ`);
        same++;
      } else if (theirs.error === undefined) {
        stricter++;
        const why = mine.error.replace(/\(at byte \d+\)|\d+/g, '').trim();
        reasons.set(why, (reasons.get(why) ?? 0) + 1);
      }
      else bothRefuse++;
      if (i < bases.length) assert.equal(mine.error, undefined, `${c.origin} is valid: ${mine.error}`);
    }
    t.diagnostic(`${corpus.length} archives: ${same} read identically, ${bothRefuse} refused by both, ${stricter} refused only by ctrx`);
    t.diagnostic(`refused only by ctrx: ${[...reasons].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}× ${k}`).join('; ')}`);
    assert.ok(same > bases.length && bothRefuse > 0);
  });
});
