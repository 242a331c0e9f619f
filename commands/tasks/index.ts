import { group } from '../_lib/define.js';
import { stub } from '../_lib/stub.js';

const g = 'tasks';
export const tasks = group({
  name: 'tasks',
  aliases: ['task', 't'],
  describe: 'Manage tasks',
  commands: [
    stub(g, 'start', 'Start a container that has been created'),
    stub(g, 'ls', 'List tasks', { aliases: ['list'] }),
    stub(g, 'attach', 'Attach to the IO of a running container'),
    stub(g, 'exec', 'Execute additional processes in an existing container'),
    stub(g, 'kill', 'Signal a container (default: SIGTERM)'),
    stub(g, 'ps', 'List processes of a container'),
    stub(g, 'pause', 'Pause an existing container'),
    stub(g, 'resume', 'Resume a paused container'),
    stub(g, 'rm', 'Delete one or more tasks', { aliases: ['del', 'delete', 'remove'] }),
    stub(g, 'metrics', 'Get a single data point of metrics for a task', { aliases: ['metric'] }),
  ],
});
