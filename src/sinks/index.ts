/**
 * The sink factory and the `sink:` options block of the privtrak hook:
 *   {name: sqlite, path: ./data/privtrak.sqlite, delta_log: false, durable: false, worker: true}  (the default)
 *   {name: postgres, url: postgres://..., schema: public, delta_log: false, timeout: 30s}  (needs `privtrak migrate`)
 *   {name: mysql, url: mysql://... or mariadb://..., delta_log: false, timeout: 30s}    (needs `privtrak migrate`)
 *   {name: log, path: ./data/privtrak-deltas.ndjson}                                  (its own file, mark in <path>.state)
 */
import { z } from 'zod';
import type { DeltaSink } from './sink.js';
import { SqliteSink } from './sqlite-sink.js';
import { SqliteWorkerSink } from './sqlite-worker-sink.js';
import { PostgresSink } from './postgres-sink.js';
import { LogSink } from './log-sink.js';
import { MysqlSink } from './mysql-sink.js';
// A leaf module (it imports only zod): durations are written the same way in every option block.
import { durationSchema as duration } from '../config/zod-duration.js';

/**
 * How long one batch's transaction (or one query) may take before the connection is dropped and
 * the batch failed (retried with backoff): a server that stops answering must not hang the flusher.
 */
const timeout = () => duration('30s').refine((ms) => ms >= 100, 'at least 100ms');

export const sinkOptionsSchema = z.discriminatedUnion('name', [
  z.object({
    name: z.literal('sqlite'),
    path: z.string().min(1).default('./data/privtrak.sqlite'),
    delta_log: z.boolean().default(false),
    /** synchronous=FULL: survive power loss, not only process crashes. */
    durable: z.boolean().default(false),
    /** Run SQLite on a worker thread, so a flush never stops announces (false: on the tracker's thread). */
    worker: z.boolean().default(true),
  }).strict(),
  z.object({
    name: z.literal('postgres'),
    url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
    /** Schema holding the tables (search_path); lets several trackers or tests share a database. */
    schema: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain SQL identifier').default('public'),
    delta_log: z.boolean().default(false),
    timeout: timeout(),
  }).strict(),
  z.object({
    name: z.literal('mysql'),
    /** The site's MySQL or MariaDB server and the database for privtrak's tables. */
    url: z.string().regex(/^(mysql|mariadb):\/\/[^/]+\/[^/?]+/, 'must be a mysql:// or mariadb:// URL naming a database (mysql://user@host/db)'),
    delta_log: z.boolean().default(false),
    timeout: timeout(),
  }).strict(),
  z.object({
    name: z.literal('log'),
    /**
     * File to append to; its mark is kept in `<path>.state`. Not stdout: there the deltas would mix
     * with the tracker's own logs, and a restart could neither know what was written nor avoid
     * writing the replayed journal again.
     */
    path: z.string().min(1).default('./data/privtrak-deltas.ndjson')
      .refine((p) => p !== '-', 'the log sink writes to a file of its own, not stdout ("-"): give a path (tail -F it to pipe the deltas elsewhere)'),
  }).strict(),
]);

export type SinkOptions = z.output<typeof sinkOptionsSchema>;

export function createSink(opts: SinkOptions): DeltaSink {
  switch (opts.name) {
    case 'sqlite':
    {
      const sqlite = { path: opts.path, deltaLog: opts.delta_log, durable: opts.durable };
      return opts.worker ? new SqliteWorkerSink(sqlite) : new SqliteSink(sqlite);
    }
    case 'postgres':
      return new PostgresSink({ url: opts.url, schema: opts.schema, deltaLog: opts.delta_log, timeoutMs: opts.timeout });
    case 'mysql':
      return new MysqlSink({ url: opts.url, deltaLog: opts.delta_log, timeoutMs: opts.timeout });
    case 'log':
      return new LogSink(opts.path);
  }
}
