#!/usr/bin/env node
/**
 * The `privtrak` command. `serve` runs the tracker; the rest are operator commands.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { defaultConfig, loadConfigFile } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { createLogger } from '../log.js';
import { Tracker } from '../tracker.js';
import type { Config } from '../config/schema.js';
import { sinkFromConfig } from './commands/sink-from-config.js';
import { runStats } from './commands/stats.js';

const USAGE = `usage: privtrak <command> [options]

commands:
  serve [--config FILE]          run the tracker (embedded defaults without --config)
  check-config [--config FILE]   validate a config file (and its hooks' options), print it with defaults (JSON)
  migrate [--config FILE]        create or upgrade the sink's schema (PostgreSQL needs this once)
  stats [--config FILE] [--user PASSKEY] [--by-torrent] [--json]
                                 totals per user (or per user and torrent) from the configured sink
  version                        print the version

Configuration: see config.example.yaml. Signals: SIGINT/SIGTERM stop gracefully.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function loadConfig(path: string | undefined): Config {
  return path === undefined ? defaultConfig() : loadConfigFile(path);
}

async function serve(config: Config): Promise<number> {
  const logger = createLogger(config.log_level);
  const tracker = new Tracker(config, logger);
  await tracker.start();
  logger.info({ version: version() }, 'privtrak started');
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      const deadline = setTimeout(() => {
        logger.error('shutdown timed out');
        resolve(1);
      }, config.shutdown_timeout);
      deadline.unref();
      tracker.stop().then((errors) => {
        clearTimeout(deadline);
        logger.info({ errors: errors.length }, 'stopped');
        resolve(errors.length === 0 ? 0 : 1);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'version' || command === '--version') {
    console.log(version());
    return 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      user: { type: 'string' },
      'by-torrent': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  switch (command) {
    case 'serve':
      return serve(loadConfig(values.config));
    case 'check-config': {
      const config = loadConfig(values.config);
      // Building the hooks validates their options too; nothing is started or opened.
      new Tracker(config, createLogger('silent'), { defaultMetrics: false });
      console.log(JSON.stringify(config, null, 2));
      return 0;
    }
    case 'migrate': {
      const sink = sinkFromConfig(loadConfig(values.config));
      await sink.migrate();
      await sink.close();
      console.log(`privtrak: ${sink.name} schema is up to date`);
      return 0;
    }
    case 'stats':
      await runStats(sinkFromConfig(loadConfig(values.config)), {
        user: values.user, byTorrent: values['by-torrent'] ?? false, json: values.json ?? false,
      }, (line) => console.log(line));
      return 0;
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
    if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`privtrak: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`privtrak: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
