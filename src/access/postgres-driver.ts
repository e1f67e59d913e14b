/** SqlDriver for PostgreSQL (pg): a pool of one connection, with connect and statement timeouts. */
import pg from 'pg';
import type { SqlDriver, SqlDriverOptions, SqlRow } from './sql-driver.js';

export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres';
  private readonly pool: pg.Pool;

  constructor(opts: SqlDriverOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: 1,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      statement_timeout: opts.queryTimeoutMs,
      query_timeout: opts.queryTimeoutMs + 1000,
      idleTimeoutMillis: 60_000,
    });
    // An idle connection the server drops (restart, pg_terminate_backend) emits 'error' on the
    // pool; unhandled, that would crash the tracker. The pool replaces it at the next query.
    this.pool.on('error', () => undefined);
  }

  async query(sql: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    const r = await this.pool.query(sql, params as unknown[]);
    return r.rows as SqlRow[];
  }

  async transaction<R>(fn: (query: (sql: string, params?: readonly unknown[]) => Promise<SqlRow[]>) => Promise<R>): Promise<R> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(async (sql, params = []) => (await client.query(sql, params as unknown[])).rows as SqlRow[]);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
