/** Builds the access registry, its source and its store from the `registry:` config block. */
import type { Logger } from 'pino';
import type { Registry as PrometheusRegistry } from 'prom-client';
import type { RegistryConfig, SqlRegistryConfig } from './config.js';
import { AccessRegistry } from './registry.js';
import { FileSource } from './file-source.js';
import { SqlSource } from './sql-source.js';
import { SqlStore } from './sql-tables.js';
import type { SqlDriver } from './sql-driver.js';
import { PostgresDriver } from './postgres-driver.js';
import { MysqlDriver } from './mysql-driver.js';
import type { RegistrySource } from './source.js';
import type { RegistryStore } from './store.js';

export { AccessRegistry } from './registry.js';
export type { RegistryConfig } from './config.js';

export function createSqlDriver(cfg: SqlRegistryConfig): SqlDriver {
  return sqlDriverForUrl(cfg.url, cfg.connect_timeout, cfg.query_timeout);
}

/** A driver for a postgres:// or mysql:// (mariadb://) URL; throws for any other scheme. */
export function sqlDriverForUrl(url: string, connectTimeoutMs = 5000, queryTimeoutMs = 300_000): SqlDriver {
  const opts = { url: url.replace(/^mariadb:/, 'mysql:'), connectTimeoutMs, queryTimeoutMs };
  if (/^postgres(ql)?:\/\//.test(url)) return new PostgresDriver(opts);
  if (/^(mysql|mariadb):\/\//.test(url)) return new MysqlDriver(opts);
  throw new Error(`unsupported database URL (postgres:// or mysql://): ${url.replace(/\/\/[^@/]*@/, '//…@')}`);
}

export function createRegistrySource(cfg: RegistryConfig): RegistrySource {
  if (cfg.source === 'file') return new FileSource({ users: cfg.users, torrents: cfg.torrents, pollIntervalMs: cfg.poll_interval });
  return new SqlSource(cfg.source, createSqlDriver(cfg), {
    refreshIntervalMs: cfg.refresh_interval,
    fullReloadIntervalMs: cfg.full_reload_interval,
    queries: {
      users: cfg.users_query, usersChanged: cfg.users_changed_query,
      torrents: cfg.torrents_query, torrentsChanged: cfg.torrents_changed_query,
    },
  });
}

export function createAccessRegistry(cfg: RegistryConfig, deps: { logger: Logger; prometheus: PrometheusRegistry }): AccessRegistry {
  return new AccessRegistry(createRegistrySource(cfg), deps);
}

/**
 * The store the operator commands write to: the files themselves, or privtrak's own tables
 * (sql-tables.ts), which the default queries read.
 */
export function createRegistryStore(cfg: RegistryConfig): RegistryStore & { migrate?(): Promise<void> } {
  if (cfg.source === 'file') return new FileSource({ users: cfg.users, torrents: cfg.torrents, pollIntervalMs: cfg.poll_interval });
  return new SqlStore(createSqlDriver(cfg), cfg.users_table, cfg.torrents_table);
}
