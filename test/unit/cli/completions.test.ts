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
