/**
 * The command tree, explicit and ordered (no directory scanning): groups as
 * in ctr, with ctr's aliases, then single commands. Completions and help are
 * generated from this list.
 */
import type { Command, Group } from './_lib/define.js';
import { images } from './images/index.js';
import { containers } from './containers/index.js';
import { tasks } from './tasks/index.js';
import { namespaces } from './namespaces/index.js';
import { snapshots } from './snapshots/index.js';
import { content } from './content/index.js';
import { leases } from './leases/index.js';
import { plugins } from './plugins/index.js';
import { config } from './config/index.js';
import { version } from './version.js';
import { info } from './info.js';
import { run } from './run.js';
import { completion, complete } from './completion.js';
import { logs } from './logs.js';
import { stop } from './stop.js';
import { wait } from './wait.js';
import { ps } from './ps.js';
import { kill } from './tasks/kill.js';
import { login } from './login.js';
import { logout } from './logout.js';

export const manifest: (Group | Command)[] = [
  images,
  containers,
  tasks,
  namespaces,
  snapshots,
  content,
  leases,
  plugins,
  config,
  run,
  ps,
  logs,
  stop,
  wait,
  kill,
  version,
  info,
  login,
  logout,
  completion,
  complete,
];
