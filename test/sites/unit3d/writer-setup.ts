/**
 * What the UNIT3D writer tests share: a database of their own with UNIT3D's tables (schema.ts),
 * rows inserted as the site would (in its strict mode), a writer on it, and deltas of site users.
 * Read-backs run with time_zone '+00:00' and timestamps as text, so expectations are plain UTC strings.
 */
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { freshDatabase } from '../../support/mysql.js';
import { delta } from '../../support/deltas.js';
import { STRICT_MODE, UNIT3D_DDL } from './schema.js';
import type { StatDelta } from '../../../src/accounting/delta.js';
import { siteUserKey } from '../../../src/accounting/user-key.js';
import { unit3dSiteSchema } from '../../../src/sites/config.js';
import { Unit3dWriter } from '../../../src/sites/unit3d/writer.js';
import { PeerExtras } from '../../../src/sites/peer-extras.js';
import type { PeerStore } from '../../../src/storage/peer-store.js';

export type Row = Record<string, unknown>;

export interface SiteDb {
  readonly name: string;
  readonly url: string;
  readonly conn: mysql.Connection;
  rows(sql: string, args?: unknown[]): Promise<Row[]>;
  exec(sql: string, args?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/** A fresh database with UNIT3D's tables, a group, users `userIds` (uploaded 1000, downloaded 500) and torrents `torrentIds`. */
export async function siteDb(baseUrl: string, userIds: number[], torrentIds: number[]): Promise<SiteDb> {
  const db = await freshDatabase(baseUrl);
  const conn = await mysql.createConnection({ uri: db.url, supportBigNumbers: true, bigNumberStrings: true, multipleStatements: true });
  await conn.query(STRICT_MODE);
  await conn.query("SET time_zone = '+00:00'");
  for (const ddl of UNIT3D_DDL) await conn.query(ddl);
  await conn.query("INSERT INTO `groups` (id, name, slug) VALUES (1, 'User', 'user')");
  await insertUsers(conn, userIds);
  await insertTorrents(conn, torrentIds);
  return {
    name: db.name, url: db.url, conn,
    rows: async (sql, args = []) => (await conn.query(sql, args))[0] as Row[],
    exec: async (sql, args = []) => { await conn.query(sql, args); },
    close: async () => { await conn.end(); await db.drop(); },
  };
}

async function insertUsers(conn: mysql.Connection, ids: number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 5000) {
    const part = ids.slice(i, i + 5000);
    await conn.query(`INSERT INTO users (id, username, email, password, passkey, group_id, uploaded, downloaded, rsskey, created_at, updated_at) VALUES ${
      part.map((id) => `(${id}, 'u${id}', 'u${id}@example.org', 'x', 'pk${id}', 1, 1000, 500, 'rss${id}', '2024-01-01 00:00:00', '2024-01-01 00:00:00')`).join(',')}`);
  }
}

async function insertTorrents(conn: mysql.Connection, ids: number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 5000) {
    const part = ids.slice(i, i + 5000);
    await conn.query(`INSERT INTO torrents (id, name, description, info_hash, file_name, num_file, size, user_id, status, created_at, updated_at) VALUES ${
      part.map((id) => `(${id}, 't${id}', '', X'${infoHashOf(id).toString('hex')}', 'f', 1, 1000, 1, 1, '2024-01-01 00:00:00', '2024-01-01 00:00:00')`).join(',')}`);
  }
}

/** The info_hash the tests give torrent `id`. */
export function infoHashOf(id: number): Buffer {
  const b = Buffer.alloc(20, 0x11);
  b.writeUInt32BE(id, 16);
  return b;
}

export function peerIdOf(n: number): Buffer {
  return Buffer.from(`-qB4520-${String(n).padStart(12, '0')}`);
}

/** T0: 2024-03-01 12:00:00 UTC. */
export const T0 = Date.UTC(2024, 2, 1, 12, 0, 0);
/** `T0 + s` seconds as the writer stores it. */
export const at = (s: number) => new Date(T0 + s * 1000).toISOString().slice(0, 19).replace('T', ' ');

/**
 * A delta of site user `user` on torrent `torrent` from peer `peer`, `s` seconds after T0: no bytes,
 * a leecher with 1000 left, not stopped, unless overridden.
 */
export function u3(seq: number, user: number, torrent: number, peer: number, s: number, over: Partial<StatDelta> = {}): StatDelta {
  return delta(seq, {
    user: siteUserKey(user), infoHash: infoHashOf(torrent), peerId: peerIdOf(peer), siteTorrentId: torrent, ip: '10.0.0.1', port: 6881,
    event: 'none', uploaded: 0, downloaded: 0, left: 1000, deltaUp: 0, deltaDown: 0, creditUp: 0, creditDown: 0, seedTime: 0, leechTime: 0,
    snatch: false, flags: 0, timeMs: T0 + s * 1000, baseline: { uploaded: 0, downloaded: 0, left: 1000, lastMs: T0 + s * 1000 }, ...over,
  });
}

export interface WriterOptions {
  maxRecords?: number;
  immune?: (userId: number) => boolean;
  peerLifetimeMs?: number;
  timeout?: string;
  registry?: Registry;
  extras?: PeerExtras;
  /** false: the writer's database half in place instead of on its thread. */
  thread?: boolean;
}

export function makeWriter(url: string, o: WriterOptions = {}): { writer: Unit3dWriter; registry: Registry; extras: PeerExtras } {
  const config = unit3dSiteSchema.parse({
    name: 'unit3d', url, api_key: 'k'.repeat(32), reap_interval: 0, max_records_per_batch: o.maxRecords ?? 0, timeout: o.timeout ?? '30s',
  });
  const registry = o.registry ?? new Registry();
  const extras = o.extras ?? new PeerExtras();
  const writer = new Unit3dWriter(config, { immune: o.immune ?? (() => false) }, {
    logger: pino({ level: 'silent' }), prometheus: registry, store: undefined as unknown as PeerStore,
    announceIntervalMs: 1_800_000, peerLifetimeMs: o.peerLifetimeMs ?? 2_400_000, extras,
  }, { thread: o.thread ?? true });
  return { writer, registry, extras };
}

/** A metric's value for the given labels (0 if never incremented). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return 0;
  const data = await m.get();
  const v = data.values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return v?.value ?? 0;
}
