// A local stand-in for Docker Hub on a machine without internet: builds the
// test rig's busybox and redis images from Debian's packages, serves them
// from Debian's docker-registry on 127.0.0.1, and leaves it running.
// Point docker.io at it with:  ctrx config hosts docker.io --mirror http://127.0.0.1:5000
//
//   node dist/scripts/local-mirror.js [--port 5000] [--dir /var/lib/ctrx-local-mirror]
//   node dist/scripts/local-mirror.js --stop
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixture } from '../test/helpers/fixtures.js';
import { pushImage } from '../test/helpers/registry.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '5000' }, dir: { type: 'string', default: '/var/lib/ctrx-local-mirror' }, stop: { type: 'boolean', default: false } },
});
const port = Number(values.port);
const dir = path.resolve(values.dir!);
const url = `http://127.0.0.1:${port}`;
const pidFile = path.join(dir, 'registry.pid');

async function answers(): Promise<boolean> {
  try {
    const r = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

if (values.stop) {
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const cmd = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
    // Only the registry this script started (its pid file, its config).
    if (cmd.includes(path.join(dir, 'config.yml'))) process.kill(pid, 'SIGTERM');
    rmSync(pidFile, { force: true });
  }
  process.exit(0);
}

if (!(await answers())) {
  mkdirSync(path.join(dir, 'storage'), { recursive: true });
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${JSON.stringify(path.join(dir, 'storage'))}`, 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'),
  );
  const log = openSync(path.join(dir, 'registry.log'), 'a');
  const child = spawn('docker-registry', ['serve', config], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  writeFileSync(pidFile, String(child.pid));
  for (let i = 0; i < 100 && !(await answers()); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await answers())) {
    console.error(`docker-registry did not answer on ${url} (see ${path.join(dir, 'registry.log')})`);
    process.exit(1);
  }
}

for (const [name, tags] of [
  ['busybox', ['latest']],
  ['redis', ['latest', 'alpine']],
] as const) {
  const image = await buildFixture(name);
  for (const tag of tags) await pushImage(url, `library/${name}`, tag, image);
  console.log(`${url}: library/${name}:${tags.join(', ')}`);
}
console.log(`registry running on ${url} (stop it: node dist/scripts/local-mirror.js --stop)`);
