/**
 * OpContext: what every library operation receives first. Built once per
 * command from the global flags and containerd's config.toml.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { defaultFacts, type ConfigFacts, DEFAULT_CONFIG_PATH } from './config/facts.js';
import { validateId } from './identifiers.js';

export interface ContextOptions {
  namespace?: string;
  root?: string;
  state?: string;
  /** config.toml path; default /etc/containerd/config.toml. */
  config?: string;
  debug?: boolean;
  /** Called with debug lines (runc commands, lock waits) when debug is on. */
  onDebug?: (line: string) => void;
}

export interface OpContext {
  namespace: string;
  root: string;
  state: string;
  configPath: string;
  facts: ConfigFacts;
  debug: boolean;
  onDebug: (line: string) => void;
}

/**
 * Resolve the context. smol-toml is only loaded when the config file exists:
 * on a host without /etc/containerd/config.toml (or with -c pointing at a
 * missing file) nothing is parsed.
 */
export async function resolveContext(opts: ContextOptions): Promise<OpContext> {
  const configPath = opts.config ?? DEFAULT_CONFIG_PATH;
  let facts: ConfigFacts;
  if (existsSync(configPath)) {
    const { loadConfig } = await import('./config/load.js');
    facts = (await loadConfig(configPath)).facts;
  } else {
    facts = defaultFacts();
  }
  const namespace = validateId(opts.namespace ?? 'default', 'namespace');
  const root = path.resolve(opts.root ?? facts.root);
  const state = path.resolve(opts.state ?? facts.state);
  const debug = Boolean(opts.debug);
  return {
    namespace,
    root,
    state,
    configPath,
    facts: { ...facts, root, state },
    debug,
    onDebug: debug && opts.onDebug ? opts.onDebug : () => {},
  };
}
