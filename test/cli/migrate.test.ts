/**
 * `privtrak migrate` on data from before user keys (issue 11), as an operator meets it: the
 * tracker refuses to start (LEGACY_DATA) and says what to run; migrate refuses, changing nothing,
 * while some old passkey maps to no user, and lists them; with `--history` it rekeys the sink, the
 * journal and the checkpoints, merging two passkeys of one site user; the tracker then starts,
 * replays the journal under the new keys, and a peer carries on from its old baseline.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import pg from 'pg';
import { MAIN } from '../support/tracker-process.js';
import { escapeBytes, get } from '../support/http-client.js';
import { postgresUrlOrSkip, freshSchema } from '../support/postgres.js';
import {
  LEGACY_IH, LEGACY_PEER, legacyDelta, writeLegacyCheckpoint, writeLegacyJournal, writeLegacyLogSink, writeLegacySqlite,
} from '../support/legacy-fixtures.js';
import { Tracker } from '../../src/tracker.js';
import { loadConfigFile } from '../../src/config/load.js';
import { readCheckpoint } from '../../src/middleware/privtrak/checkpoint.js';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import { hashedPasskeyKey, siteUserKey } from '../../src/accounting/user-key.js';

const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'; // site user 7's old passkey: only in the history
const B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'; // site user 7's passkey now
const C = 'cccccccccccccccccccccccccccccccc'; // in the registry without a site ID
const D = 'dddddddddddddddddddddddddddddddd'; // nowhere: the history says site user 9

const applied = [legacyDelta(1, A, 100, 100, 1000), legacyDelta(2, B, 50, 50, 2000), legacyDelta(3, C, 10, 10, 1500), legacyDelta(4, D, 1, 1, 1600)];
const journalled = [...applied, legacyDelta(5, A, 7, 107, 3000), legacyDelta(6, B, 3, 53, 4000)];

function workspace(sinkYaml: string, registry: boolean): { dir: string; config: string; cli: (...args: string[]) => ReturnType<typeof spawnSync> } {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-migrate-'));
  writeFileSync(join(dir, 'users.csv'), `passkey,site_id,enabled,can_leech\n${B},7,true,true\n${C},,true,true\n`);
  writeFileSync(join(dir, 'torrents.csv'), 'info_hash,site_id,banned,download_multiplier,upload_multiplier\n');
  const config = join(dir, 'config.yaml');
  writeFileSync(config, [
    'metrics_addr: ""', 'log_level: silent', 'http: {addr: "127.0.0.1:0"}', 'udp: {addr: ""}',
    `user_key_secret: ${JSON.stringify(join(dir, 'user-key.secret'))}`,
    ...(registry ? [`registry: {source: file, users: ${JSON.stringify(join(dir, 'users.csv'))}, torrents: ${JSON.stringify(join(dir, 'torrents.csv'))}}`] : []),
    'prehooks:',
    ...(registry ? ['  - name: user_approval'] : []),
    '  - name: privtrak',
    `    options: {journal_dir: ${JSON.stringify(join(dir, 'journal'))}, flush_interval: 20ms, sink: ${sinkYaml.replaceAll('$DIR', dir)}}`,
  ].join('\n'));
  const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args, '--config', config], { encoding: 'utf8', cwd: dir, timeout: 20_000 });
  return { dir, config, cli };
}

/** Every file of `dir` except the registry's own and the history (which hold passkeys by design). */
function passkeysAtRest(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  for (const f of walk(dir)) {
    if (/users\.csv$|history\.csv$|config\.yaml$/.test(f)) continue;
    const bytes = readFileSync(f);
    for (const p of [A, B, C, D]) {
      if (bytes.toString('latin1').includes(p) || bytes.includes(Buffer.from(p, 'hex'))) found.push(`${f}: ${p}`);
    }
  }
  return found;
}

/** Starts the tracker in-process (it replays the journal), lets `during` announce, stops it. */
async function serve(config: string, during: (port: number) => Promise<void> = async () => undefined): Promise<void> {
  const tracker = new Tracker(loadConfigFile(config), pino({ level: 'silent' }), { defaultMetrics: false });
  await tracker.start();
  try {
    await during(tracker.port('http'));
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    assert.deepEqual(await tracker.stop(), []);
  }
}

type Row = { site_user_id?: number; user?: string; uploaded: number };

function stats(cli: ReturnType<typeof workspace>['cli'], ...args: string[]): Row[] {
  const r = cli('stats', '--json', ...args);
  assert.equal(r.status, 0, String(r.stderr));
  return String(r.stdout).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
}

describe('privtrak migrate', () => {
  it('registry mode, SQLite: refuses to start, refuses to half-migrate, then rekeys and merges; the tracker carries on', async () => {
    const ws = workspace('{name: sqlite, path: $DIR/stats.sqlite, delta_log: true}', true);
    try {
      await writeLegacySqlite(join(ws.dir, 'stats.sqlite'), applied);
      const segment = writeLegacyJournal(join(ws.dir, 'journal'), journalled);
      writeLegacyCheckpoint(join(ws.dir, 'journal'), 'baselines.ckpt', 4, applied);

      const refused = ws.cli('serve');
      assert.equal(refused.status, 1, String(refused.stderr));
      assert.match(String(refused.stderr), /^privtrak: the SQLite sink .* holds accounting data keyed by passkeys .*run `privtrak migrate --config FILE`/m);

      const before = readFileSync(segment);
      const unmapped = ws.cli('migrate');
      assert.equal(unmapped.status, 1, String(unmapped.stderr));
      assert.match(String(unmapped.stderr), /2 legacy user key\(s\) map to no user .*aaaaaaaa.*, dddddddd.*--history FILE.*Nothing was changed/);
      assert.deepEqual(readFileSync(segment), before, 'the journal is untouched');
      const db = new Database(join(ws.dir, 'stats.sqlite'), { readonly: true });
      assert.equal(db.prepare('SELECT max(version) FROM privtrak_schema_version').pluck().get(), 1, 'the sink is untouched');
      db.close();

      writeFileSync(join(ws.dir, 'history.csv'), `passkey,site_id\n${A},7\n${D.toUpperCase()},9\n`);
      const done = ws.cli('migrate', '--history', join(ws.dir, 'history.csv'));
      assert.equal(done.status, 0, String(done.stderr));
      assert.match(String(done.stdout), /rekeyed 4 legacy user key\(s\) \(passkeys\) to 3 user key\(s\): the sqlite sink and 2 file\(s\) in /);
      assert.deepEqual(passkeysAtRest(ws.dir), [], 'no passkey left in what privtrak keeps');
      assert.equal(readdirSync(join(ws.dir, 'journal')).filter((f) => f.includes('tmp')).length, 0);
      // The checkpoint: A's and B's baselines of the same client are one site user's now; the later one is kept.
      const cp = readCheckpoint(join(ws.dir, 'journal'))!;
      assert.equal(cp.legacy, false);
      assert.equal(cp.entries.length, 3);
      const site7 = cp.entries.find((e) => e.key.subarray(0, 16).equals(siteUserKey(7)))!;
      assert.equal(site7.baseline.uploaded, 50);
      assert.match(String(ws.cli('migrate').stdout), /sqlite schema is up to date/, 'idempotent');

      // The journal is replayed under the new keys (seq 5 and 6), and the client carries on from its baseline (53).
      await serve(ws.config, async (port) => {
        const r = await get(port, `/${B}/announce?info_hash=${escapeBytes(LEGACY_IH)}&peer_id=${escapeBytes(LEGACY_PEER)}&port=1&uploaded=60&downloaded=0&left=0`);
        assert.doesNotMatch(r.body.toString('latin1'), /failure/);
      });
      const secret = readFileSync(join(ws.dir, 'user-key.secret'));
      assert.deepEqual(stats(ws.cli).map((r) => [r.site_user_id ?? r.user, r.uploaded]), [
        [7, 100 + 50 + 7 + 3 + 7], [9, 1], [hashedPasskeyKey(secret, C).toString('hex'), 10],
      ]);
      assert.deepEqual(stats(ws.cli, '--user', B).map((r) => r.uploaded), [167]);
      assert.deepEqual(stats(ws.cli, '--site-user', '9').map((r) => r.uploaded), [1]);
      assert.deepEqual(stats(ws.cli, '--user', C).map((r) => r.uploaded), [10]);
      const log = new Database(join(ws.dir, 'stats.sqlite'), { readonly: true });
      try {
        const users = log.prepare('SELECT DISTINCT hex(user_id) FROM privtrak_delta_log ORDER BY 1').pluck().all() as string[];
        assert.deepEqual(users.map((u) => u.toLowerCase()), [siteUserKey(7), siteUserKey(9), hashedPasskeyKey(secret, C)].map((k) => k.toString('hex')));
      } finally {
        log.close();
      }
    } finally {
      rmSync(ws.dir, { recursive: true, force: true });
    }
  });

  it('open mode, log sink: every passkey becomes its keyed hash; --unmapped and --history are checked', async () => {
    const ws = workspace('{name: log, path: $DIR/deltas.ndjson}', false);
    try {
      writeLegacyLogSink(join(ws.dir, 'deltas.ndjson'), applied);
      writeLegacyJournal(join(ws.dir, 'journal'), journalled);
      writeLegacyCheckpoint(join(ws.dir, 'journal'), 'baselines.ckpt.prev', 2, applied.slice(0, 2));

      const refused = ws.cli('serve');
      assert.equal(refused.status, 1);
      assert.match(String(refused.stderr), /the log sink's .*deltas\.ndjson holds accounting data keyed by passkeys/);
      assert.equal(ws.cli('migrate', '--history', join(ws.dir, 'users.csv')).status, 2, '--history needs a registry');
      const done = ws.cli('migrate');
      assert.equal(done.status, 0, String(done.stderr));
      assert.ok(!existsSync(join(ws.dir, 'deltas.ndjson.v1')));
      assert.deepEqual(passkeysAtRest(ws.dir), []);
      assert.equal(readCheckpoint(join(ws.dir, 'journal'), 'baselines.ckpt.prev')!.legacy, false);
      await serve(ws.config);
      const secret = readFileSync(join(ws.dir, 'user-key.secret'));
      const totals = new Map(stats(ws.cli).map((r) => [r.user, r.uploaded]));
      assert.deepEqual(totals, new Map([[A, 107], [B, 53], [C, 10], [D, 1]].map(([p, up]) => [hashedPasskeyKey(secret, p as string).toString('hex'), up])));
      assert.deepEqual(stats(ws.cli, '--user', A).map((r) => r.uploaded), [107]);
    } finally {
      rmSync(ws.dir, { recursive: true, force: true });
    }
  });

  it('registry mode, PostgreSQL: refuses to open, then rekeys in one transaction, merging two passkeys of one user', async (t) => {
    const url = await postgresUrlOrSkip(t);
    if (url === undefined) return;
    const schema = await freshSchema(url);
    const ws = workspace(`{name: postgres, url: "${url}", schema: ${schema.name}, delta_log: true}`, true);
    try {
      const legacy = new PostgresSink({ url, schema: schema.name, deltaLog: true });
      await legacy.migrate();
      await legacy.open();
      await legacy.apply({ id: 6, instance: 'default', deltas: journalled });
      await legacy.close();
      const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema.name}` });
      await client.connect();
      try {
        await client.query('DELETE FROM privtrak_schema_version; INSERT INTO privtrak_schema_version (version) VALUES (1)');
        const refused = ws.cli('serve');
        assert.equal(refused.status, 1);
        assert.match(String(refused.stderr), /the postgres sink's schema ".*" holds accounting data keyed by passkeys/);
        assert.equal(ws.cli('migrate').status, 1, 'A and D map to no user');
        assert.equal((await client.query('SELECT max(version) AS v FROM privtrak_schema_version')).rows[0].v, 1, 'nothing changed');
        // A is site user 7's old passkey (history); D is nobody's: kept under its hashed key, as open mode would.
        writeFileSync(join(ws.dir, 'history.csv'), `${A},7\n`);
        const done = ws.cli('migrate', '--history', join(ws.dir, 'history.csv'), '--unmapped', 'hash');
        assert.equal(done.status, 0, String(done.stderr));
        const logUsers = (await client.query('SELECT DISTINCT encode(user_id, \'hex\') AS u FROM privtrak_delta_log ORDER BY 1')).rows.map((r) => r.u);
        const secret = readFileSync(join(ws.dir, 'user-key.secret'));
        assert.deepEqual(logUsers, [siteUserKey(7), hashedPasskeyKey(secret, C), hashedPasskeyKey(secret, D)].map((k) => k.toString('hex')).sort());
        const torrents = (await client.query('SELECT count(*)::int AS n FROM privtrak_torrent_stats')).rows[0].n;
        assert.equal(torrents, 3, 'one row per (user, info_hash): A\'s and B\'s merged');
        assert.equal(ws.cli('migrate', '--unmapped', 'maybe').status, 2);
      } finally {
        await client.end();
      }
      const secret = readFileSync(join(ws.dir, 'user-key.secret'));
      const rows = stats(ws.cli).map((r) => [r.site_user_id ?? r.user, r.uploaded]);
      assert.deepEqual(rows[0], [7, 160]);
      assert.deepEqual(new Map(rows.slice(1) as Array<[string, number]>), new Map([
        [hashedPasskeyKey(secret, C).toString('hex'), 10], [hashedPasskeyKey(secret, D).toString('hex'), 1],
      ]));
    } finally {
      rmSync(ws.dir, { recursive: true, force: true });
      await schema.drop();
    }
  });
});
