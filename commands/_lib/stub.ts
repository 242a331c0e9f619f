import { notImplemented } from '../../src/errdefs.js';
import { command, type Command } from './define.js';

/** A verb that a later piece of work fills: says so, exits 2, prints nothing else. */
export function stub(group: string, name: string, describe: string, extra: Partial<Command> = {}): Command {
  return command({
    name,
    describe: `${describe} (not implemented yet)`,
    ...extra,
    options: (y) => y.strict(false),
    run: () => {
      throw notImplemented('not implemented yet', { subject: group ? `${group} ${name}` : name });
    },
  });
}
