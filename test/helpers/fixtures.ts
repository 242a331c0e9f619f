/**
 * Small real images built from the host's Debian packages, no network:
 *
 * - `busybox`: one layer, busybox-static with symlinks for every applet,
 *   /etc/passwd and /etc/group (root, nobody, app 1000:1000 in staff 50).
 * - `layered`: the busybox layer plus two more; the top one whites out a file
 *   and a directory, makes a directory opaque over lower content, and adds a
 *   hardlink pair, a symlink, a setuid file, a file with a `user.` xattr and
 *   a FIFO (see LAYERED for the expected results).
 * - `redis`: the busybox layer plus redis-server/redis-cli and the shared
 *   libraries `ldd` lists, at the same paths as on the host.
 *
 * Builds are cached as OCI layouts under os.tmpdir()/ctrx-fixture-cache,
 * keyed by the builder code, the options, the package versions and the
 * size/mtime of every host file read.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  assembleImage, hostPlatform, readOciLayout, sha256, writeOciLayout,
  type Compression, type ContainerConfig, type Image, type LayerInput, type MediaStyle, type Platform,
} from './oci.js';
import { pushImage, type Credentials, type Registry } from './registry.js';
import { TreeBuilder } from './tarball.js';
import { guardedRemove } from './tmp.js';

export type FixtureName = 'busybox' | 'layered' | 'redis';

export interface FixtureOptions {
  /** Media types: OCI (default) or Docker schema 2. */
  style?: MediaStyle;
  /** Layer compression (default gzip). */
  compression?: Compression;
  /** Root is an index with the host platform plus a fake linux/arm64/v8 entry (same layers, own config). */
  multiPlatform?: boolean;
}

export const FAKE_SECOND_PLATFORM: Platform = { architecture: 'arm64', os: 'linux', variant: 'v8' };

export const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What the layered image should look like once unpacked (for assertions). */
export const LAYERED = {
  kept: '/data/keep.txt',
  whitedOutFile: '/data/gone.txt',
  whitedOutDir: '/data/olddir',
  opaqueDir: '/opaque',
  /** Present below the opaque marker, must be hidden. */
  hiddenByOpaque: ['/opaque/old-a', '/opaque/sub'],
  /** Added in the same layer as the marker, must be visible. */
  opaqueNew: '/opaque/new.txt',
  hardlinks: ['/links/file1', '/links/file2'],
  symlink: { path: '/links/symlink', target: 'file1' },
  setuid: { path: '/usr/local/bin/suid', mode: 0o4755 },
  xattr: { path: '/xattr/file', name: 'user.ctrx.test', value: 'hello' },
  fifo: '/fifo/pipe',
} as const;

export const BUSYBOX_BINARY = '/bin/busybox';

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** Why a fixture cannot be built on this host, or undefined when it can. */
export function fixtureUnavailable(name: FixtureName): string | undefined {
  const r = spawnSync(BUSYBOX_BINARY, ['--list'], { encoding: 'utf8' });
  if (r.status !== 0) return `${BUSYBOX_BINARY} (busybox-static) is missing`;
  if (name === 'redis' && (!existsSync('/usr/bin/redis-server') || !existsSync('/usr/bin/redis-cli'))) {
    return 'redis-server/redis-cli (redis-server, redis-tools) are missing';
  }
  return undefined;
}

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');
const GROUP = ['root:x:0:', 'staff:x:50:app', 'app:x:1000:', 'nogroup:x:65534:', ''].join('\n');

function busyboxTree(): TreeBuilder {
  const tree = new TreeBuilder();
  tree.file('bin/busybox', readFileSync(BUSYBOX_BINARY), 0o755);
  for (const line of sh(BUSYBOX_BINARY, ['--list-full']).split('\n')) {
    const path = line.trim();
    if (!path.includes('/') || path === 'bin/busybox') continue;
    tree.symlink(path, '/bin/busybox');
  }
  tree.file('etc/passwd', PASSWD).file('etc/group', GROUP);
  tree.file('etc/hostname', 'fixture\n');
  tree.dir('tmp', 0o1777).dir('var/tmp', 0o1777).dir('root', 0o700).dir('home/app', 0o755, 1000, 1000);
  tree.dir('dev').dir('proc').dir('sys').dir('usr/local/bin');
  return tree;
}

function layeredTrees(): TreeBuilder[] {
  const lower = new TreeBuilder()
    .file('data/keep.txt', 'keep\n')
    .file('data/gone.txt', 'gone\n')
    .file('data/olddir/x', 'x\n')
    .file('opaque/old-a', 'old a\n')
    .file('opaque/sub/old-b', 'old b\n')
    .file('etc/layer2', 'layer 2\n');
  const upper = new TreeBuilder()
    .file('data/.wh.gone.txt', '')
    .file('data/.wh.olddir', '')
    .dir('opaque')
    .file('opaque/.wh..wh..opq', '')
    .file('opaque/new.txt', 'new\n')
    .file('links/file1', 'hardlinked\n')
    .hardlink('links/file2', 'links/file1')
    .symlink('links/symlink', LAYERED.symlink.target)
    .file('usr/local/bin/suid', '#!/bin/sh\necho suid\n', LAYERED.setuid.mode)
    .file('xattr/file', 'has an xattr\n', 0o644, { xattrs: { [LAYERED.xattr.name]: LAYERED.xattr.value } })
    .add({ path: 'fifo/pipe', type: 'fifo', mode: 0o644 })
    .file('etc/layer3', 'layer 3\n');
  return [lower, upper];
}

function lddPaths(binary: string): string[] {
  const out: string[] = [];
  for (const line of sh('ldd', [binary]).split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

const REDIS_BINARIES = ['/usr/bin/redis-server', '/usr/bin/redis-cli'];

function redisHostPaths(): string[] {
  const paths = new Set<string>(REDIS_BINARIES);
  for (const b of REDIS_BINARIES) for (const p of lddPaths(b)) paths.add(p);
  return [...paths].sort();
}

function redisTree(paths: string[]): TreeBuilder {
  const tree = new TreeBuilder();
  for (const p of paths) tree.copyHostPath(p);
  return tree.dir('data', 0o755);
}

/** size and mtime of each host file (symlinks followed): enough to notice a package upgrade. */
function statInputs(paths: string[]): string[] {
  return paths.map((p) => {
    const st = statSync(p);
    return `${p}:${st.size}:${st.mtimeMs}`;
  });
}

const BASE_CONFIG: ContainerConfig = { Env: [PATH_ENV], Cmd: ['sh'] };

const REDIS_CONFIG: ContainerConfig = {
  ExposedPorts: { '6379/tcp': {} },
  Env: [PATH_ENV],
  Cmd: ['redis-server', '--protected-mode', 'no'],
  Volumes: { '/data': {} },
  WorkingDir: '/data',
  StopSignal: 'SIGTERM',
};

interface Recipe {
  inputs: string[];
  build: () => Promise<{ layers: LayerInput[]; config: ContainerConfig }>;
}

function recipe(name: FixtureName): Recipe {
  const baseLayer = async (): Promise<LayerInput> => ({ tar: await busyboxTree().toTar(), createdBy: 'busybox-static' });
  const baseInputs = statInputs([BUSYBOX_BINARY]);
  switch (name) {
    case 'busybox':
      return { inputs: baseInputs, build: async () => ({ layers: [await baseLayer()], config: BASE_CONFIG }) };
    case 'layered':
      return {
        inputs: baseInputs,
        build: async () => {
          const [lower, upper] = layeredTrees();
          return {
            layers: [
              await baseLayer(),
              { tar: await lower!.toTar(), createdBy: 'lower' },
              { tar: await upper!.toTar(), createdBy: 'whiteouts, opaque, links' },
            ],
            config: { ...BASE_CONFIG, Labels: { 'org.ctrx.fixture': 'layered' } },
          };
        },
      };
    case 'redis': {
      const paths = redisHostPaths();
      return {
        inputs: [...baseInputs, ...statInputs(paths)],
        build: async () => ({
          layers: [await baseLayer(), { tar: await redisTree(paths).toTar(), createdBy: 'redis-server redis-tools' }],
          config: REDIS_CONFIG,
        }),
      };
    }
  }
}

function packageVersions(): string {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Package}=${Version}\\n', 'busybox-static', 'redis-server', 'redis-tools', 'libc6'], {
    encoding: 'utf8',
  });
  return r.stdout ?? '';
}

function codeHash(): string {
  const files = ['fixtures.js', 'oci.js', 'tarball.js'].map((f) => {
    try {
      return readFileSync(fileURLToPath(new URL(`./${f}`, import.meta.url)));
    } catch {
      return Buffer.alloc(0);
    }
  });
  return sha256(Buffer.concat(files));
}

export function fixtureCacheDir(): string {
  return join(tmpdir(), 'ctrx-fixture-cache');
}

const MAX_CACHE_ENTRIES = 24;
const memo = new Map<string, Promise<Image>>();

/**
 * Builds (or loads from the cache) a fixture image. Set CTRX_FIXTURE_CACHE=0
 * to bypass the on-disk cache.
 */
export function buildFixture(name: FixtureName, opts: FixtureOptions = {}): Promise<Image> {
  const why = fixtureUnavailable(name);
  if (why) return Promise.reject(new Error(`cannot build fixture ${name}: ${why}`));
  const o = { style: opts.style ?? 'oci', compression: opts.compression ?? 'gzip', multiPlatform: !!opts.multiPlatform };
  const r = recipe(name);
  const key = sha256(JSON.stringify({ name, o, code: codeHash(), pkgs: packageVersions(), zlib: process.versions.zlib, inputs: r.inputs }))
    .slice(7, 23);
  let p = memo.get(key);
  if (!p) {
    p = loadOrBuild(`${name}-${o.style}-${o.compression}${o.multiPlatform ? '-multi' : ''}-${key}`, async () => {
      const { layers, config } = await r.build();
      return assembleImage({
        layers, config, style: o.style, compression: o.compression,
        platforms: o.multiPlatform ? [hostPlatform(), FAKE_SECOND_PLATFORM] : undefined,
      });
    });
    memo.set(key, p);
    p.catch(() => memo.delete(key));
  }
  return p;
}

async function loadOrBuild(entry: string, build: () => Promise<Image>): Promise<Image> {
  const useCache = process.env.CTRX_FIXTURE_CACHE !== '0';
  const cache = fixtureCacheDir();
  const dir = join(cache, entry);
  if (useCache && existsSync(join(dir, 'index.json'))) {
    try {
      const image = readOciLayout(dir);
      const now = new Date();
      utimesSync(dir, now, now);
      return image;
    } catch {
      guardedRemove(dir);
    }
  }
  const image = await build();
  if (!useCache) return image;
  mkdirSync(cache, { recursive: true });
  // Other test processes may build the same entry at the same moment: write aside, then rename; the loser drops its copy.
  const staging = join(cache, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    writeOciLayout(image, staging);
    renameSync(staging, dir);
  } catch {
    guardedRemove(staging);
  }
  pruneCache(cache);
  return image;
}

function pruneCache(cache: string): void {
  try {
    const entries = readdirSync(cache)
      .filter((n) => !n.startsWith('.'))
      .map((n) => ({ n, t: statSync(join(cache, n)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const e of entries.slice(MAX_CACHE_ENTRIES)) guardedRemove(join(cache, e.n));
  } catch {
    /* another process pruned concurrently */
  }
}

/** Where pushFixtures puts each fixture: `library/<name>:latest`. */
export function fixtureRepo(name: FixtureName): string {
  return `library/${name}`;
}

/**
 * Builds and pushes fixtures as `<host>/library/<name>:latest`; returns the
 * full references (for `ctr images pull --plain-http`) by fixture name.
 */
export async function pushFixtures(
  registry: Pick<Registry, 'url' | 'host'>,
  names: FixtureName[] = ['busybox', 'layered', 'redis'],
  opts: FixtureOptions & { auth?: Credentials; tag?: string } = {},
): Promise<Record<FixtureName, string>> {
  const tag = opts.tag ?? 'latest';
  const refs = {} as Record<FixtureName, string>;
  await Promise.all(
    names.map(async (n) => {
      await pushImage(registry, fixtureRepo(n), tag, await buildFixture(n, opts), opts.auth);
      refs[n] = `${registry.host}/${fixtureRepo(n)}:${tag}`;
    }),
  );
  return refs;
}
