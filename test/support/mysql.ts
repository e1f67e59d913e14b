/**
 * MariaDB/MySQL for tests: the real server on 127.0.0.1:3306 (root, no password, database
 * `test`). In CI (CI=true) an unreachable server fails the test; elsewhere the test is skipped
 * with a one-line reason — as test/support/postgres.ts does for PostgreSQL. Tests create tables
 * with unique names and drop them afterwards.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

export const MYSQL_URL = process.env['PRIVTRAK_TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test';

/** Undefined if the server answers, else why not. */
export async function mysqlProblem(url = MYSQL_URL): Promise<string | undefined> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
    await conn.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

/** Returns the URL, or skips the test (outside CI) when MariaDB is not there. */
export async function mysqlUrlOrSkip(t: { skip(msg: string): void }): Promise<string | undefined> {
  const problem = await mysqlProblem();
  if (problem === undefined) return MYSQL_URL;
  if (process.env['CI'] === 'true') throw new Error(`MariaDB is required in CI but unreachable at ${MYSQL_URL}: ${problem}`);
  t.skip(`MariaDB not reachable at ${MYSQL_URL} (${problem})`);
  return undefined;
}

/** Runs statements on one short-lived connection. */
export async function mysqlExec(url: string, statements: Array<string | [string, unknown[]]>): Promise<unknown[]> {
  const conn = await mysql.createConnection({ uri: url });
  try {
    const out: unknown[] = [];
    for (const s of statements) {
      const [rows] = typeof s === 'string' ? await conn.query(s) : await conn.query(s[0], s[1]);
      out.push(rows);
    }
    return out;
  } finally {
    await conn.end();
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A database of its own (privtrak_t_<random>) on the server of `url`: its URL, and drop() to remove it. */
export async function freshDatabase(url = MYSQL_URL): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = uniqueName('privtrak_t');
  await mysqlExec(url, [`CREATE DATABASE ${name}`]);
  const u = new URL(url);
  u.pathname = `/${name}`;
  return { name, url: u.toString(), drop: async () => { await mysqlExec(url, [`DROP DATABASE IF EXISTS ${name}`]); } };
}
