/**
 * The rig's own building blocks, without daemons: temp dirs and mounts,
 * the process runner, deterministic fixtures and their on-disk forms.
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { buildFixture, FAKE_SECOND_PLATFORM, LAYERED } from '../../helpers/fixtures.js';
import {
  assembleImage, layerTars, MediaType, platformImage, readOciLayout, sha256,
  writeDockerArchive, writeOciArchive, writeOciLayout,
} from '../../helpers/oci.js';
import { listProcesses } from '../../helpers/procs.js';
import { run, runOk } from '../../helpers/run.js';
import { TreeBuilder } from '../../helpers/tarball.js';
import {
  cleanupDir, cleanupTempDirs, guardedRemove, liveTempDirs, makeTempDir, mountsUnder, removeTempDir, unmountUnder,
} from '../../helpers/tmp.js';

interface Listed {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string | null;
  pax: Record<string, string> | null;
  mtime: number;
  data: Buffer;
}

async function listTar(tar: Buffer): Promise<Listed[]> {
  const out: Listed[] = [];
  const ex = extract();
  ex.on('entry', (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => {
      out.push({
        name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, linkname: h.linkname,
        pax: (h.pax as Record<string, string> | null) ?? null, mtime: h.mtime.getTime(), data: Buffer.concat(chunks),
      });
      next();
    });
  });
  const done = new Promise<void>((res, rej) => {
    ex.on('finish', () => res());
    ex.on('error', rej);
  });
  ex.end(tar);
  await done;
  return out;
}

after(() => {
  cleanupTempDirs();
  assert.deepEqual(liveTempDirs(), []);
});

describe('tmp', () => {
  test('cleanup unmounts nested mounts deepest first, and removal refuses to cross a mount', async () => {
    const dir = makeTempDir();
    const outside = makeTempDir();
    writeFileSync(join(outside, 'precious'), 'keep me');
    mkdirSync(join(dir, 'a/b'), { recursive: true });
    await runOk('mount', ['-t', 'tmpfs', 'ctrx-rig-test', join(dir, 'a')]);
    mkdirSync(join(dir, 'a/inner'));
    await runOk('mount', ['--bind', outside, join(dir, 'a/inner')]);
    assert.equal(mountsUnder(dir).length, 2);
    assert.equal(mountsUnder(dir)[0]!.mountPoint, join(dir, 'a/inner'), 'deepest first');

    assert.throws(() => guardedRemove(dir), /refusing to remove/);
    assert.equal(readFileSync(join(outside, 'precious'), 'utf8'), 'keep me', 'nothing deleted through the bind mount');

    cleanupDir(dir);
    assert.equal(existsSync(dir), false);
    assert.deepEqual(mountsUnder(dir), []);
    assert.equal(readFileSync(join(outside, 'precious'), 'utf8'), 'keep me');
    removeTempDir(outside);
    assert.equal(existsSync(outside), false);
  });

  test('a busy mount is detached lazily, only after the grace period', async () => {
    const dir = makeTempDir();
    const mnt = join(dir, 'busy');
    mkdirSync(mnt);
    await runOk('mount', ['-t', 'tmpfs', 'ctrx-rig-busy', mnt]);
    writeFileSync(join(mnt, 'f'), 'x');
    const fd = openSync(join(mnt, 'f'), 'r');
    try {
      const started = Date.now();
      assert.deepEqual(unmountUnder(dir, { graceMs: 200 }), [mnt]);
      assert.ok(Date.now() - started >= 200, 'retried before detaching');
      assert.deepEqual(mountsUnder(dir), []);
    } finally {
      closeSync(fd);
    }
    removeTempDir(dir);
    assert.equal(existsSync(dir), false);
  });
});

describe('run', () => {
  test('captures output and exit code', async () => {
    const r = await run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([r.code, r.stdout, r.stderr, r.timedOut], [3, 'out\n', 'err\n', false]);
  });

  test('a timeout kills the whole process group, grandchildren included', async () => {
    const r = await run('sh', ['-c', 'sleep 30 & echo $$; wait'], { timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    const pgrp = Number(r.stdout.trim());
    await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(listProcesses().filter((p) => p.pgrp === pgrp && p.state !== 'Z'), []);
  });
});

describe('fixtures', () => {
  test('builds are deterministic (no cache) and match the cached build', async () => {
    const prev = process.env.CTRX_FIXTURE_CACHE;
    process.env.CTRX_FIXTURE_CACHE = '0';
    let fresh;
    try {
      fresh = await buildFixture('layered', { style: 'docker' });
    } finally {
      if (prev === undefined) delete process.env.CTRX_FIXTURE_CACHE;
      else process.env.CTRX_FIXTURE_CACHE = prev;
    }
    const cached = await buildFixture('layered', { style: 'docker' });
    assert.equal(fresh.root.digest, cached.root.digest);
    assert.deepEqual([...fresh.blobs.keys()].sort(), [...cached.blobs.keys()].sort());
    for (const [d, data] of cached.blobs) assert.equal(sha256(data), d);
  });

  test('busybox: one layer with busybox, applet links, users and groups', async () => {
    const img = await buildFixture('busybox');
    assert.equal(img.root.mediaType, MediaType.ociManifest);
    const p = platformImage(img);
    assert.equal(p.manifest.layers.length, 1);
    assert.equal(p.manifest.layers[0]!.mediaType, MediaType.ociLayerGzip);
    assert.deepEqual(p.config.config.Cmd, ['sh']);
    assert.equal(p.config.architecture, process.arch === 'arm64' ? 'arm64' : 'amd64');
    const entries = await listTar(layerTars(img)[0]!);
    const byName = new Map(entries.map((e) => [e.name.replace(/\/$/, ''), e]));
    for (const applet of ['sh', 'echo', 'cat', 'ls', 'ps', 'sleep', 'id', 'stat', 'grep', 'sed', 'awk', 'top', 'kill', 'wc']) {
      const e = [...byName.values()].find((x) => /^(usr\/)?s?bin\//.test(x.name) && x.name.endsWith('/' + applet));
      assert.ok(e, `applet ${applet}`);
      assert.equal(e.type, 'symlink');
      assert.equal(e.linkname, '/bin/busybox');
    }
    assert.equal(byName.get('tmp')!.mode, 0o1777);
    assert.deepEqual([byName.get('home/app')!.uid, byName.get('home/app')!.gid], [1000, 1000]);
    assert.match(byName.get('etc/passwd')!.data.toString(), /^app:x:1000:1000:/m);
    assert.match(byName.get('etc/group')!.data.toString(), /^staff:x:50:app$/m);
    const names = entries.map((e) => e.name);
    assert.deepEqual(names, [...names].sort(), 'entries sorted');
    assert.ok(entries.every((e) => e.mtime === Date.UTC(2024, 0, 1) && e.uid >= 0));
  });

  test('layered: whiteouts, opaque marker, hardlink, symlink, setuid, xattr, fifo in the top layer', async () => {
    const img = await buildFixture('layered');
    const tars = layerTars(img);
    assert.equal(tars.length, 3);
    const base = await buildFixture('busybox');
    assert.equal(platformImage(img).manifest.layers[0]!.digest, platformImage(base).manifest.layers[0]!.digest, 'shares the busybox layer');
    const top = new Map((await listTar(tars[2]!)).map((e) => [e.name.replace(/\/$/, ''), e]));
    assert.equal(top.get('data/.wh.gone.txt')?.type, 'file');
    assert.equal(top.get('data/.wh.olddir')?.type, 'file');
    assert.equal(top.get('opaque/.wh..wh..opq')?.type, 'file');
    assert.equal(top.get(LAYERED.hardlinks[1].slice(1))?.type, 'link');
    assert.equal(top.get(LAYERED.hardlinks[1].slice(1))?.linkname, LAYERED.hardlinks[0].slice(1));
    assert.equal(top.get(LAYERED.symlink.path.slice(1))?.linkname, LAYERED.symlink.target);
    assert.equal(top.get(LAYERED.setuid.path.slice(1))?.mode, LAYERED.setuid.mode);
    assert.equal(top.get(LAYERED.fifo.slice(1))?.type, 'fifo');
    assert.equal(top.get(LAYERED.xattr.path.slice(1))?.pax?.[`SCHILY.xattr.${LAYERED.xattr.name}`], LAYERED.xattr.value);
  });

  test('redis: binaries, their libraries and the loader, with the image config', async () => {
    const img = await buildFixture('redis');
    const p = platformImage(img);
    assert.deepEqual(p.config.config.ExposedPorts, { '6379/tcp': {} });
    assert.equal(p.config.config.StopSignal, 'SIGTERM');
    assert.equal(p.config.config.WorkingDir, '/data');
    assert.equal(p.config.config.Cmd![0], 'redis-server');
    const names = new Set((await listTar(layerTars(img)[1]!)).map((e) => e.name.replace(/\/$/, '')));
    for (const n of ['usr/bin/redis-server', 'usr/bin/redis-cli', 'lib64', 'data']) assert.ok(names.has(n), n);
    assert.ok([...names].some((n) => /\/libc\.so\.6$/.test(n)), 'libc');
  });

  test('media type variants: docker manifest list with two platforms, uncompressed layers', async () => {
    const img = await buildFixture('busybox', { style: 'docker', compression: 'none', multiPlatform: true });
    assert.equal(img.root.mediaType, MediaType.dockerList);
    const index = JSON.parse(img.blobs.get(img.root.digest)!.toString());
    assert.deepEqual(
      index.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture),
      [process.arch === 'arm64' ? 'arm64' : 'amd64', FAKE_SECOND_PLATFORM.architecture],
    );
    assert.notEqual(img.images[0]!.manifest.config.digest, img.images[1]!.manifest.config.digest);
    assert.equal(img.images[0]!.manifest.layers[0]!.digest, img.images[1]!.manifest.layers[0]!.digest);
    const layer = img.images[0]!.manifest.layers[0]!;
    assert.equal(layer.mediaType, MediaType.dockerLayer);
    assert.equal(layer.digest, img.images[0]!.config.rootfs.diff_ids[0], 'uncompressed: digest == diff id');
  });
});

describe('on-disk forms', () => {
  test('OCI layout round-trips and skopeo accepts it', async () => {
    const img = await buildFixture('busybox', { multiPlatform: true });
    const dir = makeTempDir();
    writeOciLayout(img, join(dir, 'layout'), { name: 'docker.io/library/busybox:latest' });
    const back = readOciLayout(join(dir, 'layout'));
    assert.equal(back.root.digest, img.root.digest);
    assert.deepEqual([...back.blobs.keys()].sort(), [...img.blobs.keys()].sort());
    const idx = JSON.parse(readFileSync(join(dir, 'layout/index.json'), 'utf8'));
    assert.equal(idx.manifests[0].annotations['org.opencontainers.image.ref.name'], 'latest');
    const r = await run('skopeo', ['inspect', '--raw', `oci:${join(dir, 'layout')}:latest`], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(r.stdout), img.root.digest);
    removeTempDir(dir);
  });

  test('OCI and docker archives contain what their formats require', async () => {
    const img = await buildFixture('layered');
    const dir = makeTempDir();
    await writeOciArchive(img, join(dir, 'oci.tar'), { name: 'example.com/layered:v1' });
    const oci = new Map((await listTar(readFileSync(join(dir, 'oci.tar')))).map((e) => [e.name, e]));
    assert.ok(oci.has('oci-layout') && oci.has('index.json'));
    for (const d of img.blobs.keys()) assert.ok(oci.has(`blobs/${d.replace(':', '/')}`), d);

    await writeDockerArchive(img, join(dir, 'docker.tar'), ['layered:v1']);
    const dock = new Map((await listTar(readFileSync(join(dir, 'docker.tar')))).map((e) => [e.name, e]));
    const manifest = JSON.parse(dock.get('manifest.json')!.data.toString());
    assert.deepEqual(manifest[0].RepoTags, ['layered:v1']);
    const diffIds = platformImage(img).config.rootfs.diff_ids;
    assert.deepEqual(manifest[0].Layers, diffIds.map((d) => `blobs/${d.replace(':', '/')}`));
    for (const l of manifest[0].Layers as string[]) assert.equal(sha256(dock.get(l)!.data), l.replace('blobs/sha256/', 'sha256:'));
    // skopeo reads docker-archive independently of our writer.
    const r = await run('skopeo', ['inspect', `docker-archive:${join(dir, 'docker.tar')}`], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).Layers.length, 3);
    removeTempDir(dir);
  });

  test('assembleImage gzips each layer once and keeps diff ids of the uncompressed tar', async () => {
    const tar = await new TreeBuilder().file('hello', 'world\n').toTar();
    const img = assembleImage({ layers: [{ tar }], config: { Cmd: ['/hello'] } });
    const m = platformImage(img).manifest;
    assert.equal(sha256(gunzipSync(img.blobs.get(m.layers[0]!.digest)!)), sha256(tar));
    assert.deepEqual(platformImage(img).config.rootfs.diff_ids, [sha256(tar)]);
  });
});
