import { command } from './_lib/define.js';
import { print } from './_lib/output.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export async function completionScript(shell: (typeof SHELLS)[number]): Promise<string> {
  const { manifest } = await import('./manifest.js');
  const { globalOptions } = await import('./main.js');
  const gen = await import('./_lib/complete.js');
  const tree = gen.commandTree(manifest, globalOptions);
  return shell === 'bash' ? gen.bashScript(tree) : shell === 'zsh' ? gen.zshScript(tree) : gen.fishScript(tree);
}

export const completion = command<{ shell: (typeof SHELLS)[number] }>({
  name: 'completion',
  positional: '<shell>',
  describe: 'Print a shell completion script (bash, zsh, fish); ids complete from the state',
  options: (y) => y.positional('shell', { choices: SHELLS, describe: 'Shell' }),
  run: async (argv) => {
    const s = await completionScript(argv.shell);
    print(s.trimEnd());
  },
});

/** Hidden: ids for completion scripts. Prints nothing rather than an error. */
export const complete = command<{ kind: string }>({
  name: '__complete',
  positional: '<kind>',
  describe: false as unknown as string,
  run: async (argv) => {
    try {
      const { contextFrom } = await import('./_lib/context.js');
      const { completeIds } = await import('../src/metadata/complete.js' as string);
      const ctx = await contextFrom(argv);
      const ids: string[] = await completeIds(ctx, argv.kind);
      if (ids.length) print(ids.join('\n'));
    } catch {
      /* completion never prints errors */
    }
  },
});
