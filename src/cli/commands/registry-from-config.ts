/** The registry store the operator commands write to, from the config's `registry:` block. */
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../config/errors.js';
import { createRegistryStore } from '../../access/index.js';
import type { RegistryStore } from '../../access/store.js';
import type { RegistryConfig } from '../../access/config.js';

export interface StoreHandle {
  readonly store: RegistryStore & { migrate?(): Promise<void> };
  readonly config: RegistryConfig;
  /** Said to the operator before writing, when the tracker will not read what is written. */
  readonly warning: string | undefined;
}

export function registryConfig(config: Config): RegistryConfig {
  if (config.registry === undefined) throw new ConfigError('registry', 'no registry is configured (see config.example.yaml, "registry:")');
  return config.registry;
}

export function storeFromConfig(config: Config): StoreHandle {
  const cfg = registryConfig(config);
  let warning: string | undefined;
  if (cfg.source !== 'file' && !cfg.default_queries) {
    warning = `registry queries are your own: this writes privtrak's tables ${cfg.users_table} / ${cfg.torrents_table}, which the tracker reads only if your queries do`;
  }
  return { store: createRegistryStore(cfg), config: cfg, warning };
}
