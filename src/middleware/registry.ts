/**
 * Hooks named in the config (`prehooks:` / `posthooks:` as `{name, options}`) are built
 * from this registry. Adding a hook is one file exporting a factory plus one line here.
 * Each factory validates its own options and throws a ConfigError naming the bad key.
 */
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { PeerStore } from '../storage/peer-store.js';
import type { Hook } from './hook.js';
import { ConfigError } from '../config/errors.js';
import { createVarIntervalHook } from './varinterval/varinterval-hook.js';
import { createPrivtrakHook } from './privtrak/privtrak-hook.js';

export interface HookDeps {
  readonly store: PeerStore;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly announceIntervalMs: number;
}

export type HookFactory = (options: Record<string, unknown>, deps: HookDeps, path: string) => Hook;

export const hookRegistry: Readonly<Record<string, HookFactory>> = {
  varinterval: createVarIntervalHook,
  privtrak: createPrivtrakHook,
};

export function buildHook(name: string, options: Record<string, unknown>, deps: HookDeps, path: string): Hook {
  const factory = Object.prototype.hasOwnProperty.call(hookRegistry, name) ? hookRegistry[name] : undefined;
  if (factory === undefined) {
    const known = Object.keys(hookRegistry).sort().join(', ') || 'none';
    throw new ConfigError(`${path}.name`, `unknown hook "${name}" (known: ${known})`);
  }
  return factory(options, deps, path);
}
