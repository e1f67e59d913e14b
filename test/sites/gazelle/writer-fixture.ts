/**
 * A Gazelle site database for the writer's tests: a fresh database on the real MariaDB (dropped
 * by `drop()`), Gazelle's tables in the OPS or WhatCD layout (schema.ts), users and torrents
 * inserted as the site would, and a GazelleWriter built as the site profile builds it.
 */
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { StatDelta } from '../../../src/accounting/delta.js';
import { siteUserKey } from '../../../src/accounting/user-key.js';
import { gazelleSiteSchema, type GazelleSiteConfig } from '../../../src/sites/config.js';
import { GazelleWriter } from '../../../src/sites/gazelle/writer.js';
import { PeerExtras } from '../../../src/sites/peer-extras.js';
import type { SiteDeps } from '../../../src/sites/site.js';
import type { PeerStore } from '../../../src/storage/peer-store.js';
import { delta } from '../../support/deltas.js';
import { freshDatabase, mysqlUrlOrSkip } from '../../support/mysql.js';
import { STRICT_MODE, gazelleDdl, type GazelleSchema } from './schema.js';

export type Row = Record<string, unknown>;

/** 1,700,000,000 s: a fixed time, so mtime/tstamp expectations are plain numbers. */
export const T0 = 1_700_000_000_000;

export const infoHashOf = (fid: number): Buffer => {
  const b = Buffer.alloc(20, 0x11);
  b.writeUInt32BE(fid, 0);
  return b;
};

export const peerIdOf = (prefix: string, n: number): Buffer => Buffer.from(`${prefix}${String(n).padStart(20 - prefix.length, '0')}`, 'latin1');

/** A delta of site user `uid` on site torrent `fid`: a plain announce with nothing transferred unless `over` says so. */
export function gd(seq: number, uid: number, fid: number | null, over: Partial<StatDelta> = {}): StatDelta {
  return delta(seq, {
    user: siteUserKey(uid), infoHash: infoHashOf(fid ?? 0), siteTorrentId: fid, peerId: peerIdOf('-TR3000-', uid),
    ip: '10.0.0.1', port: 51413, event: 'none', uploaded: 0, downloaded: 0, left: 0, deltaUp: 0, deltaDown: 0, creditUp: 0, creditDown: 0,
    seedTime: 0, leechTime: 0, snatch: false, flags: 0, timeMs: T0, baseline: { uploaded: 0, downloaded: 0, left: 0, lastMs: T0 }, ...over,
  });
}

export class TestFacts {
  readonly tokens = new Set<string>();
  readonly protectedUsers = new Set<number>();
  hasToken(userId: number, torrentId: number): boolean { return this.tokens.has(`${userId}/${torrentId}`); }
  isProtected(userId: number): boolean { return this.protectedUsers.has(userId); }
}

export interface GazelleTestSite {
  readonly layout: GazelleSchema;
  readonly url: string;
  readonly conn: mysql.Connection;
  readonly facts: TestFacts;
  readonly extras: PeerExtras;
  readonly registry: Registry;
  /** A writer on this database (opened), closed by drop(). */
  writer(over?: Partial<Record<string, unknown>>, deps?: Partial<SiteDeps>): Promise<GazelleWriter>;
  rows(sql: string, args?: unknown[]): Promise<Row[]>;
  /** Users with these IDs (users_main; OPS: users_leech_stats rows too unless `withStats` is false). */
  addUsers(ids: readonly number[], withStats?: boolean): Promise<void>;
  /** Torrents with these IDs (OPS: torrents_leech_stats rows too unless `withStats` is false). */
  addTorrents(ids: readonly number[], withStats?: boolean): Promise<void>;
  /** Every site table's rows, in key order: for "nothing changed" comparisons. */
  dump(): Promise<string>;
  /** The user's Uploaded/Downloaded (wherever the layout keeps them), or undefined without a row. */
  userStats(uid: number): Promise<{ up: bigint; down: bigint } | undefined>;
  /** The torrent's counters, or undefined without a row. */
  torrentStats(fid: number): Promise<{ seeders: number; leechers: number; snatched: number; balance: bigint; lastAction: Date | null } | undefined>;
  drop(): Promise<void>;
}

export async function gazelleTestSite(t: { skip(msg: string): void }, layout: GazelleSchema): Promise<GazelleTestSite | undefined> {
  const server = await mysqlUrlOrSkip(t);
  if (server === undefined) return undefined;
  const db = await freshDatabase(server);
  const conn = await mysql.createConnection({ uri: db.url, multipleStatements: true, supportBigNumbers: true, bigNumberStrings: true });
  await conn.query(STRICT_MODE);
  for (const ddl of gazelleDdl(layout)) await conn.query(ddl);
  const facts = new TestFacts();
  const extras = new PeerExtras();
  const registry = new Registry();
  const writers: GazelleWriter[] = [];
  const ops = layout === 'ops';
  const rows = async (sql: string, args: unknown[] = []) => (await conn.query(sql, args))[0] as Row[];

  return {
    layout, url: db.url, conn, facts, extras, registry, rows,
    async writer(over = {}, deps = {}) {
      const config: GazelleSiteConfig = gazelleSiteSchema.parse({
        name: 'gazelle', url: db.url, secret: 'x'.repeat(32), schema: layout, reap_interval: '1h', ...over,
      });
      const w = new GazelleWriter(config, facts, {
        logger: pino({ level: 'silent' }), prometheus: registry, store: {} as PeerStore, announceIntervalMs: 1_800_000,
        peerLifetimeMs: 3_600_000, extras, ...deps,
      });
      writers.push(w);
      await w.open();
      return w;
    },
    async addUsers(ids, withStats = true) {
      for (let i = 0; i < ids.length; i += 1000) {
        const part = ids.slice(i, i + 1000);
        await conn.query(`INSERT INTO users_main (ID, Username, Email, Enabled, torrent_pass) VALUES ?`,
          [part.map((id) => [id, `u${id}`, '', '1', String(id).padStart(32, 'a')])]);
        if (ops && withStats) await conn.query('INSERT INTO users_leech_stats (UserID, Uploaded, Downloaded) VALUES ?', [part.map((id) => [id, 0, 0])]);
      }
    },
    async addTorrents(ids, withStats = true) {
      for (let i = 0; i < ids.length; i += 1000) {
        const part = ids.slice(i, i + 1000);
        await conn.query('INSERT INTO torrents (ID, GroupID, info_hash) VALUES ?', [part.map((id) => [id, 1, infoHashOf(id)])]);
        if (ops && withStats) await conn.query('INSERT INTO torrents_leech_stats (TorrentID) VALUES ?', [part.map((id) => [id])]);
      }
    },
    async dump() {
      const tables: Array<[string, string]> = [
        ['users_main', 'ID'], ['torrents', 'ID'], ['users_freeleeches', 'UserID, TorrentID'], ['xbt_files_users', 'peer_id, fid, uid'],
        ['xbt_snatched', 'uid, fid, tstamp, IP'],
        ...(ops ? [['users_leech_stats', 'UserID'], ['torrents_leech_stats', 'TorrentID']] as Array<[string, string]> : []),
      ];
      const out: string[] = [];
      for (const [table, key] of tables) {
        const r = await rows(`SELECT * FROM ${table} ORDER BY ${key}`);
        out.push(`${table}: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
      }
      return out.join('\n');
    },
    async userStats(uid) {
      const [r] = await rows(ops ? 'SELECT Uploaded, Downloaded FROM users_leech_stats WHERE UserID = ?' : 'SELECT Uploaded, Downloaded FROM users_main WHERE ID = ?', [uid]);
      return r === undefined ? undefined : { up: BigInt(r['Uploaded'] as string), down: BigInt(r['Downloaded'] as string) };
    },
    async torrentStats(fid) {
      const [r] = await rows(ops
        ? 'SELECT Seeders, Leechers, Snatched, Balance, last_action FROM torrents_leech_stats WHERE TorrentID = ?'
        : 'SELECT Seeders, Leechers, Snatched, Balance, last_action FROM torrents WHERE ID = ?', [fid]);
      return r === undefined ? undefined : {
        seeders: Number(r['Seeders']), leechers: Number(r['Leechers']), snatched: Number(r['Snatched']),
        balance: BigInt(r['Balance'] as string), lastAction: (r['last_action'] as Date | null) ?? null,
      };
    },
    async drop() {
      for (const w of writers.splice(0)) await w.close().catch(() => undefined);
      await conn.end().catch(() => undefined);
      await db.drop();
    },
  };
}

/** The xbt_files_users row of (peer_id, fid, uid), or undefined. */
export async function peerRow(site: GazelleTestSite, peerId: Buffer, fid: number, uid: number): Promise<Row | undefined> {
  const [r] = await site.rows('SELECT * FROM xbt_files_users WHERE peer_id = ? AND fid = ? AND uid = ?', [peerId, fid, uid]);
  return r;
}

/** A counter's value in the site's registry (0 when never incremented). */
export async function metricValue(site: GazelleTestSite, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = site.registry.getSingleMetric(name);
  if (m === undefined) return 0;
  const { values } = await m.get();
  const v = values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/** Runs `fn` with a fresh site of `layout` (skipped without MariaDB), dropped afterwards. */
export async function withSite(t: { skip(msg: string): void }, layout: GazelleSchema, fn: (site: GazelleTestSite) => Promise<void>): Promise<void> {
  const site = await gazelleTestSite(t, layout);
  if (site === undefined) return;
  try {
    await fn(site);
  } finally {
    await site.drop();
  }
}
