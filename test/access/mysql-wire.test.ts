/**
 * The access suite against a MariaDB registry with a site's own schema (Gazelle/Ocelot-like:
 * `users_main.torrent_pass`, `Enabled enum('0','1','2')`, `can_leech`, `torrents.info_hash`
 * BINARY(20), `FreeTorrent enum('0','1','2')`), read with custom queries by an account of its
 * own. The outage: the account is locked and its connection killed — a real "cannot connect".
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runAccessSuite, TORRENTS, USERS } from './access-suite.js';
import { MYSQL_URL, mysqlExec, mysqlProblem, uniqueName } from '../support/mysql.js';

const unreachable = await mysqlProblem();

if (unreachable !== undefined) {
  // Unreachable: FAIL in CI, skip with a one-line reason elsewhere.
  describe('mysql registry', () => {
    if (process.env['CI'] === 'true') it('needs MariaDB in CI', () => assert.fail(`MariaDB is required in CI but unreachable at ${MYSQL_URL}: ${unreachable}`));
    else it('needs MariaDB', { skip: `MariaDB not reachable at ${MYSQL_URL} (${unreachable})` }, () => {});
  });
} else runAccessSuite('mysql', async () => {
  const users = uniqueName('users_main');
  const torrents = uniqueName('torrents');
  const account = uniqueName('privtrak_reader');
  const host = new URL(MYSQL_URL).hostname;
  const db = new URL(MYSQL_URL).pathname.slice(1);
  await mysqlExec(MYSQL_URL, [
    `CREATE TABLE ${users} (
      ID INT UNSIGNED NOT NULL PRIMARY KEY, Username VARCHAR(20), torrent_pass CHAR(32) NOT NULL UNIQUE,
      Enabled ENUM('0','1','2') NOT NULL DEFAULT '1', can_leech TINYINT(1) NOT NULL DEFAULT 1,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3))`,
    `CREATE TABLE ${torrents} (
      ID INT UNSIGNED NOT NULL PRIMARY KEY, info_hash BINARY(20) NOT NULL UNIQUE,
      FreeTorrent ENUM('0','1','2') NOT NULL DEFAULT '0', DoubleUpload TINYINT(1) NOT NULL DEFAULT 0, banned TINYINT(1) NOT NULL DEFAULT 0,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3))`,
    ...Object.values(USERS).map((u): [string, unknown[]] => [
      `INSERT INTO ${users} (ID, Username, torrent_pass, Enabled, can_leech) VALUES (?, ?, ?, ?, ?)`,
      [u.siteId, `user${u.siteId}`, u.passkey, u.enabled ? '1' : '2', u.canLeech ? 1 : 0],
    ]),
    ...Object.values(TORRENTS).map((t): [string, unknown[]] => [
      `INSERT INTO ${torrents} (ID, info_hash, FreeTorrent, DoubleUpload, banned) VALUES (?, ?, ?, ?, ?)`,
      [t.siteId, t.infoHash, t.freeleech ? '1' : '0', t.doubleUpload ? 1 : 0, t.banned ? 1 : 0],
    ]),
    `CREATE USER '${account}'@'${host}'`,
    `GRANT SELECT ON ${db}.${users} TO '${account}'@'${host}'`,
    `GRANT SELECT ON ${db}.${torrents} TO '${account}'@'${host}'`,
  ]);
  const url = new URL(MYSQL_URL);
  url.username = account;
  url.password = '';
  const cols = `torrent_pass AS passkey, ID AS site_id, Enabled = '1' AS enabled, can_leech, updated_at`;
  const tcols = `info_hash, ID AS site_id, banned, CASE FreeTorrent WHEN '1' THEN 0 WHEN '2' THEN 0.5 END AS download_multiplier,
    CASE WHEN DoubleUpload THEN 2 END AS upload_multiplier, updated_at`;
  const killConnections = async () => {
    const [rows] = await mysqlExec(MYSQL_URL, [[`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?`, [account]]]) as [Array<{ ID: number }>];
    await mysqlExec(MYSQL_URL, rows.map((r) => `KILL ${Number(r.ID)}`)).catch(() => undefined);
  };
  return {
    registry: {
      source: 'mysql', url: url.toString(), refresh_interval: '300ms', connect_timeout: '2s', query_timeout: '5s',
      users_query: `SELECT ${cols} FROM ${users}`,
      users_changed_query: `SELECT ${cols} FROM ${users} WHERE updated_at >= :since`,
      torrents_query: `SELECT ${tcols} FROM ${torrents}`,
      torrents_changed_query: `SELECT ${tcols} FROM ${torrents} WHERE updated_at >= :since`,
    },
    async disableUser(passkey) {
      await mysqlExec(MYSQL_URL, [[`UPDATE ${users} SET Enabled = '2' WHERE torrent_pass = ?`, [passkey]]]);
    },
    async addUser(passkey, siteId) {
      await mysqlExec(MYSQL_URL, [[`INSERT INTO ${users} (ID, torrent_pass) VALUES (?, ?)`, [siteId, passkey]]]);
    },
    async breakSource() {
      await mysqlExec(MYSQL_URL, [`ALTER USER '${account}'@'${host}' ACCOUNT LOCK`]);
      await killConnections();
    },
    async repairSource() {
      await mysqlExec(MYSQL_URL, [`ALTER USER '${account}'@'${host}' ACCOUNT UNLOCK`]);
    },
    async cleanup() {
      await killConnections();
      await mysqlExec(MYSQL_URL, [`DROP TABLE IF EXISTS ${users}, ${torrents}`, `DROP USER IF EXISTS '${account}'@'${host}'`]);
    },
  };
});
