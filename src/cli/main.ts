#!/usr/bin/env node
/**
 * The `privtrak` command. `serve` runs the tracker; the rest are operator commands.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { defaultConfig, loadConfigFile } from '../config/load.js';
import { maskSecrets } from '../config/mask-secrets.js';
import { ConfigError } from '../config/errors.js';
import { createLogger } from '../log.js';
import { applyHeapGrowing, logGcFlags } from './gc-flags.js';
import { Tracker } from '../tracker.js';
import type { Config } from '../config/schema.js';
import { sinkFromConfig } from './commands/sink-from-config.js';
import { runStats } from './commands/stats.js';
import { runMigrate } from './commands/migrate.js';
import { passkeyResolver } from './commands/user-keys-from-config.js';
import { runTorrents, runUsers } from './commands/registry-commands.js';
import { runRecover } from './commands/recover.js';
import { CheckpointDamagedError } from '../middleware/privtrak/checkpoint.js';
import { DirLockedError } from '../middleware/privtrak/dir-lock.js';
import { storeFromConfig } from './commands/registry-from-config.js';
import { UsageError } from './usage-error.js';
import { SinkSchemaError, SinkUnreachableError } from '../sinks/sink-errors.js';
import { packageVersion } from '../metrics/build-info.js';
import { serveUntilStopped } from './serve-until-stopped.js';
import { checkWorkersConfig, parseWorkers } from './workers/worker-count.js';
import { runPrimary } from './workers/primary.js';
import { runWorker } from './workers/worker.js';

const USAGE = `usage: privtrak <command> [options]

commands:
  serve [--config FILE] [--workers N|auto]
                                 run the tracker (embedded defaults without --config); --workers N runs
                                 N processes sharing the listeners (needs storage: {name: redis});
                                 auto = one per core
  check-config [--config FILE]   validate a config file (and its hooks' options), print it with defaults (JSON)
  migrate [--config FILE] [--history FILE] [--unmapped refuse|hash]
                                 create or upgrade the sink's schema (PostgreSQL and MySQL need this once),
                                 and privtrak's own registry tables when the registry is a database;
                                 with the tracker stopped, rekey data from before user keys (keyed by
                                 passkeys): registry: site user IDs (--history: CSV passkey,site_id of
                                 old passkeys), open mode: keyed hashes
  stats [--config FILE] [--user PASSKEY | --site-user ID] [--by-torrent] [--json] [--detail]
                                 totals per user (or per user and torrent) from the configured sink
  recover [--config FILE]        with the tracker stopped: rebuild a damaged baseline checkpoint from
                                 the previous checkpoint and the journal (nothing the journal holds is lost)

  access registry (config "registry:"; a running tracker picks changes up at its next poll/refresh):
  users import FILE              bulk-import users, keeping their passkeys (YAML or CSV: passkey,site_id,enabled,can_leech)
  users import --from-sql QUERY [--from-url URL] [--skip-invalid]
                                 bulk-import from a database (default: the registry's); QUERY returns
                                 passkey [, site_id, enabled, can_leech], e.g. from an Ocelot/XBT/UNIT3D site
  users add PASSKEY [--site-id N] [--no-leech] [--disabled]
  users disable|enable|rm PASSKEY
  torrents add INFO_HASH [--site-id N] [--banned] [--download-multiplier X] [--upload-multiplier Y]
  torrents rm INFO_HASH
  torrents list [--json]
  (each takes --config FILE)
  version                        print the version

Configuration: see config.example.yaml. Signals: SIGINT/SIGTERM stop gracefully.`;


/** Errors whose message says what to do (docs/errors.md): printed without a stack, exit 1. */
const OPERATOR_CODES = new Set(['LEGACY_DATA', 'UNMAPPED_USER_KEYS', 'USER_KEY_SECRET']);

function loadConfig(path: string | undefined): Config {
  return path === undefined ? defaultConfig() : loadConfigFile(path);
}

async function serve(config: Config, heapGrowingPercent: number): Promise<number> {
  const logger = createLogger(config.log_level);
  const tracker = new Tracker(config, logger);
  await tracker.start();
  logger.info({ version: packageVersion() }, 'privtrak started');
  logGcFlags(logger, heapGrowingPercent);
  return serveUntilStopped(tracker, logger, config.shutdown_timeout);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'version' || command === '--version') {
    console.log(packageVersion());
    return 0;
  }
  const io = { out: (l: string) => console.log(l), err: (l: string) => console.error(l) };
  if (command === 'users') return runUsers(rest, loadConfig, io);
  if (command === 'torrents') return runTorrents(rest, loadConfig, io);
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      user: { type: 'string' },
      'site-user': { type: 'string' },
      history: { type: 'string' },
      unmapped: { type: 'string' },
      'by-torrent': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      detail: { type: 'boolean', default: false },
      workers: { type: 'string' },
    },
    strict: true,
  });
  if (values.workers !== undefined && command !== 'serve') throw new UsageError(`--workers is an option of serve, not of ${command}`);
  switch (command) {
    case 'serve': {
      const config = loadConfig(values.config);
      // Before the registry and stores fill the heap; in every worker too (gc-flags.ts).
      const heapGrowingPercent = applyHeapGrowing();
      // A worker forked by `serve --workers N` runs this same command line.
      if (cluster.isWorker) return runWorker(config);
      const workers = parseWorkers(values.workers);
      checkWorkersConfig(config, workers);
      return workers === 1 ? serve(config, heapGrowingPercent) : runPrimary(config, workers, heapGrowingPercent);
    }
    case 'check-config': {
      const config = loadConfig(values.config);
      // Building the hooks validates their options too; nothing is started or opened.
      new Tracker(config, createLogger('silent'), { defaultMetrics: false });
      // Secrets (tokens, keys, URL passwords) are shown as set, never printed.
      console.log(JSON.stringify(maskSecrets(config), null, 2));
      return 0;
    }
    case 'migrate': {
      const config = loadConfig(values.config);
      const hasSink = config.prehooks.some((h) => h.name === 'privtrak');
      const sqlRegistry = config.registry !== undefined && config.registry.source !== 'file';
      if (!hasSink && !sqlRegistry) throw new ConfigError('prehooks', 'nothing to migrate: no privtrak hook (sink) and no database registry');
      if (hasSink) await runMigrate(config, { history: values.history, unmapped: values.unmapped }, (line) => console.log(line));
      if (sqlRegistry) {
        const { store, config: reg } = storeFromConfig(config);
        try {
          await store.migrate?.();
        } finally {
          await store.close();
        }
        console.log(`privtrak: registry tables ${reg.source !== 'file' ? `${reg.users_table}, ${reg.torrents_table}` : ''} are up to date`);
      }
      return 0;
    }
    case 'recover':
      await runRecover(loadConfig(values.config), (line) => console.log(line));
      return 0;
    case 'stats': {
      const config = loadConfig(values.config);
      await runStats(sinkFromConfig(config), {
        user: values.user, siteUser: values['site-user'], byTorrent: values['by-torrent'] ?? false, json: values.json ?? false, detail: values.detail ?? false,
      }, (line) => console.log(line), passkeyResolver(config));
      return 0;
    }
    default:
      console.error(`privtrak: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`privtrak: ${err.message}`);
      process.exit(2);
    }
    // Operator errors that say what to do: the message, not a stack.
    if (err instanceof CheckpointDamagedError || err instanceof DirLockedError || err instanceof SinkSchemaError || err instanceof SinkUnreachableError
      || (err instanceof Error && OPERATOR_CODES.has(String((err as { code?: unknown }).code)))) {
      console.error(`privtrak: ${err.message}`);
      process.exit(1);
    }
    if (err instanceof UsageError) {
      console.error(`privtrak: ${err.message} (see privtrak --help)`);
      process.exit(2);
    }
    if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`privtrak: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`privtrak: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
