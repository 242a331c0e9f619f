// Pull + unpack from a loopback registry: `ctrx images pull` against
// `ctr images pull` on a warm containerd 1.6 (its own private root), in the
// same run, interleaved. Root only (containerd, mounts, debootstrap).
//   npm run build && node dist/bench/pull.js [runs] [busybox|debian ...] [--deno]
// Images: (a) the one-layer busybox test fixture; (b) Debian bookworm
// minbase (debootstrap from the apt mirror) plus a layer that installs gcc
// with apt-get, ~130 MB compressed, built once and cached under
// os.tmpdir()/ctrx-bench-cache. Per tool and image: median/min/max wall time,
// peak RSS (ctrx: the process; ctr: the client, and containerd's peak RSS
// growth during the pull), and ctrx's own phase timings (--debug).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startContainerd, type Containerd } from '../test/helpers/containerd.js';
import { buildFixture, PATH_ENV } from '../test/helpers/fixtures.js';
import { assembleImage, readOciLayout, writeOciLayout, type Image } from '../test/helpers/oci.js';
import { pushImage, startRegistry, type Registry } from '../test/helpers/registry.js';
import { run } from '../test/helpers/run.js';
import { cleanupTempDirs } from '../test/helpers/tmp.js';
import { getXattr } from '../test/helpers/xattr.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// A private copy of the bundle (inside the project, so node_modules resolves): a rebuild during the run cannot pull it away.
const cliCopy = mkdtempSync(path.join(projectRoot, 'dist', 'bench-cli-'));
cpSync(path.join(projectRoot, 'dist', 'cli'), cliCopy, { recursive: true });
const ctrxJs = path.join(cliCopy, 'ctrx.js');
const deno = path.join(projectRoot, 'node_modules', '.bin', 'deno');
const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);
const useDeno = args.includes('--deno');
const only = args.filter((a) => a === 'busybox' || a === 'debian');
const CACHE = path.join(os.tmpdir(), 'ctrx-bench-cache');
const PACKAGE = 'gcc';

function sh(cmd: string, argv: string[], opts: { input?: string } = {}): string {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout || String(r.error)).slice(-2000)}`);
  return r.stdout;
}

/** A deterministic-enough GNU tar of a directory's contents (numeric owners, sorted names). */
function tarDir(dir: string, out: string): Buffer {
  sh('tar', ['--numeric-owner', '--sort=name', '--format=gnu', '-C', dir, '-cf', out, '.']);
  return readFileSync(out);
}

/** Turns an overlay upper dir into an OCI layer dir: 0/0 char devices become .wh. files, opaque dirs get .wh..wh..opq. */
function overlayToOci(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = lstatSync(p);
    if (st.isCharacterDevice() && st.rdev === 0) {
      rmSync(p);
      writeFileSync(path.join(dir, `.wh.${name}`), '');
    } else if (st.isDirectory()) {
      if (getXattr(p, 'trusted.overlay.opaque')?.toString() === 'y') writeFileSync(path.join(p, '.wh..wh..opq'), '');
      overlayToOci(p);
    }
  }
}

/** debootstrap minbase + a layer that apt-get installs PACKAGE, cached as an OCI layout. */
function debianImage(): Image {
  const layout = path.join(CACHE, `debian-bookworm-minbase-${PACKAGE}-v1`);
  if (existsSync(path.join(layout, 'index.json'))) return readOciLayout(layout);
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(path.join(CACHE, '.build-'));
  const rootfs = path.join(work, 'rootfs');
  const merged = path.join(work, 'merged');
  const upper = path.join(work, 'upper');
  const mounted: string[] = [];
  try {
    console.error('building the Debian image: debootstrap --variant=minbase bookworm (about 30 s)…');
    sh('debootstrap', ['--variant=minbase', 'bookworm', rootfs, 'http://deb.debian.org/debian']);
    // the .debs debootstrap leaves in apt's cache are not part of an image
    for (const f of readdirSync(path.join(rootfs, 'var/cache/apt/archives'))) if (f.endsWith('.deb')) rmSync(path.join(rootfs, 'var/cache/apt/archives', f));
    const base = tarDir(rootfs, path.join(work, 'base.tar'));
    console.error(`apt-get install ${PACKAGE} in an overlay over it…`);
    for (const d of [merged, upper, path.join(work, 'ovl-work')]) mkdirSync(d);
    sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${rootfs},upperdir=${upper},workdir=${path.join(work, 'ovl-work')}`, merged]);
    mounted.unshift(merged);
    sh('mount', ['-t', 'proc', 'proc', path.join(merged, 'proc')]);
    mounted.unshift(path.join(merged, 'proc'));
    sh('chroot', [merged, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '--no-install-recommends', '-o', 'APT::Keep-Downloaded-Packages=false', PACKAGE]);
    for (const m of mounted.splice(0)) sh('umount', [m]);
    // apt's binary caches are rebuilt on demand; images drop them
    for (const f of ['pkgcache.bin', 'srcpkgcache.bin']) rmSync(path.join(upper, 'var/cache/apt', f), { force: true });
    overlayToOci(upper);
    const pkg = tarDir(upper, path.join(work, 'pkg.tar'));
    console.error('compressing…');
    const image = assembleImage({
      layers: [
        { tar: base, createdBy: 'debootstrap --variant=minbase bookworm' },
        { tar: pkg, createdBy: `apt-get install -y --no-install-recommends ${PACKAGE}` },
      ],
      config: { Env: [PATH_ENV], Cmd: ['bash'] },
    });
    const staging = path.join(work, 'layout');
    writeOciLayout(image, staging);
    renameSync(staging, layout);
    return image;
  } finally {
    for (const m of mounted) spawnSync('umount', ['-l', m]);
    rmSync(work, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const statusKb = (pid: number, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

interface Sample {
  wallMs: number;
  /** Peak RSS of the client process (KiB). */
  rssKb: number;
  /** containerd's peak RSS growth during the pull (KiB), ctr only. */
  daemonKb?: number;
  phases: Record<string, number>;
}

/** `/usr/bin/time -f` around a command: wall time from here, max RSS from time(1). */
async function timed(cmd: string, argv: string[]): Promise<{ wallMs: number; rssKb: number; stdout: string; stderr: string }> {
  const t0 = process.hrtime.bigint();
  const r = await run('/usr/bin/time', ['-f', 'BENCH-RSS %M', cmd, ...argv], { timeoutMs: 600_000 });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  const rssKb = Number(/BENCH-RSS (\d+)/.exec(r.stderr)?.[1]);
  return { wallMs, rssKb, stdout: r.stdout, stderr: r.stderr };
}

async function ctrxPull(ref: string): Promise<Sample> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctrx-bench-pull-'));
  try {
    const cli = useDeno ? [deno, 'run', '-A', '--quiet', ctrxJs] : [process.execPath, ctrxJs];
    const r = await timed(cli[0]!, [...cli.slice(1), '--root', path.join(dir, 'root'), '--state', path.join(dir, 'state'), '-c', path.join(dir, 'none.toml'), '--debug', 'images', 'pull', ref]);
    const phases: Record<string, number> = {};
    const grab = (key: string, re: RegExp) => {
      for (const m of r.stderr.matchAll(re)) phases[key] = (phases[key] ?? 0) + Number(m[1]);
    };
    grab('resolve', /timing: resolved \S+ in (\d+) ms/g);
    grab('documents', /timing: documents and configs in (\d+) ms/g);
    grab('fetch layers', /timing: \d+ layers fetched in (\d+) ms/g);
    grab('unpack', /timing: unpacked in (\d+) ms/g);
    for (const m of r.stderr.matchAll(/timing: layer (\d+) applied while downloading in (\d+) ms/g)) phases[`layer ${m[1]} apply (during its download)`] = Number(m[2]);
    for (const m of r.stderr.matchAll(/timing: layer (\d+)\/\d+ \S+ into \S+ in \d+ ms \(applied (while downloading|from the store): (\d+) ms, commit (\d+) ms\)/g)) {
      if (m[2] === 'from the store') phases[`layer ${m[1]} apply`] = Number(m[3]);
      phases[`layer ${m[1]} commit`] = Number(m[4]);
    }
    grab('pull total (in process)', /timing: pull done in (\d+) ms/g);
    return { wallMs: r.wallMs, rssKb: r.rssKb, phases };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function ctrPull(cd: Containerd, ref: string): Promise<Sample> {
  const pid = cd.pid()!;
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
  const before = statusKb(pid, 'VmRSS');
  const r = await timed('ctr', ['--address', cd.address, 'images', 'pull', '--plain-http', ref]);
  const daemonKb = statusKb(pid, 'VmHWM') - before;
  const phases: Record<string, number> = {};
  const done = /^done: ([\d.]+)(ms|s)\b/m.exec(r.stdout);
  if (done) phases.unpack = Number(done[1]) * (done[2] === 's' ? 1000 : 1);
  // leave the daemon warm but the store empty for the next run
  const rm = await cd.ctr(['images', 'rm', '--sync', ref]);
  if (rm.code !== 0) throw new Error(`ctr images rm failed: ${rm.stderr}`);
  const left = readdirSync(path.join(cd.root, 'io.containerd.content.v1.content', 'blobs', 'sha256'));
  if (left.length) throw new Error(`containerd kept ${left.length} blobs after rm --sync`);
  return { wallMs: r.wallMs, rssKb: r.rssKb, daemonKb, phases };
}

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;

function report(name: string, size: number, rows: Array<[string, Sample[]]>): void {
  console.log(`\n## ${name} (${(size / 1e6).toFixed(1)} MB compressed), ${runs} runs each`);
  console.log(`| tool | median wall ms | min | max | peak RSS (median) | containerd RSS growth (median) |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const [tool, s] of rows) {
    const w = s.map((x) => x.wallMs);
    const d = s.map((x) => x.daemonKb).filter((x): x is number => x !== undefined);
    console.log(`| ${tool} | ${median(w).toFixed(0)} | ${Math.min(...w).toFixed(0)} | ${Math.max(...w).toFixed(0)} | ${mb(median(s.map((x) => x.rssKb)))} | ${d.length ? mb(median(d)) : '-'} |`);
  }
  for (const [tool, s] of rows) {
    const keys = [...new Set(s.flatMap((x) => Object.keys(x.phases)))];
    if (keys.length) console.log(`${tool} phases (median ms): ${keys.map((k) => `${k} ${median(s.map((x) => x.phases[k] ?? 0)).toFixed(0)}`).join(', ')}`);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (containerd, mounts, debootstrap)');
  if (!existsSync('/usr/bin/time')) throw new Error('needs /usr/bin/time (apt-get install time)');
  const images: Array<[string, Image]> = [];
  if (!only.length || only.includes('busybox')) images.push(['busybox', await buildFixture('busybox')]);
  if (!only.length || only.includes('debian')) images.push(['debian', debianImage()]);
  let reg: Registry | undefined;
  let cd: Containerd | undefined;
  try {
    [reg, cd] = await Promise.all([startRegistry(), startContainerd({ logLevel: 'warn' })]);
    console.log(`# pull + unpack, ctrx (${useDeno ? 'deno' : `node ${process.versions.node}`}) vs ctr + containerd ${sh('containerd', ['--version']).split(' ')[2]}; ${os.cpus().length} cpus, loopback docker-registry`);
    for (const [name, image] of images) {
      await pushImage(reg, `bench/${name}`, 'latest', image);
      const ref = `${reg.host}/bench/${name}:latest`;
      const size = [...image.blobs.values()].reduce((n, b) => n + b.length, 0);
      // warm-up: page cache, the daemon's first pull, node's first start
      await ctrxPull(ref);
      await ctrPull(cd, ref);
      const x: Sample[] = [];
      const c: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        sh('sync', []);
        // alternate who goes first
        if (i % 2) {
          c.push(await ctrPull(cd, ref));
          sh('sync', []);
          x.push(await ctrxPull(ref));
        } else {
          x.push(await ctrxPull(ref));
          sh('sync', []);
          c.push(await ctrPull(cd, ref));
        }
        process.stderr.write(`${name} run ${i + 1}/${runs}: ctrx ${x.at(-1)!.wallMs.toFixed(0)} ms, ctr ${c.at(-1)!.wallMs.toFixed(0)} ms\n`);
      }
      report(name, size, [['ctrx images pull', x], ['ctr images pull', c]]);
    }
  } finally {
    await cd?.stop();
    await reg?.stop();
    cleanupTempDirs();
    rmSync(cliCopy, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
