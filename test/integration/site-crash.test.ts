/**
 * Exactly once into the site's own database, through crashes (issue 12, point 3): a `privtrak
 * serve` process with a site profile under steady announce load, on a MariaDB server of the
 * test's own (test/support/private-mariadb.ts). At random moments the tracker is killed with
 * SIGKILL and restarted, and MariaDB itself is killed (SIGKILL: InnoDB crash recovery) and
 * restarted mid-flush. Afterwards every peer announces once more, and every user's totals in the
 * site's tables must be exactly the sum of its peers' final counters: nothing lost, nothing twice.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { PrivateMariaDb } from '../support/private-mariadb.js';
import { AnnounceLoad } from '../support/announce-load.js';
import { freePort, startTracker, waitExit } from '../support/tracker-process.js';
import { mysqlExec } from '../support/mysql.js';
import { UNIT3D_DDL } from '../sites/unit3d/schema.js';
import { gazelleDdl } from '../sites/gazelle/schema.js';

const RATE = 250;
const CHAOS_MS = 20_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Site {
  path(passkey: string): string;
  setup(url: string, passkeys: string[], infoHashes: Buffer[]): Promise<void>;
  block(url: string): Record<string, unknown>;
  /** [user id, uploaded, downloaded] per user, from the site's own totals. */
  totals(url: string): Promise<Array<[number, number, number]>>;
}

const SITES: Record<string, Site> = {
  unit3d: {
    path: (passkey) => `/announce/${passkey}`,
    async setup(url, passkeys, infoHashes) {
      await mysqlExec(url, [
        ...UNIT3D_DDL,
        "INSERT INTO `groups` (id, name, slug) VALUES (1, 'User', 'user')",
        ...passkeys.map((p, i): [string, unknown[]] => [
          "INSERT INTO users (id, username, email, password, passkey, group_id, rsskey) VALUES (?, ?, '', '', ?, 1, ?)", [i + 1, `u${i + 1}`, p, `rss${i + 1}`]]),
        ...infoHashes.map((ih, i): [string, unknown[]] => [
          "INSERT INTO torrents (id, name, description, info_hash, file_name, num_file, size, user_id, status) VALUES (?, ?, '', ?, '', 1, 1, 1, 1)", [i + 1, `t${i + 1}`, ih]]),
      ]);
    },
    block: (url) => ({ name: 'unit3d', url, api_key: 'crash-test-api-key-0123456789', timeout: '3s' }),
    async totals(url) {
      const [rows] = await mysqlExec(url, ['SELECT id, uploaded, downloaded FROM users ORDER BY id']) as [Array<Record<string, unknown>>];
      return rows.map((r) => [Number(r['id']), Number(r['uploaded']), Number(r['downloaded'])]);
    },
  },
  gazelle: {
    path: (passkey) => `/${passkey}/announce`,
    async setup(url, passkeys, infoHashes) {
      await mysqlExec(url, [
        ...gazelleDdl('ops'),
        ...passkeys.map((p, i): [string, unknown[]] => ["INSERT INTO users_main (ID, Username, Enabled, torrent_pass) VALUES (?, ?, '1', ?)", [i + 1, `u${i + 1}`, p]]),
        ...passkeys.map((_, i): [string, unknown[]] => ['INSERT INTO users_leech_stats (UserID) VALUES (?)', [i + 1]]),
        ...infoHashes.map((ih, i): [string, unknown[]] => ["INSERT INTO torrents (ID, info_hash, FreeTorrent) VALUES (?, ?, '0')", [i + 1, ih]]),
        ...infoHashes.map((_, i): [string, unknown[]] => ['INSERT INTO torrents_leech_stats (TorrentID) VALUES (?)', [i + 1]]),
      ]);
    },
    block: (url) => ({ name: 'gazelle', url, secret: 'crash-test-secret-0123456789', timeout: '3s' }),
    async totals(url) {
      const [rows] = await mysqlExec(url, ['SELECT UserID, Uploaded, Downloaded FROM users_leech_stats ORDER BY UserID']) as [Array<Record<string, unknown>>];
      return rows.map((r) => [Number(r['UserID']), Number(r['Uploaded']), Number(r['Downloaded'])]);
    },
  },
};

async function drill(t: TestContext, site: Site): Promise<void> {
  const db = await PrivateMariaDb.create(t);
  if (db === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-site-crash-'));
  let tracker: ChildProcess | undefined;
  let log = '';
  try {
    const port = await freePort();
    const load = new AnnounceLoad({ port, rate: RATE, users: 10, peersPerUser: 10, path: site.path, maxInFlight: 32 });
    await site.setup(db.url, load.passkeys(), load.infoHashes());
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, JSON.stringify({
      log_level: 'info', metrics_addr: '', announce_interval: '2s', min_announce_interval: '1s',
      user_key_secret: join(dir, 'secret'),
      site: site.block(db.url),
      http: { addr: `127.0.0.1:${port}` }, udp: { addr: '' },
      prehooks: [{ name: 'privtrak', options: { journal_dir: join(dir, 'journal'), flush_interval: '100ms', batch_size: 200, max_retry_backoff: '1s' } }],
    }));
    const start = async () => { tracker = await startTracker(configPath, { onOutput: (s) => { log = (log + s).slice(-20_000); }, timeoutMs: 30_000 }); };
    await start();
    load.start();
    const events: string[] = [];
    const until = Date.now() + CHAOS_MS;
    let round = 0;
    while (Date.now() < until) {
      await sleep(1000 + Math.floor(Math.random() * 2500));
      if (round++ % 2 === 0) {
        tracker!.kill('SIGKILL');
        await waitExit(tracker!);
        events.push(`tracker SIGKILL at ${load.counts.accepted} accepted`);
        await start();
      } else {
        await db.restart('SIGKILL');
        events.push(`MariaDB SIGKILL + restart at ${load.counts.accepted} accepted`);
      }
    }
    await load.stop();
    await load.finalRound(60_000);
    const expected = load.expected();
    const want = load.passkeys().map((p, i): [number, number, number] => [i + 1, Number(expected.get(p)?.up ?? 0n), Number(expected.get(p)?.down ?? 0n)]);
    let got: Array<[number, number, number]> = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      got = await site.totals(db.url);
      if (JSON.stringify(got) === JSON.stringify(want)) break;
      await sleep(300);
    }
    t.diagnostic(`${events.join('; ')}; load ${JSON.stringify(load.counts)}`);
    assert.ok(load.counts.accepted > RATE * 5, `enough load: ${load.counts.accepted} accepted`);
    assert.ok(events.some((e) => e.startsWith('tracker')) && events.some((e) => e.startsWith('MariaDB')), `both kinds of crash happened: ${events.join('; ')}`);
    assert.deepEqual(got, want, 'every user\'s site totals = the sum of its peers\' final counters');
    // And it stays so: a restart replays nothing twice.
    tracker!.kill('SIGKILL');
    await waitExit(tracker!);
    await start();
    await sleep(1000);
    assert.deepEqual(await site.totals(db.url), want, 'unchanged after one more SIGKILL and restart');
  } catch (err) {
    t.diagnostic(`tracker log (tail):\n${log.slice(-5000)}`);
    throw err;
  } finally {
    if (tracker !== undefined) {
      tracker.kill('SIGKILL');
      await waitExit(tracker);
    }
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('site writes exactly once through tracker and MariaDB crashes', { timeout: 300_000 }, () => {
  for (const [name, site] of Object.entries(SITES)) {
    it(`${name}: kill -9 of the tracker and of MariaDB at random moments under load`, { timeout: 150_000 }, (t) => drill(t, site));
  }
});
