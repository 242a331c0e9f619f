/**
 * A container's task: the bridge between a container record in meta.db and
 * the task manager. The bundle is ctrx's task dir (`<state>/ctrx/<ns>/<id>`):
 * config.json from the record's spec, the container's snapshot mounted at
 * `rootfs`. The task manager (src/tasks) owns everything after that.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { OpContext } from '../context.js';
import { invalidArgument, isCategory, notFound } from '../errdefs.js';
import { viewMeta } from '../metadata/db.js';
import { getContainer, type ContainerRecord } from '../metadata/containers.js';
import { str } from '../metadata/encoding.js';
import { checkSnapshotter, mounts as snapshotMounts } from '../snapshots/snapshotter.js';
import { mountAll, unmountAll } from '../snapshots/mount.js';
import { deleteTask, inspectTask, paths, runForeground, runcSettings, startTask, taskBundleDir, type RuncTaskOptions, type TaskInfo } from '../tasks/manager.js';
import { decodeRuncOptions } from './runtime-options.js';
import type { Spec } from './spec-types.js';
import type { ForegroundStdio } from '../tasks/foreground.js';

export function getContainerRecord(ctx: OpContext, id: string): ContainerRecord {
  return viewMeta(ctx, (tx) => {
    if (!tx) throw notFound('not found', { subject: `container ${JSON.stringify(id)}` });
    return getContainer(tx, ctx.namespace, id);
  });
}

export function containerSpec(c: ContainerRecord): Spec {
  const raw = c.spec?.value;
  if (!raw || raw.length === 0) throw invalidArgument('container has no spec', { subject: `container ${JSON.stringify(c.id)}` });
  return JSON.parse(str(raw)) as Spec;
}

/** runc options: the container record's runtime options, then ctrx flags over them. */
export function runcOptionsOf(c: ContainerRecord, override: RuncTaskOptions = {}): RuncTaskOptions {
  const o = decodeRuncOptions(c.runtime?.options?.value);
  return {
    ...(o.binaryName ? { binary: o.binaryName } : {}),
    ...(o.systemdCgroup ? { systemdCgroup: true } : {}),
    ...override,
  };
}

interface Prepared {
  record: ContainerRecord;
  bundle: string;
  rootfs: string;
  spec: Spec;
  runcOptions: RuncTaskOptions;
  unmount: () => void;
}

function prepareBundle(ctx: OpContext, id: string, o: { tty?: boolean; runcOptions?: RuncTaskOptions; record?: ContainerRecord }): Prepared {
  const record = o.record ?? getContainerRecord(ctx, id);
  const spec = containerSpec(record);
  if (o.tty !== undefined && spec.process) spec.process.terminal = o.tty;
  const bundle = taskBundleDir(ctx, id);
  const rootfs = path.join(bundle, spec.root?.path && !path.isAbsolute(spec.root.path) ? spec.root.path : 'rootfs');
  const unmount = () => unmountAll(rootfs, { detach: true });
  if (record.snapshotKey) {
    const sn = checkSnapshotter(record.snapshotter ?? '');
    mkdirSync(rootfs, { recursive: true, mode: 0o711 });
    mountAll(snapshotMounts(ctx, sn, record.snapshotKey), rootfs);
  }
  return { record, bundle, rootfs, spec, runcOptions: runcOptionsOf(record, o.runcOptions), unmount };
}

export interface StartOptions {
  tty?: boolean;
  nullIO?: boolean;
  stdin?: boolean;
  logPath?: string;
  runcOptions?: RuncTaskOptions;
  /** The container's record when the caller has just read or written it (saves a meta.db read). */
  record?: ContainerRecord;
}

/**
 * Whether a task may exist: ctrx's task dir or a runc container dir of that
 * id (runc keeps `<root>/<id>/state.json`). Neither means no task, known
 * without running `runc state` (a Go binary's start, ~10 ms, on every run).
 */
function taskMayExist(ctx: OpContext, id: string, runcOptions?: RuncTaskOptions): boolean {
  return existsSync(paths(ctx, id).dir) || existsSync(path.join(runcSettings(ctx, runcOptions).root, id));
}

async function existingTask(ctx: OpContext, id: string, runcOptions?: RuncTaskOptions): Promise<TaskInfo | undefined> {
  if (!taskMayExist(ctx, id, runcOptions)) return undefined;
  return inspectTask(ctx, id).catch(() => undefined);
}

/** `tasks start -d` / `run -d`: a detached task under ctrx's shim. */
export async function startDetached(ctx: OpContext, id: string, o: StartOptions = {}): Promise<TaskInfo> {
  const existing = await existingTask(ctx, id, o.runcOptions);
  if (existing && existing.status !== 'stopped') throw invalidArgument(`task is already ${existing.status}`, { subject: `task "${id}"` });
  if (existing) await deleteTask(ctx, id, { force: true });
  const p = prepareBundle(ctx, id, o);
  try {
    return await startTask(ctx, {
      id,
      bundle: p.bundle,
      spec: p.spec,
      io: { detach: true, ...(o.tty !== undefined ? { tty: o.tty } : {}), ...(o.nullIO ? { nullIO: true } : {}), ...(o.stdin ? { stdin: true } : {}), ...(o.logPath ? { logPath: o.logPath } : {}) },
      runcOptions: p.runcOptions,
      onFailure: p.unmount,
    });
  } catch (e) {
    p.unmount();
    throw e;
  }
}

/** Foreground `run` / `tasks start`: ctrx supervises runc itself; returns the exit status. */
export async function runAttached(ctx: OpContext, id: string, o: StartOptions & { stdio?: ForegroundStdio; cleanup?: () => void | Promise<void> } = {}): Promise<number> {
  const existing = await existingTask(ctx, id, o.runcOptions);
  if (existing && existing.status !== 'stopped') throw invalidArgument(`task is already ${existing.status}`, { subject: `task "${id}"` });
  if (existing) await deleteTask(ctx, id, { force: true });
  const p = prepareBundle(ctx, id, o);
  try {
    const r = await runForeground(ctx, {
      id,
      bundle: p.bundle,
      spec: p.spec,
      ...(o.tty !== undefined ? { tty: o.tty } : {}),
      runcOptions: p.runcOptions,
      ...(o.stdio ? { stdio: o.stdio } : {}),
      cleanup: async () => {
        p.unmount();
        if (o.cleanup) await o.cleanup();
      },
    });
    return r.status;
  } catch (e) {
    p.unmount();
    throw e;
  }
}

/** The task's status for a container, or undefined when it has none. */
export async function containerTask(ctx: OpContext, id: string): Promise<TaskInfo | undefined> {
  if (!taskMayExist(ctx, id)) return undefined;
  try {
    return await inspectTask(ctx, id);
  } catch (e) {
    if (isCategory(e, 'not-found')) return undefined;
    throw e;
  }
}
