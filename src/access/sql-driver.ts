/**
 * The little the SQL registry needs from a database: run a statement, get rows back as plain
 * objects keyed by column name. One implementation per database (postgres-driver.ts,
 * mysql-driver.ts), each a pool of one connection that reconnects by itself after an outage.
 */
export type SqlDialect = 'postgres' | 'mysql';

export type SqlRow = Record<string, unknown>;

export interface SqlDriver {
  readonly dialect: SqlDialect;
  /** Runs one statement with positional parameters ($1… for PostgreSQL, ? for MySQL). */
  query(sql: string, params?: readonly unknown[]): Promise<SqlRow[]>;
  /** Runs `fn` in a transaction on one connection. */
  transaction<R>(fn: (query: (sql: string, params?: readonly unknown[]) => Promise<SqlRow[]>) => Promise<R>): Promise<R>;
  close(): Promise<void>;
}

export interface SqlDriverOptions {
  readonly url: string;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
}

const SINCE = /(?<![:\w]):since\b/g;

/**
 * Turns the config's `:since` placeholder into the driver's positional form, and says how many
 * parameters to pass (MySQL's `?` is positional, so each occurrence takes its own copy).
 */
export function compileSince(sql: string, dialect: SqlDialect): { sql: string; count: number } {
  let count = 0;
  const out = sql.replace(SINCE, () => {
    count++;
    return dialect === 'postgres' ? '$1' : '?';
  });
  return { sql: out, count };
}

export function hasSince(sql: string): boolean {
  SINCE.lastIndex = 0;
  return SINCE.test(sql);
}

/** Placeholder n (1-based) in the dialect. */
export function placeholder(dialect: SqlDialect, n: number): string {
  return dialect === 'postgres' ? `$${n}` : '?';
}
