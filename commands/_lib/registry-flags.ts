/**
 * The registry flags of ctr's `images pull|push` and `content fetch`,
 * declared once, and read into the registry client's options in one place.
 */
import type { Argv } from 'yargs';
import type { ResolverOptions } from '../../src/images/registry/index.js';
import { many } from './define.js';

export interface RegistryArgs {
  'plain-http'?: boolean;
  'skip-verify'?: boolean;
  tlscacert?: string[];
  'hosts-dir'?: string[];
  user?: string;
}

export function registryFlags(y: Argv): Argv {
  return y
    .option('plain-http', { type: 'boolean', description: 'Use plain HTTP for the registry' })
    .option('skip-verify', { alias: 'k', type: 'boolean', description: "Don't verify the registry's TLS certificate" })
    .option('tlscacert', { type: 'string', coerce: many, description: 'CA certificate file(s) for the registry' })
    .option('hosts-dir', { type: 'string', coerce: many, description: 'hosts.toml directories (replace config_path)' })
    .option('user', { alias: 'u', type: 'string', description: 'user[:password] for the registry (asked on a terminal when missing)' });
}

/** Flags → the registry client's options; CTRX_REGISTRY_TIMEOUT_MS sets the no-progress timeout (default 30 s). */
export async function registryOptions(a: RegistryArgs): Promise<ResolverOptions> {
  const { env } = await import('../../src/platform/index.js');
  const { invalidArgument } = await import('../../src/errdefs.js');
  const timeout = env('CTRX_REGISTRY_TIMEOUT_MS');
  if (timeout && !/^[1-9][0-9]*$/.test(timeout)) throw invalidArgument('must be a positive number of milliseconds', { subject: 'CTRX_REGISTRY_TIMEOUT_MS' });
  return {
    plainHttp: a['plain-http'],
    skipVerify: a['skip-verify'],
    tlsCaCert: a.tlscacert,
    hostsDir: a['hosts-dir'],
    user: a.user,
    ...(timeout ? { limits: { idleTimeoutMs: Number(timeout) } } : {}),
    promptPassword: async (registry, username) => (await import('./prompt.js')).promptSecret(`Password for ${username}@${registry}: `),
  };
}
