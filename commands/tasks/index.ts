import { group } from '../_lib/define.js';
import { attach } from './attach.js';
import { exec } from './exec.js';
import { kill } from './kill.js';
import { ls } from './ls.js';
import { metrics } from './metrics.js';
import { pause, resume } from './pause.js';
import { ps } from './ps.js';
import { rm } from './rm.js';
import { start } from './start.js';

export const tasks = group({
  name: 'tasks',
  aliases: ['task', 't'],
  describe: 'Manage tasks',
  commands: [start, ls, attach, exec, kill, ps, pause, resume, rm, metrics],
});
