// Regenerates completions/ from the command definitions (npm run completions).
import { writeFileSync } from 'node:fs';
import { completionScript } from '../commands/completion.js';

const files = { bash: 'ctrx.bash', zsh: '_ctrx', fish: 'ctrx.fish' } as const;
for (const [shell, file] of Object.entries(files) as [keyof typeof files, string][]) {
  writeFileSync(new URL(`../../completions/${file}`, import.meta.url), await completionScript(shell));
}
