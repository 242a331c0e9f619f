import { command } from '../_lib/define.js';
import { stderr, stdout } from '../../src/platform/index.js';
import { invalidArgument } from '../../src/errdefs.js';

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

export const configCheck = command<{ file?: string; format: string }>({
  name: 'check',
  positional: '[file]',
  describe: 'Check a config.toml (default: the -c file) and its imports: unknown keys, wrong types, deprecated keys',
  complete: 'files',
  options: (y) =>
    y
      .positional('file', { type: 'string', description: 'config.toml to check (default: the -c file)' })
      .option('format', { type: 'string', default: 'text', description: 'Output format (text|json)' })
      .epilog('One line per finding: "SEVERITY: PATH: message". Exit 0 when there are only warnings, 3 on errors.'),
  run: async (argv) => {
    if (argv.format !== 'text' && argv.format !== 'json') throw invalidArgument(`unknown format ${JSON.stringify(argv.format)} (text or json)`, { subject: '--format' });
    const { checkConfig } = await import('../../src/config/check.js');
    const file = argv.file ?? argv.config;
    const result = await checkConfig(file);
    if (argv.format === 'json') stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      for (const f of result.findings) stdout.write(`${f.severity}: ${f.path}: ${f.message}${f.file ? ` (in ${f.file})` : ''}\n`);
    }
    const summary = `${plural(result.errors, 'error')}, ${plural(result.warnings, 'warning')}`;
    if (result.errors > 0) throw invalidArgument(summary, { subject: file });
    if (argv.format !== 'json') stderr.write(`ctrx: ${file}: ${result.warnings ? summary : 'ok'}\n`);
  },
});
