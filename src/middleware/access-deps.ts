/** The access registry for a hook that needs one, or a ConfigError naming the hook. */
import { ConfigError } from '../config/errors.js';
import type { AccessRegistry } from '../access/registry.js';
import type { HookDeps } from './hook.js';

export function requireAccessRegistry(deps: HookDeps, hook: string, path: string): AccessRegistry {
  if (deps.accessRegistry === undefined) {
    throw new ConfigError(`${path}.name`, `the ${hook} hook needs a top-level "registry:" block (where users and torrents come from)`);
  }
  return deps.accessRegistry;
}
