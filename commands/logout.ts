import { command } from './_lib/define.js';

export const logout = command<{ server?: string }>({
  name: 'logout',
  positional: '[server]',
  describe: 'Log out from a registry (removes its credentials from ~/.docker/config.json)',
  options: (y) => y.positional('server', { type: 'string', description: 'Registry host[:port] (default docker.io)' }),
  run: async (argv) => {
    const { print } = await import('./_lib/output.js');
    const reg = await import('../src/images/registry/index.js');
    const server = reg.loginRegistry(argv.server);
    const removed = reg.removeLogin(server);
    if (removed.length === 0) print(`Not logged in to ${reg.authKeyFor(server)}`);
    else print(`Removing login credentials for ${reg.authKeyFor(server)}`);
  },
});
