import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';

export const info = command<{ id: string; spec: boolean; format: string }>({
  name: 'info',
  positional: '<id>',
  describe: "Get info about a container (ctr's JSON, the spec decoded)",
  complete: 'containers',
  options: (y) =>
    y
      .positional('id', { type: 'string' })
      .option('spec', { type: 'boolean', default: false, description: 'Only display the spec' })
      .option('format', { type: 'string', default: 'ctr', choices: ['ctr', 'json'], description: "ctr's JSON or ctrx's view" }),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { containerGet } = await import('../../src/metadata/api.js');
    const { goJSON } = await import('../content/_ctrfmt.js');
    const { containerJSON, ctrContainerInfo, decodeSpec } = await import('./_view.js');
    const c = containerGet(await contextFrom(argv), String(argv.id));
    if (argv.spec) return print(goJSON(decodeSpec(c.spec) ?? null));
    print(argv.format === 'json' ? JSON.stringify(containerJSON(c), null, 2) : goJSON(ctrContainerInfo(c)));
  },
});
