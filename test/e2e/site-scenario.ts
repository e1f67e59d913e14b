/**
 * The site scenario, shared by the UNIT3D and Gazelle tests: the site's schema in a fresh
 * MariaDB database, users and a torrent inserted as the site would, `privtrak serve` with the
 * site's profile behind a recording proxy (announce-recorder.ts), real clients (aria2 and
 * qBittorrent) swarming through it, then the site's tables compared row by row with what the
 * site's own announce server would have written for the announces privtrak served
 * (site-models.ts), and once more after kill -9 and a restart: not one row may move.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import { Workspace, mktorrent, requireCommands, stopGracefully, waitUntil, type BtClient } from './clients.js';
import { infoHashOf } from './recording-tracker.js';
import { AnnounceRecorder, type RecordedAnnounce } from './announce-recorder.js';
import type { ModelAnnounce } from './site-models.js';
import { freePort, startTracker, waitExit } from '../support/tracker-process.js';
import { freshDatabase, mysqlExec, mysqlUrlOrSkip } from '../support/mysql.js';

export type ClientKind = 'aria2' | 'qbittorrent';
const BINARY: Record<ClientKind, string> = { aria2: 'aria2c', qbittorrent: 'qbittorrent-nox' };

export const SEEDER_ID = 1;
export const LEECHER_ID = 2;
export const TORRENT_ID = 7;
const FLUSH_MS = 200;
/** The scenario's announce interval is 2 s: privtrak caps a peer's seconds between announces at twice that. */
export const MAX_GAP_MS = 4000;

export interface SiteFixture {
  readonly dbUrl: string;
  readonly seederKey: string;
  readonly leecherKey: string;
  readonly infoHash: Buffer;
  readonly size: number;
}

export interface SiteScenario {
  /** The announce path for a passkey (the site's route). */
  announcePath(passkey: string): string;
  /** Creates the site's tables and inserts users and the torrent as the site would. */
  setup(f: SiteFixture): Promise<void>;
  /** The `site:` block (YAML flow mapping). */
  siteBlock(f: SiteFixture): string;
  /** Every row of the tables privtrak writes, in a stable order (for the before/after-crash comparison). */
  dump(f: SiteFixture): Promise<string>;
  /** Whether the tables show every peer stopped (the flushes are done). */
  settled(f: SiteFixture): Promise<boolean>;
  /** Compares the tables with the model of the served announces. */
  check(f: SiteFixture, announces: ModelAnnounce[], t: TestContext): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startClient(ws: Workspace, kind: ClientKind, torrent: string, dir: string, opts: { seed: boolean; name: string; maxUpload?: number }): Promise<BtClient> {
  return kind === 'aria2' ? ws.aria2(torrent, dir, opts) : ws.qbittorrent(torrent, dir, opts);
}

/** The served announces as the model takes them: user and torrent from the site's own IDs. */
function toModel(rec: RecordedAnnounce[], f: SiteFixture, scenario: SiteScenario): ModelAnnounce[] {
  const user = new Map([[scenario.announcePath(f.seederKey), SEEDER_ID], [scenario.announcePath(f.leecherKey), LEECHER_ID]]);
  return rec.filter((a) => a.infoHash.equals(f.infoHash)).map((a) => ({
    userId: user.get(a.path)!, torrentId: TORRENT_ID, peerIdHex: a.peerId.toString('hex'), ip: '127.0.0.1', port: a.port,
    agent: a.userAgent, uploaded: a.uploaded, downloaded: a.downloaded, left: a.left, event: a.event, timeMs: a.timeMs,
  }));
}

export async function runSiteScenario(t: TestContext, scenario: SiteScenario, seederKind: ClientKind, leecherKind: ClientKind): Promise<void> {
  if (!requireCommands(t, ['mktorrent', ...new Set([BINARY[seederKind], BINARY[leecherKind]])])) return;
  const server = await mysqlUrlOrSkip(t);
  if (server === undefined) return;
  const db = await freshDatabase(server);
  const ws = new Workspace();
  let tracker: ChildProcess | undefined;
  let log = '';
  let recorder: AnnounceRecorder | undefined;
  try {
    const trackerPort = await freePort();
    recorder = new AnnounceRecorder(trackerPort);
    const proxyPort = await recorder.listen();
    const seederKey = randomBytes(16).toString('hex');
    const leecherKey = randomBytes(16).toString('hex');
    const url = (passkey: string) => `http://127.0.0.1:${proxyPort}${scenario.announcePath(passkey)}`;
    const { payload, torrent: seedTorrent, name, seedDir } = ws.makeTorrent(url(seederKey));
    const leechTorrent = ws.path('leech.torrent');
    mktorrent(url(leecherKey), join(seedDir, name), leechTorrent);
    const f: SiteFixture = { dbUrl: db.url, seederKey, leecherKey, infoHash: infoHashOf(seedTorrent), size: payload.length };
    await scenario.setup(f);
    const configPath = ws.path('config.yaml');
    writeFileSync(configPath, [
      'log_level: info',
      'announce_interval: 2s',
      'min_announce_interval: 1s',
      'metrics_addr: ""',
      `user_key_secret: ${JSON.stringify(ws.path('user-key.secret'))}`,
      `site: ${scenario.siteBlock(f)}`,
      `http: {addr: "127.0.0.1:${trackerPort}"}`,
      'udp: {addr: ""}',
      'storage: {config: {peer_lifetime: 10m}}',
      'prehooks:',
      '  - name: privtrak',
      `    options: {journal_dir: ${JSON.stringify(ws.path('journal'))}, flush_interval: ${FLUSH_MS}ms}`,
    ].join('\n'));
    const start = async () => { tracker = await startTracker(configPath, { onOutput: (s) => { log += s; } }); };
    await start();

    const seeder = await startClient(ws, seederKind, seedTorrent, seedDir, { seed: true, name: `${seederKind}-seed`, maxUpload: 1024 * 1024 });
    await waitUntil(() => recorder!.served().length >= 1, 30_000, `${seederKind} to announce`);
    const leechDir = ws.path('leech');
    const leecher = await startClient(ws, leecherKind, leechTorrent, leechDir, { seed: false, name: `${leecherKind}-leech` });
    await ws.waitForFile(join(leechDir, name), payload, 60_000, `${leecherKind} download`);
    await sleep(1500); // libtorrent updates its counters once a second: let the last figures reach `stopped`
    await Promise.all([stopGracefully(leecher, 20_000), stopGracefully(seeder, 20_000)]);
    await waitUntil(async () => await scenario.settled(f), 20_000, 'the site tables to show every peer stopped');
    // Two reads several flushes apart agree: nothing is on its way.
    let before = '';
    await waitUntil(async () => {
      const now = await scenario.dump(f);
      const same = now === before;
      before = now;
      if (!same) await sleep(3 * FLUSH_MS);
      return same;
    }, 15_000, 'the site tables to stop changing');

    const served = toModel(recorder.served(), f, scenario);
    assert.ok(served.length >= 4, `announces served: ${served.length}`);
    assert.deepEqual(recorder.announces.filter((a) => a.failure !== '' && a.failure !== undefined).map((a) => a.failure), [], 'no announce refused');
    await scenario.check(f, served, t);
    t.diagnostic(`${served.length} announces served; events ${JSON.stringify(served.map((a) => `${a.userId}:${a.event}:${a.uploaded}/${a.downloaded}/${a.left}`))}`);

    // A crash after the flushes: the journal replay at start-up must not change one row.
    tracker!.kill('SIGKILL');
    await waitExit(tracker!);
    await start();
    await sleep(5 * FLUSH_MS);
    assert.equal(await scenario.dump(f), before, 'the site tables, row by row, after SIGKILL and restart');
  } catch (err) {
    t.diagnostic(`tracker log:\n${log.slice(-4000)}\nclients:\n${ws.logs()}`);
    throw err;
  } finally {
    if (tracker !== undefined) {
      tracker.kill('SIGKILL');
      await waitExit(tracker);
    }
    await recorder?.close();
    await ws.close();
    await db.drop();
  }
}

/** Rows of a query as JSON lines (Buffers as hex), for dumps. */
export async function rowsOf(url: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const [rows] = await mysqlExec(url, [sql]) as [Array<Record<string, unknown>>];
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('hex') : v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? Number(v) : v])));
}
