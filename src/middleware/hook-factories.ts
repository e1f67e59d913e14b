/**
 * Hooks named in the config (`prehooks:` / `posthooks:` as `{name, options}`) are built
 * by the factories in this table. Adding a hook is one file exporting a factory plus one line here.
 * Each factory validates its own options and throws a ConfigError naming the bad key.
 */
import type { Hook, HookDeps } from './hook.js';
import { ConfigError } from '../config/errors.js';
import { createVarIntervalHook } from './varinterval/varinterval-hook.js';
import { createPrivtrakHook } from './privtrak/privtrak-hook.js';
import { createUserApprovalHook } from './user-approval/user-approval-hook.js';
import { createTorrentApprovalHook } from './torrent-approval/torrent-approval-hook.js';
import { createClientApprovalHook } from './client-approval/client-approval-hook.js';
import { createFreeleechHook } from './freeleech/freeleech-hook.js';
import { createPeerLimitsHook } from './peer-limits/peer-limits-hook.js';

export type HookFactory = (options: Record<string, unknown>, deps: HookDeps, path: string) => Hook;

export const hookFactories: Readonly<Record<string, HookFactory>> = {
  varinterval: createVarIntervalHook,
  privtrak: createPrivtrakHook,
  user_approval: createUserApprovalHook,
  torrent_approval: createTorrentApprovalHook,
  client_approval: createClientApprovalHook,
  freeleech: createFreeleechHook,
  peer_limits: createPeerLimitsHook,
};

export function buildHook(name: string, options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  const factory = Object.prototype.hasOwnProperty.call(hookFactories, name) ? hookFactories[name] : undefined;
  if (factory === undefined) {
    const known = Object.keys(hookFactories).sort().join(', ') || 'none';
    throw new ConfigError(`${path}.name`, `unknown hook "${name}" (known: ${known})`);
  }
  return factory(options, deps, path);
}
