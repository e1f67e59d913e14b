/**
 * The UNIT3D site as the tests set it up: a database of its own with UNIT3D's tables (schema.ts),
 * rows inserted as UNIT3D would, and a real tracker in-process with `site: unit3d` (readonly, so
 * the privtrak hook counts into its own SQLite sink and nothing depends on the writer). Announces
 * go over HTTP (and UDP), push-API calls over plain fetch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Tracker } from '../../../src/tracker.js';
import { validateConfig } from '../../../src/config/load.js';
import type { RequestContext } from '../../../src/middleware/context.js';
import { escapeBytes, get } from '../../support/http-client.js';
import { freshDatabase, mysqlExec, mysqlUrlOrSkip } from '../../support/mysql.js';
import { STRICT_MODE, UNIT3D_DDL } from './schema.js';

export const API_KEY = 'test-api-key-0123456789abcdef';

/** A UNIT3D passkey (32 characters) for user n. */
export const pk = (n: number) => `${String(n).padStart(4, '0')}${'c0ffee'.repeat(5)}ab`.slice(0, 32);
/** An info_hash of 20 equal bytes. */
export const ih = (b: number) => Buffer.alloc(20, b);

export const GROUP = { user: 1, banned: 2, validating: 3, disabled: 4, slots: 5, freeleech: 6, double: 7, immune: 8 } as const;
export const USER = { alice: 1, banned: 2, validating: 3, disabled: 4, noDownload: 5, slotted: 6, free: 7, double: 8, deleted: 9, bob: 10 } as const;
export const TORRENT = {
  approved: { id: 100, hash: ih(0x10) },
  pending: { id: 101, hash: ih(0x11) },
  deleted: { id: 102, hash: ih(0x12) },
  halfFreeDouble: { id: 103, hash: ih(0x13) },
  other: { id: 104, hash: ih(0x14) },
  third: { id: 105, hash: ih(0x15) },
} as const;

export interface SiteDb {
  url: string;
  exec(statements: Array<string | [string, unknown[]]>): Promise<unknown[]>;
  drop(): Promise<void>;
}

/** A fresh database with UNIT3D's tables, or undefined (the test is skipped) without MariaDB. */
export async function siteDb(t: { skip(msg: string): void }): Promise<SiteDb | undefined> {
  const server = await mysqlUrlOrSkip(t);
  if (server === undefined) return undefined;
  const db = await freshDatabase(server);
  await mysqlExec(db.url, [STRICT_MODE, ...UNIT3D_DDL]);
  return { url: db.url, exec: (s) => mysqlExec(db.url, [STRICT_MODE, ...s]).then((r) => r.slice(1)), drop: db.drop };
}

export function userRow(id: number, groupId: number, extra: { canDownload?: boolean; deleted?: boolean; donor?: boolean; lifetime?: boolean } = {}): [string, unknown[]] {
  return ['INSERT INTO users (id, username, email, password, passkey, group_id, rsskey, can_download, is_donor, is_lifetime, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [id, `user${id}`, `u${id}@example.org`, 'x', pk(id), groupId, `rss${id}`, extra.canDownload === false ? 0 : 1, extra.donor ? 1 : 0,
      extra.lifetime ? 1 : 0, extra.deleted ? new Date('2026-01-01T00:00:00Z') : null]];
}

export function torrentRow(id: number, hash: Buffer, o: { status?: number; deleted?: boolean; free?: number; doubleup?: boolean; times?: number } = {}): [string, unknown[]] {
  return ['INSERT INTO torrents (id, name, description, info_hash, file_name, num_file, size, user_id, status, free, doubleup, times_completed, deleted_at) VALUES (?, ?, \'\', ?, ?, 1, 1000, 1, ?, ?, ?, ?, ?)',
    [id, `t${id}`, hash, `t${id}.torrent`, o.status ?? 1, o.free ?? 0, o.doubleup ? 1 : 0, o.times ?? 0, o.deleted ? new Date('2026-01-01T00:00:00Z') : null]];
}

/** The site every rules and push-API test starts from. */
export async function seedSite(db: SiteDb): Promise<void> {
  await db.exec([
    `INSERT INTO \`groups\` (id, name, slug, download_slots, is_immune, is_freeleech, is_double_upload) VALUES
      (1, 'User', 'user', NULL, 0, 0, 0), (2, 'Banned', 'banned', NULL, 0, 0, 0), (3, 'Validating', 'validating', NULL, 0, 0, 0),
      (4, 'Disabled', 'disabled', NULL, 0, 0, 0), (5, 'Leech', 'leech', 1, 0, 0, 0), (6, 'Free', 'free', NULL, 0, 1, 0),
      (7, 'Double', 'double', NULL, 0, 0, 1), (8, 'Immune', 'immune', NULL, 1, 0, 0)`,
    userRow(USER.alice, GROUP.user), userRow(USER.banned, GROUP.banned), userRow(USER.validating, GROUP.validating),
    userRow(USER.disabled, GROUP.disabled), userRow(USER.noDownload, GROUP.user, { canDownload: false }), userRow(USER.slotted, GROUP.slots),
    userRow(USER.free, GROUP.freeleech), userRow(USER.double, GROUP.double), userRow(USER.deleted, GROUP.user, { deleted: true }),
    userRow(USER.bob, GROUP.user),
    torrentRow(TORRENT.approved.id, TORRENT.approved.hash), torrentRow(TORRENT.pending.id, TORRENT.pending.hash, { status: 0 }),
    torrentRow(TORRENT.deleted.id, TORRENT.deleted.hash, { deleted: true }),
    torrentRow(TORRENT.halfFreeDouble.id, TORRENT.halfFreeDouble.hash, { free: 50, doubleup: true }),
    torrentRow(TORRENT.other.id, TORRENT.other.hash), torrentRow(TORRENT.third.id, TORRENT.third.hash),
    "INSERT INTO blacklist_clients (name, peer_id_prefix) VALUES ('BadClient', '-BC0')",
  ]);
}

export interface AnnounceOpts {
  peerId?: string | Buffer;
  port?: number;
  uploaded?: number;
  downloaded?: number;
  left?: number;
  event?: string;
  /** The User-Agent header; null sends none. */
  agent?: string | null;
}

export interface AnnounceResult {
  failure: string | undefined;
  body: Buffer;
}

/** The `failure reason` of a bencoded reply, if any. */
export function failureOf(body: Buffer): string | undefined {
  const s = body.toString('latin1');
  const at = s.indexOf('14:failure reason');
  if (at < 0) return undefined;
  const m = /^(\d+):/.exec(s.slice(at + 17));
  return m === null ? undefined : s.slice(at + 17 + m[0].length, at + 17 + m[0].length + Number(m[1]));
}

export interface SiteTracker {
  tracker: Tracker;
  port: number;
  udpPort: number;
  /** The context the rules hook left on the last announce it passed (multipliers, site ids). */
  lastCtx(): RequestContext | undefined;
  announce(passkey: string, infoHash: Buffer, o?: AnnounceOpts): Promise<AnnounceResult>;
  push(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
  dir: string;
}

export async function startSite(url: string, site: Record<string, unknown> = {}): Promise<SiteTracker> {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-u3d-'));
  const config = validateConfig({
    metrics_addr: '', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '127.0.0.1:0' },
    site: { name: 'unit3d', url, api_key: API_KEY, readonly: true, ...site },
    prehooks: [{ name: 'privtrak', options: { journal_dir: join(dir, 'journal'), sink: { name: 'sqlite', path: join(dir, 'stats.sqlite'), worker: false } } }],
    user_key_secret: join(dir, 'user-key.secret'),
  });
  const tracker = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
  try {
    await tracker.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const hook = tracker.site!.hook;
  const original = hook.handleAnnounce.bind(hook);
  let last: RequestContext | undefined;
  // A spy, not a stand-in: the real hook runs, the test only keeps the context it filled in.
  (hook as { handleAnnounce: typeof hook.handleAnnounce }).handleAnnounce = (ctx, req, resp) => {
    last = undefined;
    const r = original(ctx, req, resp);
    last = ctx;
    return r;
  };
  const port = tracker.port('http');
  let n = 0;
  return {
    tracker, port, udpPort: tracker.port('udp'), dir,
    lastCtx: () => last,
    async announce(passkey, infoHash, o = {}) {
      const peerId = o.peerId === undefined ? Buffer.from(`-qB4520-${String(++n).padStart(12, '0')}`) : Buffer.from(o.peerId);
      const q = `info_hash=${escapeBytes(infoHash)}&peer_id=${escapeBytes(peerId)}&port=${o.port ?? 6881}&uploaded=${o.uploaded ?? 0}`
        + `&downloaded=${o.downloaded ?? 0}&left=${o.left ?? 1000}&compact=1${o.event ? `&event=${o.event}` : ''}`;
      const headers: Record<string, string> = o.agent === null ? {} : { 'User-Agent': o.agent ?? 'qBittorrent/4.5.2' };
      const reply = await get(port, `/announce/${passkey}?${q}`, headers);
      return { failure: failureOf(reply.body), body: reply.body };
    },
    async push(method, path, body, key = API_KEY) {
      const res = await fetch(`http://127.0.0.1:${port}/announce/${key}${path}`, {
        method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, text: await res.text() };
    },
    async stop() {
      await tracker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
