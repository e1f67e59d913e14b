/**
 * Hooks named in the config (`prehooks:` / `posthooks:` as `{name, options}`) are built
 * from this registry. Adding a hook is one file exporting a factory plus one line here.
 * Each factory validates its own options and throws a ConfigError naming the bad key.
 */
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { PeerStore } from '../storage/peer-store.js';
import type { Hook } from './hook.js';
import type { AccessRegistry } from '../access/registry.js';
import { ConfigError } from '../config/errors.js';
import { createVarIntervalHook } from './varinterval/varinterval-hook.js';
import { createPrivtrakHook } from './privtrak/privtrak-hook.js';
import { createUserApprovalHook } from './user-approval/user-approval-hook.js';
import { createTorrentApprovalHook } from './torrent-approval/torrent-approval-hook.js';
import { createClientApprovalHook } from './client-approval/client-approval-hook.js';
import { createFreeleechHook } from './freeleech/freeleech-hook.js';
import { createPeerLimitsHook } from './peer-limits/peer-limits-hook.js';

export interface HookDeps {
  readonly store: PeerStore;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly announceIntervalMs: number;
  /** The tracker's one access registry (config `registry:`), shared by the hooks that need it; absent if not configured. */
  readonly accessRegistry?: AccessRegistry;
}

export type HookFactory = (options: Record<string, unknown>, deps: HookDeps, path: string) => Hook;

export const hookRegistry: Readonly<Record<string, HookFactory>> = {
  varinterval: createVarIntervalHook,
  privtrak: createPrivtrakHook,
  user_approval: createUserApprovalHook,
  torrent_approval: createTorrentApprovalHook,
  client_approval: createClientApprovalHook,
  freeleech: createFreeleechHook,
  peer_limits: createPeerLimitsHook,
};

export function buildHook(name: string, options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  const factory = Object.prototype.hasOwnProperty.call(hookRegistry, name) ? hookRegistry[name] : undefined;
  if (factory === undefined) {
    const known = Object.keys(hookRegistry).sort().join(', ') || 'none';
    throw new ConfigError(`${path}.name`, `unknown hook "${name}" (known: ${known})`);
  }
  return factory(options, deps, path);
}
