/**
 * Deterministic tar building for image fixtures. The same entries always give
 * the same bytes: one fixed mtime, explicit owners, no user/group names,
 * entries sorted by path (a parent always precedes its children), so layer
 * digests are stable across runs and machines with the same packages.
 */
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { pack, type Header } from 'tar-stream';

/** 2024-01-01T00:00:00Z: every fixture entry carries this mtime. */
export const FIXED_MTIME = new Date(Date.UTC(2024, 0, 1));

export type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device' | 'block-device';

export interface TarEntry {
  /** Path inside the image, without a leading slash (`etc/passwd`). */
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (default 0644 files, 0755 dirs, 0777 symlinks). */
  mode?: number;
  uid?: number;
  gid?: number;
  data?: Buffer | string;
  /** Symlink target, or for a hardlink (`link`) the path of an earlier entry. */
  linkname?: string;
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` records (text values only). */
  xattrs?: Record<string, string>;
  devmajor?: number;
  devminor?: number;
}

function normalize(p: string): string {
  const n = posix.normalize(p).replace(/^\/+/, '').replace(/\/+$/, '');
  if (!n || n === '.' || n.startsWith('../')) throw new Error(`bad tar path ${JSON.stringify(p)}`);
  return n;
}

/**
 * A set of entries keyed by path; adding a path again replaces it, and
 * missing parent directories are added as root-owned 0755.
 */
export class TreeBuilder {
  private readonly entries = new Map<string, TarEntry>();

  add(entry: TarEntry): this {
    const path = normalize(entry.path);
    for (let d = posix.dirname(path); d !== '.'; d = posix.dirname(d)) {
      if (!this.entries.has(d)) this.entries.set(d, { path: d, type: 'directory' });
    }
    this.entries.set(path, { ...entry, path });
    return this;
  }

  dir(path: string, mode = 0o755, uid = 0, gid = 0): this {
    return this.add({ path, type: 'directory', mode, uid, gid });
  }

  file(path: string, data: Buffer | string, mode = 0o644, extra: Partial<TarEntry> = {}): this {
    return this.add({ path, type: 'file', data, mode, ...extra });
  }

  symlink(path: string, target: string): this {
    return this.add({ path, type: 'symlink', linkname: target });
  }

  hardlink(path: string, target: string): this {
    return this.add({ path, type: 'link', linkname: normalize(target) });
  }

  has(path: string): boolean {
    return this.entries.has(normalize(path));
  }

  /**
   * Copies a host file into the tree at the same path, reproducing every
   * symlink met on the way (e.g. Debian's merged-/usr `/lib -> usr/lib` and
   * the loader's `/lib64/ld-linux-x86-64.so.2 -> …`) so that the paths the
   * host's `ldd` printed resolve the same way inside the image.
   */
  copyHostPath(hostPath: string, depth = 0): this {
    if (!isAbsolute(hostPath)) throw new Error(`copyHostPath needs an absolute path: ${hostPath}`);
    if (depth > 32) throw new Error(`too many symlinks resolving ${hostPath}`);
    const parts = normalize(hostPath).split('/');
    let current = '';
    for (let i = 0; i < parts.length; i++) {
      current = current ? `${current}/${parts[i]}` : parts[i]!;
      const st = lstatSync('/' + current);
      if (st.isSymbolicLink()) {
        const target = readlinkSync('/' + current);
        if (!this.has(current)) this.symlink(current, target);
        const resolved = isAbsolute(target) ? target : join('/', dirname(current), target);
        const rest = parts.slice(i + 1).join('/');
        return this.copyHostPath(rest ? join(resolved, rest) : resolved, depth + 1);
      }
      if (i < parts.length - 1) {
        if (!st.isDirectory()) throw new Error(`not a directory on the host: /${current}`);
        if (!this.has(current)) this.dir(current);
        continue;
      }
      if (st.isDirectory()) {
        if (!this.has(current)) this.dir(current, st.mode & 0o7777);
      } else if (st.isFile()) {
        this.file(current, readFileSync('/' + current), st.mode & 0o7777);
      } else {
        throw new Error(`unsupported host file type at /${current}`);
      }
    }
    return this;
  }

  /** Entries sorted by path; a hardlink must come after its target. */
  list(): TarEntry[] {
    const sorted = [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const index = new Map(sorted.map((e, i) => [e.path, i]));
    sorted.forEach((e, i) => {
      if (e.type !== 'link') return;
      const t = index.get(e.linkname!);
      if (t === undefined || t >= i || sorted[t]!.type !== 'file') {
        throw new Error(`hardlink ${e.path} -> ${e.linkname}: target must be an earlier regular file in the same layer`);
      }
    });
    return sorted;
  }

  toTar(): Promise<Buffer> {
    return buildTar(this.list());
  }
}

/** Serializes entries in the given order into a tar archive. */
export async function buildTar(entries: readonly TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((res, rej) => {
    p.on('end', () => res());
    p.on('error', rej);
  });
  for (const e of entries) {
    const isDir = e.type === 'directory';
    const header: Partial<Header> & { name: string } = {
      // A trailing slash marks directories the way GNU tar and Go's archive/tar write them.
      name: isDir ? e.path + '/' : e.path,
      type: e.type,
      mode: e.mode ?? (isDir ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: FIXED_MTIME,
      uname: '',
      gname: '',
      linkname: e.linkname ?? '',
      devmajor: e.devmajor,
      devminor: e.devminor,
    };
    if (e.xattrs && Object.keys(e.xattrs).length) {
      header.pax = Object.fromEntries(
        Object.keys(e.xattrs)
          .sort()
          .map((k) => [`SCHILY.xattr.${k}`, e.xattrs![k]!]),
      );
    }
    const done = (res: () => void, rej: (e: Error) => void) => (err?: Error | null) => (err ? rej(err) : res());
    await new Promise<void>((res, rej) => {
      if (e.type === 'file') p.entry(header, Buffer.from(e.data ?? ''), done(res, rej));
      else p.entry(header, done(res, rej));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
