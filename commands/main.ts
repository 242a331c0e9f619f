/**
 * ctrx's entry: global flags, the command tree from the manifest, and the
 * failure path (error category → one line + stable exit code).
 */
import yargs, { type Argv } from 'yargs';
import { VERSION } from '../src/version.js';
import { args as platformArgs, env, setExitCode, stderr, stdout } from '../src/platform/index.js';
import { EXIT_CODES, CtrxError } from '../src/errdefs.js';
import { DEFAULT_CONFIG_PATH } from '../src/config/facts.js';
import { manifest } from './manifest.js';
import type { Command, Group } from './_lib/define.js';
import { reportError } from './_lib/errors.js';
import { protectCommandArgs } from './_lib/argv.js';

export function ctrxVersion(): string {
  return VERSION;
}

export function globalOptions(y: Argv): Argv {
  return y
    .option('namespace', { alias: 'n', type: 'string', description: 'Namespace to use', default: env('CONTAINERD_NAMESPACE') || 'default', defaultDescription: '$CONTAINERD_NAMESPACE or "default"' })
    .option('root', { type: 'string', description: "containerd's root directory (overrides the config)" })
    .option('state', { type: 'string', description: "containerd's state directory (overrides the config)" })
    .option('config', { alias: 'c', type: 'string', description: "containerd's config.toml (missing file = containerd's defaults)", default: DEFAULT_CONFIG_PATH })
    .option('debug', { type: 'boolean', description: 'Print stack traces and the runc commands run', default: false });
}

function addCommand(y: Argv, c: Command, debugRef: { debug: boolean }): Argv {
  return y.command({
    command: c.positional ? `${c.name} ${c.positional}` : c.name,
    aliases: c.aliases,
    describe: c.describe,
    builder: (b: Argv) => (c.options ? c.options(b) : b),
    handler: async (argv: any) => {
      debugRef.debug = Boolean(argv.debug);
      await c.run(argv);
    },
  });
}

function addGroup(y: Argv, g: Group, debugRef: { debug: boolean }): Argv {
  return y.command({
    command: g.name,
    aliases: g.aliases,
    describe: g.describe,
    builder: (b: Argv) => {
      for (const c of g.commands) addCommand(b, c, debugRef);
      return b.demandCommand(1, `${g.name}: a subcommand is required`);
    },
    handler: () => {},
  });
}

export function build(argv: string[], debugRef = { debug: argv.includes('--debug') }): Argv {
  let y = yargs(protectCommandArgs(argv, manifest, globalOptions))
    .scriptName('ctrx')
    .usage('$0 [global flags] <command> [flags]\n\nA daemonless ctr: works directly on containerd\'s state and runs containers with runc.')
    .parserConfiguration({ 'populate--': true, 'unknown-options-as-args': false, 'halt-at-non-option': false })
    .version('version', 'Print the version and exit', `ctrx ${ctrxVersion()}`)
    .alias('version', 'v')
    .help('help')
    .alias('help', 'h')
    .strict()
    .recommendCommands()
    .demandCommand(1, 'a command is required')
    .wrap(Math.min(110, stdout.columns()));
  y = globalOptions(y);
  for (const entry of manifest) {
    if ('commands' in entry) addGroup(y, entry, debugRef);
    else addCommand(y, entry, debugRef);
  }
  // yargs renders the running command's whole help text after calling its
  // handler, in case a later failure wants it (~20-70 ms per command). ctrx
  // shows help only for usage errors, which fail before any handler runs.
  const usage = (y as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } } }).getInternalMethods().getUsageInstance();
  usage.cacheHelpMessage = () => {};
  return y.fail((msg: string | undefined, err: Error | undefined, inst: Argv) => {
    if (err) throw err;
    inst.showHelp((s: string) => stderr.write(s + '\n\n'));
    throw new UsageError(msg ?? 'invalid usage');
  });
}

class UsageError extends Error {}

export async function main(argv: string[] = platformArgs()): Promise<void> {
  const debugRef = { debug: argv.includes('--debug') };
  try {
    await build(argv, debugRef).parseAsync();
  } catch (err) {
    if (err instanceof UsageError) {
      stderr.write(`ctrx: ${err.message}\n`);
      setExitCode(EXIT_CODES.usage);
      return;
    }
    if (err instanceof CtrxError || err instanceof Error) {
      setExitCode(reportError(err, debugRef.debug));
      return;
    }
    setExitCode(reportError(err, debugRef.debug));
  }
}
