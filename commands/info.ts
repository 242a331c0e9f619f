import { command } from './_lib/define.js';
import { printJSON } from './_lib/output.js';

export const info = command({
  name: 'info',
  describe: 'Print host facts, plugins and resolved paths as JSON',
  run: async (argv) => {
    const { contextFrom } = await import('./_lib/context.js');
    const { hostReport } = await import('../src/host/plugins.js');
    const { cgroupFacts } = await import('../src/host/probe.js');
    const { runtime } = await import('../src/platform/index.js');
    const { ctrxVersion } = await import('./main.js');
    const ctx = await contextFrom(argv);
    const report = hostReport(ctx);
    printJSON({
      version: ctrxVersion(),
      runtime: runtime(),
      namespace: ctx.namespace,
      paths: report.paths,
      config: { path: ctx.configPath, loaded: ctx.facts.path !== undefined, version: ctx.facts.version, snapshotter: ctx.facts.snapshotter, registry: ctx.facts.registry, runc: ctx.facts.runc },
      cgroup: cgroupFacts(),
      runc: report.runc,
      daemon: { running: report.lock.locked, pid: report.lock.pid, name: report.lock.holder, readOnly: report.lock.locked },
      plugins: report.plugins,
    });
  },
});
