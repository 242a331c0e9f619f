/**
 * How a command is declared. A group is a folder with an index.ts that lists
 * its verbs; a verb is a file exporting one `Command`. Definitions are data
 * plus a lazy handler: a verb imports its domain modules inside `run`, so
 * loading the manifest (all definitions) stays cheap.
 */
import type { Argv } from 'yargs';

export interface GlobalArgs {
  namespace: string;
  root?: string;
  state?: string;
  config: string;
  debug: boolean;
}

export type Args<T = Record<string, unknown>> = GlobalArgs & T & { _: (string | number)[]; $0: string };

export interface Command<T = any> {
  /** Verb name, e.g. "ls". */
  name: string;
  aliases?: string[];
  /** Positional spec in yargs syntax, e.g. "<ref> [dir]" or "<id> [args..]". */
  positional?: string;
  describe: string;
  /** Flags and positional descriptions. */
  options?: (y: Argv) => Argv;
  /** Shell completion of positionals: what to complete ("namespaces", "images", "containers", "tasks", "snapshots", "leases", "content", "files"). */
  complete?: string;
  /**
   * The last positional (`[args..]`) is a command run in a container: its
   * flags are the container's, never ctrx's (see _lib/argv.ts).
   */
  passthrough?: boolean;
  run: (argv: Args<T>) => Promise<void> | void;
}

export interface Group {
  name: string;
  aliases?: string[];
  describe: string;
  commands: Command[];
}

export const command = <T = any>(c: Command<T>): Command<T> => c;
export const group = (g: Group): Group => g;

/**
 * For repeatable flags (`--env A=1 --env B=2`): yargs' `array: true` would
 * also swallow the positionals that follow (`--env A=1 busybox t1`), so
 * such flags are plain strings that yargs collects when repeated, coerced
 * to an array here.
 */
export const many = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String);
