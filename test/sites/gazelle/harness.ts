/**
 * A real tracker with `site: gazelle` in-process, on a fresh MariaDB database holding Gazelle's
 * tables (schema.ts) filled as the site fills them. `readonly: true`: the privtrak hook counts
 * into its own SQLite sink, so credit can be read back without the Gazelle writer.
 *
 * The site's rows (the same in every test, changed by a test's own `seed` statements):
 *
 *   users_main  1 alice  ALICE  enabled, can_leech        4 dave  DAVE  enabled, Visible '0'
 *               2 bob    BOB    enabled, can_leech = 0    5 eve   EVE   enabled, IP 127.0.0.1
 *               3 carol  CAROL  Enabled '0' (disabled)
 *   torrents   10 IH.normal FreeTorrent '0' (Snatched 7)  13 IH.token   '0', alice holds a token
 *              11 IH.free   '1'                           14 IH.expired '0', alice's token Expired
 *              12 IH.neutral '2'                          15 IH.other   '0'
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Tracker } from '../../../src/tracker.js';
import { validateConfig } from '../../../src/config/load.js';
import { SqliteSink } from '../../../src/sinks/sqlite-sink.js';
import type { TotalsRow } from '../../../src/sinks/sink.js';
import { decode } from '../../../src/bittorrent/bencode.js';
import type { GazelleSiteProfile } from '../../../src/sites/gazelle/index.js';
import { escapeBytes, get, type RawReply } from '../../support/http-client.js';
import { freshDatabase, mysqlExec, mysqlUrlOrSkip } from '../../support/mysql.js';
import { gazelleDdl, STRICT_MODE, type GazelleSchema } from './schema.js';

export const SECRET = 'gazelle-tracker-secret-0123456789';
export const REPORT = 'gazelle-report-password-98765';

export const ALICE = 'a11ce000a11ce000a11ce000a11ce000';
export const BOB = 'b0b00000b0b00000b0b00000b0b00000';
export const CAROL = 'ca401000ca401000ca401000ca401000';
export const DAVE = 'da4e0000da4e0000da4e0000da4e0000';
export const EVE = 'e4e00000e4e00000e4e00000e4e00000';

const ih = (b: number): Buffer => Buffer.alloc(20, b);
export const IH = {
  normal: ih(0x10), free: ih(0x11), neutral: ih(0x12), token: ih(0x13), expired: ih(0x14), other: ih(0x15),
  unknown: ih(0x99),
};

export const QB = Buffer.from('-qB4520-000000000001');
export const TR = Buffer.from('-TR3000-000000000001');

/** The site's rows, as Gazelle writes them. */
export function seedStatements(schema: GazelleSchema): string[] {
  const users = [
    [1, 'alice', ALICE, '1', '1', '10.0.0.1', 1], [2, 'bob', BOB, '1', '1', '10.0.0.2', 0], [3, 'carol', CAROL, '0', '1', '10.0.0.3', 1],
    [4, 'dave', DAVE, '1', '0', '10.0.0.4', 1], [5, 'eve', EVE, '1', '1', '127.0.0.1', 1],
  ].map(([id, name, pk, en, vis, ip, cl]) => `(${id}, '${name}', '${pk}', '${en}', '${vis}', '${ip}', ${cl})`);
  const torrents: Array<[number, Buffer, string, number]> = [
    [10, IH.normal, '0', 7], [11, IH.free, '1', 0], [12, IH.neutral, '2', 0], [13, IH.token, '0', 0], [14, IH.expired, '0', 0], [15, IH.other, '0', 3],
  ];
  const tRows = torrents.map(([id, h, free, snatched]) => schema === 'whatcd'
    ? `(${id}, X'${h.toString('hex')}', '${free}', ${snatched})` : `(${id}, X'${h.toString('hex')}', '${free}')`);
  return [
    `INSERT INTO users_main (ID, Username, torrent_pass, Enabled, Visible, IP, can_leech) VALUES ${users.join(', ')}`,
    schema === 'whatcd'
      ? `INSERT INTO torrents (ID, info_hash, FreeTorrent, Snatched) VALUES ${tRows.join(', ')}`
      : `INSERT INTO torrents (ID, info_hash, FreeTorrent) VALUES ${tRows.join(', ')}`,
    ...(schema === 'whatcd' ? [] : [`INSERT INTO torrents_leech_stats (TorrentID, Snatched) VALUES ${torrents.map(([id, , , s]) => `(${id}, ${s})`).join(', ')}`]),
    "INSERT INTO users_freeleeches (UserID, TorrentID, Time, Expired) VALUES (1, 13, NOW(), 0), (1, 14, NOW(), 1)",
  ];
}

/** A fresh database with Gazelle's tables and rows; undefined when MariaDB is absent (the test was skipped). */
export async function siteDatabase(t: { skip(msg: string): void }, schema: GazelleSchema = 'ops', extra: string[] = []) {
  const url = await mysqlUrlOrSkip(t);
  if (url === undefined) return undefined;
  const db = await freshDatabase(url);
  try {
    await mysqlExec(db.url, [STRICT_MODE, ...gazelleDdl(schema), ...seedStatements(schema), ...extra]);
  } catch (err) {
    await db.drop();
    throw err;
  }
  return db;
}

export interface AnnounceOptions {
  passkey?: string;
  infoHash?: Buffer;
  peerId?: Buffer;
  up?: number;
  down?: number;
  left?: number;
  event?: string;
  userAgent?: string;
}

export interface Site {
  readonly tracker: Tracker;
  readonly site: GazelleSiteProfile;
  readonly port: number;
  /** The decoded reply: `failure reason` as a string when refused. */
  announce(o?: AnnounceOptions): Promise<{ failure?: string; interval?: number; minInterval?: number }>;
  /** GET /{secret}/update?{query} (query written as given: escape binary values with escapeBytes). */
  update(query: string, secret?: string): Promise<RawReply>;
  /** Stops the tracker (the privtrak hook flushes) and reads its SQLite sink's totals by user and torrent. */
  stopAndTotals(): Promise<TotalsRow[]>;
  close(): Promise<void>;
}

export async function startSite(t: { skip(msg: string): void }, opts: { schema?: GazelleSchema; reportPassword?: string; seed?: string[] } = {}): Promise<Site | undefined> {
  const schema = opts.schema ?? 'ops';
  const db = await siteDatabase(t, schema, opts.seed);
  if (db === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-gazelle-'));
  const dbPath = join(dir, 'stats.sqlite');
  const tracker = new Tracker(validateConfig({
    log_level: 'silent', metrics_addr: '', http: { addr: '127.0.0.1:0' }, udp: { addr: '127.0.0.1:0' },
    site: { name: 'gazelle', url: db.url, secret: SECRET, readonly: true, schema, report_password: opts.reportPassword ?? '' },
    user_key_secret: join(dir, 'user-key.secret'),
    prehooks: [{ name: 'privtrak', options: { journal_dir: join(dir, 'journal'), flush_interval: '20ms', sink: { name: 'sqlite', path: dbPath, worker: false } } }],
  }), pino({ level: 'silent' }), { defaultMetrics: false });
  let stopped = false;
  try {
    await tracker.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
    throw err;
  }
  const port = tracker.port('http');
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await tracker.stop();
  };
  return {
    tracker, port, site: tracker.site as GazelleSiteProfile,
    async announce(o = {}) {
      const q = `info_hash=${escapeBytes(o.infoHash ?? IH.normal)}&peer_id=${escapeBytes(o.peerId ?? QB)}&port=6881&compact=1`
        + `&uploaded=${o.up ?? 0}&downloaded=${o.down ?? 0}&left=${o.left ?? 1000}${o.event ? `&event=${o.event}` : ''}`;
      const r = await get(port, `/${o.passkey ?? ALICE}/announce?${q}`, o.userAgent ? { 'User-Agent': o.userAgent } : {});
      const d = decode(r.body) as Record<string, Buffer | number | undefined>;
      const failure = d['failure reason'];
      return {
        failure: failure === undefined ? undefined : (failure as Buffer).toString(),
        interval: d['interval'] as number | undefined, minInterval: d['min interval'] as number | undefined,
      };
    },
    update: (query, secret = SECRET) => get(port, `/${secret}/update?${query}`),
    async stopAndTotals() {
      await stop();
      const sink = new SqliteSink({ path: dbPath });
      await sink.open();
      try {
        return await sink.totals({ byTorrent: true });
      } finally {
        await sink.close();
      }
    },
    async close() {
      try {
        await stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await db.drop();
      }
    },
  };
}

/** Credited and raw bytes of one user on one torrent, as [up, down, rawUp, rawDown]. */
export function creditOf(rows: TotalsRow[], user: Buffer, infoHash: Buffer): [number, number, number, number] | undefined {
  const r = rows.find((x) => x.user.equals(user) && x.infoHash?.equals(infoHash));
  return r === undefined ? undefined : [Number(r.uploaded), Number(r.downloaded), Number(r.rawUploaded), Number(r.rawDownloaded)];
}

export { escapeBytes };
