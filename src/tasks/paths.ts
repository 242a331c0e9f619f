/**
 * Task paths (layout in src/shim/layout.ts): the task dir under state, the
 * log under root, and the sockets in a short directory named by a hash,
 * because namespace and id may be 76 characters each and a unix socket
 * path is at most 107 bytes.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { EXECS_DIR, LOG_NAME } from '../shim/layout.js';

export interface TaskPaths {
  dir: string;
  attachSocket: string;
  consoleSocket: string;
  socketDir: string;
  logPath: string;
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 20);
}

export function namespaceDir(state: string, namespace: string): string {
  return path.join(state, 'ctrx', namespace);
}

export function socketDir(state: string): string {
  // Not a valid namespace name (those start with an alphanumeric), so it never collides with one.
  return path.join(state, 'ctrx', '_s');
}

export function taskPaths(state: string, root: string, namespace: string, id: string): TaskPaths {
  const h = shortHash(`${namespace}/${id}`);
  const sd = socketDir(state);
  return {
    dir: path.join(namespaceDir(state, namespace), id),
    socketDir: sd,
    attachSocket: path.join(sd, `${h}.a`),
    consoleSocket: path.join(sd, `${h}.c`),
    logPath: path.join(root, 'ctrx', namespace, id, LOG_NAME),
  };
}

export function execPaths(task: TaskPaths, namespace: string, id: string, execId: string): TaskPaths {
  const h = shortHash(`${namespace}/${id}/${execId}`);
  return {
    dir: path.join(task.dir, EXECS_DIR, execId),
    socketDir: task.socketDir,
    attachSocket: path.join(task.socketDir, `${h}.a`),
    consoleSocket: path.join(task.socketDir, `${h}.c`),
    logPath: task.logPath,
  };
}
