/**
 * SqlDriver for MySQL and MariaDB (mysql2): a pool of one connection. BIGINT columns come back
 * as strings (exact), DATETIME as Date in the tracker's time zone — and go back the same way,
 * so a watermark read from `updated_at` round-trips exactly.
 */
import mysql from 'mysql2/promise';
import type { SqlDriver, SqlDriverOptions, SqlRow } from './sql-driver.js';

export class MysqlDriver implements SqlDriver {
  readonly dialect = 'mysql';
  private readonly pool: mysql.Pool;

  constructor(private readonly opts: SqlDriverOptions) {
    this.pool = mysql.createPool({
      uri: opts.url,
      connectionLimit: 1,
      connectTimeout: opts.connectTimeoutMs,
      supportBigNumbers: true,
      bigNumberStrings: true,
      maxIdle: 1,
      idleTimeout: 60_000,
      enableKeepAlive: true,
    });
  }

  async query(sql: string, params: readonly unknown[] = []): Promise<SqlRow[]> {
    const [rows] = await this.pool.query({ sql, timeout: this.opts.queryTimeoutMs }, params as unknown[]);
    return Array.isArray(rows) ? (rows as SqlRow[]) : [];
  }

  async transaction<R>(fn: (query: (sql: string, params?: readonly unknown[]) => Promise<SqlRow[]>) => Promise<R>): Promise<R> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const result = await fn(async (sql, params = []) => {
        const [rows] = await conn.query({ sql, timeout: this.opts.queryTimeoutMs }, params as unknown[]);
        return Array.isArray(rows) ? (rows as SqlRow[]) : [];
      });
      await conn.commit();
      return result;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
