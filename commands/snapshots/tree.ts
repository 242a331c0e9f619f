import { command } from '../_lib/define.js';
import { print } from '../_lib/output.js';
import { snapshotterFlag } from './_flags.js';

export const tree = command<{ snapshotter?: string }>({
  name: 'tree',
  describe: 'Display the tree of snapshots',
  options: (y) => snapshotterFlag(y),
  run: async (argv) => {
    const { contextFrom } = await import('../_lib/context.js');
    const { snapshotsList } = await import('../../src/metadata/api.js');
    const { snapshotterOf } = await import('./_flags.js');
    const ctx = await contextFrom(argv);
    const list = snapshotsList(ctx, await snapshotterOf(argv, ctx));
    // ctr's snapshotTree: nodes in walk order, placeholders for unseen parents, roots = no parent
    const nodes: Array<{ name: string; parent: string; children: string[] }> = [];
    const index = new Map<string, (typeof nodes)[number]>();
    const add = (name: string, parent: string): (typeof nodes)[number] => {
      let e = index.get(name);
      if (!e) {
        e = { name, parent, children: [] };
        nodes.push(e);
        index.set(name, e);
      } else e.parent = parent;
      if (parent) (index.get(parent) ?? add(parent, '')).children.push(name);
      return e;
    };
    for (const s of list) add(s.key, s.parent ?? '');
    const lines: string[] = [];
    const visit = (name: string, level: number): void => {
      lines.push(`${'  '.repeat(level)}${level > 0 ? '\\_' : ''} ${name}`);
      for (const c of index.get(name)!.children) visit(c, level + 1);
    };
    for (const n of nodes) if (!n.parent) visit(n.name, 0);
    if (lines.length) print(lines.join('\n'));
  },
});
