/**
 * Commands that run a process in a container (`run`, `containers create`,
 * `tasks exec`) take the container's command after their positionals, and
 * that command has flags of its own (`sh -c 'echo hi'`). yargs would read
 * `-c` as ctrx's --config. So, before yargs parses, a `--` is inserted
 * right after the last positional of such a command: flags may appear
 * anywhere before it (unlike ctr 2.x, which silently ignores them), and
 * everything after belongs to the container.
 */
import type { Command, Group } from './define.js';
import { recordFlags } from './complete.js';

interface Spec {
  command: Command;
  positionals: number;
}

function positionalCount(c: Command): number {
  return (c.positional ?? '').split(/\s+/).filter((p) => p.startsWith('<')).length;
}

/** Commands that declare `passthrough` (their last positional, `[args..]`, is the container's command). */
function passthroughCommands(manifest: (Group | Command)[]): Map<string, Spec> {
  const out = new Map<string, Spec>();
  const add = (names: string[], c: Command) => {
    if (!c.passthrough) return;
    for (const n of names) out.set(n, { command: c, positionals: positionalCount(c) });
  };
  for (const e of manifest) {
    if ('commands' in e) {
      for (const c of e.commands) for (const g of [e.name, ...(e.aliases ?? [])]) add([c.name, ...(c.aliases ?? [])].map((v) => `${g} ${v}`), c);
    } else {
      add([e.name, ...(e.aliases ?? [])], e);
    }
  }
  return out;
}

export function protectCommandArgs(argv: string[], manifest: (Group | Command)[], globals: Command['options']): string[] {
  if (argv.includes('--')) return argv;
  const specs = passthroughCommands(manifest);
  const valued = (flags: ReturnType<typeof recordFlags>) =>
    new Set(flags.filter((f) => f.takesValue).flatMap((f) => [f.name, ...f.alias].map((n) => (n.length === 1 ? `-${n}` : `--${n}`))));
  const globalValued = valued(recordFlags(globals));
  const words: string[] = [];
  let spec: Spec | undefined;
  let flagsWithValue = globalValued;
  let seen = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-') && a !== '-') {
      if (!a.includes('=') && flagsWithValue.has(a)) i++;
      continue;
    }
    if (!spec) {
      words.push(a);
      spec = specs.get(words.join(' '));
      if (spec) flagsWithValue = new Set([...globalValued, ...valued(recordFlags(spec.command.options))]);
      else if (words.length >= 2) return argv;
      continue;
    }
    seen++;
    if (seen === spec.positionals) return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
  }
  return argv;
}
