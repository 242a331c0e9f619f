import { resolveContext, type OpContext } from '../../src/context.js';
import { stderr } from '../../src/platform/index.js';
import type { GlobalArgs } from './define.js';

/** The OpContext for a command's global flags. */
export function contextFrom(argv: GlobalArgs): Promise<OpContext> {
  return resolveContext({
    namespace: argv.namespace,
    root: argv.root,
    state: argv.state,
    config: argv.config,
    debug: argv.debug,
    onDebug: (line) => stderr.write(`ctrx: debug: ${line}\n`),
  });
}
