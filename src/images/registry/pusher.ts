/**
 * Push primitives against the first endpoint with the `push` capability (as
 * containerd pushes to one host): blob existence (HEAD), cross-repository
 * mount (`POST …/blobs/uploads/?mount=<digest>&from=<repo>`), uploads
 * (POST, then one PUT, or PATCH chunks with Content-Range and a final PUT),
 * and manifest PUT. Data is checked against the descriptor before it is
 * sent (bytes) or while it is sent (streams: a wrong length aborts the
 * upload before the final PUT); upload locations chosen by the registry are
 * held to the same network policy as redirects.
 */
import { failedPrecondition, invalidArgument, unavailable } from '../../errdefs.js';
import { digestOf } from '../../digest.js';
import { repositoryScope } from './auth.js';
import type { RegistryClient } from './client.js';
import { validateDescriptor } from './documents.js';
import { errorFromResponse } from './errors.js';
import type { HttpResponse } from './http.js';
import { targetRefusal } from './netpolicy.js';
import { safeUrl } from './redact.js';
import { endpointClass } from './request.js';
import type { Descriptor, Limits } from './types.js';

export type BlobSource = Uint8Array | (() => AsyncIterable<Uint8Array>);

export interface PushBlobOptions {
  /** Repositories on the same registry that may already hold the blob (cross-repository mount). */
  mountFrom?: string[];
  /** Upload in PATCH chunks of this many bytes instead of one PUT. */
  chunkSize?: number;
}

export interface Pusher {
  /** `host` of the endpoint pushed to. */
  readonly endpoint: string;
  blobExists(desc: Descriptor): Promise<boolean>;
  pushBlob(desc: Descriptor, data: BlobSource, opts?: PushBlobOptions): Promise<'exists' | 'mounted' | 'uploaded'>;
  /** PUTs a manifest or index under `tag` (default: its digest); returns the digest the registry reports. */
  putManifest(desc: Descriptor, bytes: Uint8Array, opts?: { tag?: string }): Promise<{ digest: string }>;
}

const TAG = /^[\w][\w.-]{0,127}$/;

/** Checks a stream against the expected size: never more, never less. */
async function* counted(src: AsyncIterable<Uint8Array>, size: number, subject: string): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const c of src) {
    n += c.byteLength;
    if (n > size) throw invalidArgument(`the data is longer than the descriptor size ${size}`, { subject });
    yield c;
  }
  if (n !== size) throw invalidArgument(`the data is ${n} bytes, the descriptor says ${size}`, { subject });
}

async function* chunksOf(src: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array[] = [];
  let n = 0;
  for await (const c of src) {
    let rest = c;
    while (rest.byteLength > 0) {
      const take = Math.min(size - n, rest.byteLength);
      buf.push(rest.subarray(0, take));
      n += take;
      rest = rest.subarray(take);
      if (n === size) {
        yield Buffer.concat(buf);
        buf = [];
        n = 0;
      }
    }
  }
  if (n > 0) yield Buffer.concat(buf);
}

export function createPusher(client: RegistryClient, limits: Limits): Pusher {
  const subject = client.subject;
  const repo = client.repository;
  const pushScope = repositoryScope(repo, ['pull', 'push']);

  async function expect(res: HttpResponse, ok: number[], what: string): Promise<void> {
    if (ok.includes(res.status)) return;
    throw await errorFromResponse(res, what, limits.errorBodyBytes);
  }

  async function location(res: HttpResponse, what: string): Promise<URL> {
    const loc = res.header('location');
    res.discard();
    if (!loc) throw unavailable(`${client.endpoint.host} gave no upload location`, { subject: what });
    let u: URL;
    try {
      u = new URL(loc, res.url);
    } catch {
      throw unavailable(`${client.endpoint.host} gave an invalid upload location`, { subject: what });
    }
    const base = new URL(client.endpoint.base);
    const refusal = targetRefusal(u, base, await endpointClass(base));
    if (refusal) throw unavailable(`refusing upload location ${safeUrl(u)}: ${refusal}`, { subject: what });
    return u;
  }

  async function blobExists(descIn: Descriptor): Promise<boolean> {
    const desc = validateDescriptor(descIn, 'descriptor', subject);
    const res = await client.send({ method: 'HEAD', path: `blobs/${desc.digest}`, scopes: [pushScope] });
    if (res.status === 404) {
      res.discard();
      return false;
    }
    if (res.status !== 200) {
      res.discard();
      throw await errorFromResponse(res, `${subject}@${desc.digest}`, limits.errorBodyBytes);
    }
    const cl = res.contentLength();
    res.discard();
    if (cl !== undefined && cl !== desc.size) throw failedPrecondition(`${client.endpoint.host} has ${desc.digest} with size ${cl}, the descriptor says ${desc.size}`, { subject });
    return true;
  }

  async function pushBlob(descIn: Descriptor, data: BlobSource, opts: PushBlobOptions = {}): Promise<'exists' | 'mounted' | 'uploaded'> {
    const desc = validateDescriptor(descIn, 'descriptor', subject);
    const what = `${subject}@${desc.digest}`;
    if (data instanceof Uint8Array) {
      if (data.byteLength !== desc.size) throw invalidArgument(`the data is ${data.byteLength} bytes, the descriptor says ${desc.size}`, { subject: what });
      if (digestOf(data, desc.digest.slice(0, desc.digest.indexOf(':')) as 'sha256') !== desc.digest) throw invalidArgument('the data does not hash to the descriptor digest', { subject: what });
    }
    if (opts.chunkSize !== undefined && (!Number.isSafeInteger(opts.chunkSize) || opts.chunkSize < 1)) throw invalidArgument('chunk size must be a positive integer', { subject: what });
    if (await blobExists(desc)) return 'exists';

    let uploadUrl: URL | undefined;
    for (const from of opts.mountFrom ?? []) {
      if (from === repo) continue;
      const res = await client.send({ method: 'POST', path: 'blobs/uploads/', query: { mount: desc.digest, from }, scopes: [pushScope, repositoryScope(from, ['pull'])], contentLength: 0, body: new Uint8Array(0) });
      if (res.status === 201) {
        res.discard();
        return 'mounted';
      }
      if (res.status === 202) {
        // Not mountable: the registry opened a normal upload instead; use it.
        uploadUrl = await location(res, what);
        break;
      }
      await expect(res, [201, 202], what);
    }
    if (!uploadUrl) {
      const res = await client.send({ method: 'POST', path: 'blobs/uploads/', scopes: [pushScope], contentLength: 0, body: new Uint8Array(0) });
      await expect(res, [202], what);
      uploadUrl = await location(res, what);
    }

    const source = (): AsyncIterable<Uint8Array> => counted(data instanceof Uint8Array ? (async function* () { yield data; })() : data(), desc.size, what);
    if (opts.chunkSize === undefined) {
      const url = new URL(uploadUrl.href);
      url.searchParams.set('digest', desc.digest);
      const res = await client.send({
        method: 'PUT',
        path: url,
        scopes: [pushScope],
        headers: { 'content-type': 'application/octet-stream' },
        body: data instanceof Uint8Array ? data : source(),
        contentLength: desc.size,
      });
      await expect(res, [201], what);
      res.discard();
      return 'uploaded';
    }

    let start = 0;
    let url = uploadUrl;
    for await (const chunk of chunksOf(source(), opts.chunkSize)) {
      const end = start + chunk.byteLength - 1;
      const res = await client.send({
        method: 'PATCH',
        path: url,
        scopes: [pushScope],
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end}` },
        body: chunk,
      });
      await expect(res, [202], what);
      url = await location(res, what);
      start = end + 1;
    }
    const fin = new URL(url.href);
    fin.searchParams.set('digest', desc.digest);
    const res = await client.send({ method: 'PUT', path: fin, scopes: [pushScope], body: new Uint8Array(0) });
    await expect(res, [201], what);
    res.discard();
    return 'uploaded';
  }

  async function putManifest(descIn: Descriptor, bytes: Uint8Array, opts: { tag?: string } = {}): Promise<{ digest: string }> {
    const desc = validateDescriptor(descIn, 'descriptor', subject);
    if (bytes.byteLength !== desc.size) throw invalidArgument(`the manifest is ${bytes.byteLength} bytes, the descriptor says ${desc.size}`, { subject });
    if (bytes.byteLength > limits.manifestBytes) throw invalidArgument(`the manifest is over the ${limits.manifestBytes}-byte limit`, { subject });
    const alg = desc.digest.slice(0, desc.digest.indexOf(':')) as 'sha256';
    if (digestOf(bytes, alg) !== desc.digest) throw invalidArgument('the manifest does not hash to the descriptor digest', { subject });
    if (opts.tag !== undefined && !TAG.test(opts.tag)) throw invalidArgument(`invalid tag ${JSON.stringify(opts.tag.slice(0, 60))}`, { subject });
    const ref = opts.tag ?? desc.digest;
    const res = await client.send({ method: 'PUT', path: `manifests/${ref}`, scopes: [pushScope], headers: { 'content-type': desc.mediaType }, body: bytes });
    await expect(res, [200, 201], `${subject}:${ref}`);
    const reported = res.header('docker-content-digest');
    res.discard();
    if (reported && reported.startsWith(`${alg}:`) && reported !== desc.digest) {
      throw failedPrecondition(`${client.endpoint.host} stored the manifest as ${reported}, not ${desc.digest}`, { subject });
    }
    return { digest: desc.digest };
  }

  return { endpoint: client.endpoint.host, blobExists, pushBlob, putManifest };
}
