import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { completionScript, SHELLS } from '../../../commands/completion.js';
import { projectRoot } from '../../cli/ctrx.js';

const files = { bash: 'ctrx.bash', zsh: '_ctrx', fish: 'ctrx.fish' } as const;

for (const shell of SHELLS) {
  test(`completions/${files[shell]} matches the command definitions (run: npm run completions)`, async () => {
    const committed = readFileSync(path.join(projectRoot, 'completions', files[shell]), 'utf8');
    assert.equal(committed, await completionScript(shell));
  });
}

test('the bash script completes groups, verbs of an alias and flags', async () => {
  const script = await completionScript('bash');
  const run = (line: string) => {
    const words = line.split(' ');
    const r = spawnSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ctrx; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  assert.deepEqual(run('ctrx na'), ['namespaces', 'namespace']);
  assert.ok(run('ctrx i ').includes('pull'));
  assert.ok(run('ctrx plugin ls --').includes('--detailed'));
  assert.ok(run('ctrx -n k8s.io plugins l').includes('ls'));
});

test("no command's flag reuses a global flag's name or alias (yargs would silently merge them)", async () => {
  const { manifest } = await import('../../../commands/manifest.js');
  const { globalOptions } = await import('../../../commands/main.js');
  const { recordFlags } = await import('../../../commands/_lib/complete.js');
  const globals = new Set([...recordFlags(globalOptions).flatMap((f) => [f.name, ...f.alias]), 'help', 'h', 'version', 'v']);
  const clashes: string[] = [];
  for (const e of manifest) {
    const cmds = 'commands' in e ? e.commands.map((c) => ({ c, name: `${e.name} ${c.name}` })) : [{ c: e, name: e.name }];
    for (const { c, name } of cmds) for (const f of recordFlags(c.options)) for (const n of [f.name, ...f.alias]) if (globals.has(n)) clashes.push(`${name}: --${n}`);
  }
  assert.deepEqual(clashes, []);
});
