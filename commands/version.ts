import { command } from './_lib/define.js';
import { printJSON, print } from './_lib/output.js';

export const version = command<{ format: string }>({
  name: 'version',
  describe: 'Print the version of ctrx, its runtime, runc and the cgroup mode',
  options: (y) => y.option('format', { type: 'string', description: 'Output format (text|json)', default: 'text', choices: ['text', 'json'] }),
  run: async (argv) => {
    const { runtime } = await import('../src/platform/index.js');
    const { runcVersion, RUNC_INSTALL_HINT } = await import('../src/runtime/runc/version.js');
    const { cgroupFacts } = await import('../src/host/probe.js');
    const { ctrxVersion } = await import('./main.js');
    const { contextFrom } = await import('./_lib/context.js');
    const ctx = await contextFrom(argv);
    const rt = runtime();
    const runc = runcVersion(ctx.facts.runc.binaryName ?? 'runc');
    const cg = cgroupFacts();
    if (argv.format === 'json') {
      printJSON({ version: ctrxVersion(), runtime: rt, runc, cgroup: cg });
      return;
    }
    const lines = ['Client:', `  Version:  ${ctrxVersion()}`, `  Runtime:  ${rt.name} ${rt.version}`, '', 'runc:'];
    if (runc.ok) lines.push(`  Version:  ${runc.version}`, `  Commit:   ${runc.commit ?? '-'}`, `  Spec:     ${runc.spec ?? '-'}`, `  Path:     ${runc.path}`);
    else lines.push(`  ${runc.error ?? `runc: not found — ${RUNC_INSTALL_HINT}`}`);
    lines.push('', 'cgroup:', `  Version:  ${cg.describe}`);
    print(lines.join('\n'));
  },
});
