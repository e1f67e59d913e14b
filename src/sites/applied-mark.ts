/**
 * privtrak's applied mark in a site's database: its one table there, one row per tracker
 * instance holding the highest delta seq applied (src/sinks/sink.ts: the contract). Both site
 * writers lock the row FOR UPDATE at the start of a batch's transaction and move it in the same
 * transaction; this file holds what they share around that.
 */
import type { Conn } from '../sinks/mysql-session.js';

export const MARK_TABLE = 'privtrak_site_applied';
export const MARK_DDL = `CREATE TABLE IF NOT EXISTS ${MARK_TABLE} (
  instance varchar(64) NOT NULL PRIMARY KEY,
  applied_through bigint unsigned NOT NULL,
  applied_at timestamp NULL
) ENGINE=InnoDB`;

/** The instance's mark (0 if it has none yet). */
export async function loadMark(conn: Conn, instance: string): Promise<number> {
  const [rows] = await conn.query(`SELECT applied_through FROM ${MARK_TABLE} WHERE instance = ?`, [instance]);
  return Number((rows as Array<Record<string, unknown>>)[0]?.['applied_through'] ?? 0);
}

/**
 * Makes sure the instance's mark row exists, once per writer and instance (`known`). Outside the
 * batch's transaction: INSERT IGNORE of an existing row takes a shared lock, and two writers each
 * holding one and both wanting FOR UPDATE would deadlock.
 */
export async function ensureMarkRow(conn: Conn, instance: string, known: Set<string>): Promise<void> {
  if (known.has(instance)) return;
  await conn.query(`INSERT IGNORE INTO ${MARK_TABLE} (instance, applied_through) VALUES (?, 0)`, [instance]);
  known.add(instance);
}
