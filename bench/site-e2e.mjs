// Does the site sink keep up with the tracker? (issue 12, point 6) A `privtrak serve` with a site
// profile (site: unit3d or gazelle) on a MariaDB holding the site's tables, under wrk at full speed
// (tracker pinned to core 0, wrk to core 1, MariaDB wherever the kernel puts it: on a 2-core machine
// it shares the tracker's and wrk's cores, as a site's database would share a small box).
// Every announce becomes a delta the site writer must put into MariaDB; if the writer were slower
// than the tracker, the deltas waiting for it (privtrak_deltas_pending) would grow for the whole
// run. Reported: announces/s served, pending deltas sampled every 2 s (max and at the end of the
// load), and how long the backlog takes to drain after the load stops.
//
// usage: node bench/site-e2e.mjs [--site unit3d|gazelle] [--seconds 30] [--conns 64] [--close]
//          [--users 100000] [--torrents 100000] [--peers 100000] [--mysql mysql://root@127.0.0.1:3306/test]
// TRACKER_CPU_PROF=dir profiles the tracker (node --cpu-prof). Needs wrk and taskset; build first (npx tsc -p tsconfig.json). Bounded: setup, SECONDS of load, ≤ 60 s of drain.
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import mysql from 'mysql2/promise';
import { UNIT3D_DDL, STRICT_MODE } from '../dist/test/sites/unit3d/schema.js';
import { gazelleDdl } from '../dist/test/sites/gazelle/schema.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    site: { type: 'string', default: 'unit3d' },
    seconds: { type: 'string', default: '30' },
    conns: { type: 'string', default: '64' },
    close: { type: 'boolean', default: false },
    users: { type: 'string', default: '100000' },
    torrents: { type: 'string', default: '100000' },
    peers: { type: 'string', default: '100000' },
    mysql: { type: 'string', default: 'mysql://root@127.0.0.1:3306/test' },
  },
});
const SITE = args.site === 'gazelle' ? 'gazelle' : 'unit3d';
const SECONDS = Math.min(Number(args.seconds), 120);
const USERS = Number(args.users);
const TORRENTS = Number(args.torrents);
const log = (...a) => console.error(...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const passkey = (k) => k.toString(16).padStart(32, '0');
/** bench/http-announce.lua's info_hash i: 12 zero bytes, beefbeef, i as u32. */
const infoHash = (i) => { const b = Buffer.alloc(20); b.writeUInt32BE(0xbeefbeef, 12); b.writeUInt32BE(i, 16); return b; };

function freePort() {
  return new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}

const dbName = `privtrak_site_e2e_${randomBytes(4).toString('hex')}`;
const admin = await mysql.createConnection({ uri: args.mysql });
await admin.query(`CREATE DATABASE ${dbName}`);
const u = new URL(args.mysql);
u.pathname = `/${dbName}`;
const url = u.toString();
const conn = await mysql.createConnection({ uri: url });
const dir = mkdtempSync(join(tmpdir(), 'privtrak-site-e2e-'));
let tracker;
try {
  await conn.query(STRICT_MODE);
  /** Inserts rows 1..n, 5,000 per statement. */
  const insert = async (head, n, f) => {
    for (let i = 1; i <= n; i += 5000) await conn.query(`${head} VALUES ${Array.from({ length: Math.min(5000, n - i + 1) }, (_, j) => f(i + j)).join(',')}`);
  };
  if (SITE === 'unit3d') {
    for (const ddl of UNIT3D_DDL) await conn.query(ddl);
    await conn.query("INSERT INTO `groups` (id, name, slug) VALUES (1, 'User', 'user')");
    await insert('INSERT INTO users (id, username, email, password, passkey, group_id, rsskey)', USERS, (id) => `(${id},'u${id}','','','${passkey(id)}',1,'r${id}')`);
    await insert('INSERT INTO torrents (id, name, description, info_hash, file_name, num_file, size, user_id, status)', TORRENTS, (id) => `(${id},'t${id}','',X'${infoHash(id).toString('hex')}','',1,1,1,1)`);
  } else {
    for (const ddl of gazelleDdl('ops')) await conn.query(ddl);
    await insert('INSERT INTO users_main (ID, Username, Enabled, torrent_pass)', USERS, (id) => `(${id},'u${id}','1','${passkey(id)}')`);
    await conn.query('INSERT INTO users_leech_stats (UserID) SELECT ID FROM users_main');
    await insert('INSERT INTO torrents (ID, info_hash, FreeTorrent)', TORRENTS, (id) => `(${id},X'${infoHash(id).toString('hex')}','0')`);
    await conn.query('INSERT INTO torrents_leech_stats (TorrentID) SELECT ID FROM torrents');
  }
  const port = await freePort();
  const metricsPort = await freePort();
  const site = SITE === 'unit3d'
    // Many peers of one user share a torrent in this load: the per-user limit is raised so none is refused.
    ? { name: 'unit3d', url, api_key: 'k'.repeat(32), max_peers_per_torrent_per_user: 100000 }
    : { name: 'gazelle', url, secret: 's'.repeat(32) };
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, JSON.stringify({
    log_level: 'warn', metrics_addr: `127.0.0.1:${metricsPort}`, user_key_secret: join(dir, 'secret'), site,
    http: { addr: `127.0.0.1:${port}`, keep_alive: !args.close }, udp: { addr: '' },
    prehooks: [{ name: 'privtrak', options: { journal_dir: join(dir, 'journal'), max_pending: 2_000_000 } }],
  }));
  const prof = process.env['TRACKER_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['TRACKER_CPU_PROF']}`] : [];
  tracker = spawn('taskset', ['-c', process.env['TRACKER_CORES'] ?? '0', process.execPath, ...prof, join(ROOT, 'dist/src/cli/main.js'), 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  tracker.stdout.on('data', (c) => { out += c; });
  tracker.stderr.on('data', (c) => { out += c; });
  const metric = async (name, match = '') => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const m = new RegExp(`^${name}${match ? `\\{[^}]*${match}[^}]*\\}` : ''} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  for (let i = 0; ; i++) {
    try { await metric('privtrak_deltas_pending'); break; } catch { if (i > 150) throw new Error(`tracker did not start:\n${out}`); await sleep(200); }
  }
  const wrkArgs = ['-c', '1', 'wrk', '-t1', `-c${args.conns}`, `-d${SECONDS}s`, '--timeout', '5s', '-s', join(ROOT, 'bench/http-announce.lua'),
    `http://127.0.0.1:${port}`, '--', `IH_POOL=${TORRENTS}`, `PEER_POOL=${args.peers}`, 'NUMWANT=50', `CLOSE=${args.close ? 1 : 0}`,
    `PASSKEY_POOL=${USERS}`, `PATH_FORMAT=${SITE === 'unit3d' ? '/announce/%s' : '/%s/announce'}`, 'FIXED_IH=1', 'COUNTERS=1'];
  const ok0 = await metric('privtrak_requests_total', 'action="announce",outcome="ok"');
  const wrk = spawn('taskset', wrkArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let wrkOut = '';
  wrk.stdout.on('data', (c) => { wrkOut += c; });
  const samples = [];
  const t0 = Date.now();
  const done = new Promise((r) => wrk.on('exit', r));
  let finished = false;
  done.then(() => { finished = true; });
  while (!finished) {
    await Promise.race([sleep(2000), done]);
    samples.push({ s: Math.round((Date.now() - t0) / 1000), pending: await metric('privtrak_deltas_pending') });
  }
  const loadSecs = (Date.now() - t0) / 1000;
  const ok = (await metric('privtrak_requests_total', 'action="announce",outcome="ok"')) - ok0;
  const refused = await metric('privtrak_requests_total', 'action="announce",outcome="client_error"');
  const atEnd = samples.at(-1)?.pending ?? 0;
  const d0 = Date.now();
  while ((await metric('privtrak_deltas_pending')) > 0 && Date.now() - d0 < 60_000) await sleep(200);
  const drainMs = Date.now() - d0;
  const left = await metric('privtrak_deltas_pending');
  const flushes = await metric('privtrak_flush_duration_seconds_count');
  const flushSum = await metric('privtrak_flush_duration_seconds_sum');
  console.log(`${SITE === 'unit3d' ? 'UNIT3D' : 'Gazelle'} site, ${args.close ? 'connection close' : 'keep-alive'}, ${USERS} users, ${TORRENTS} torrents, ${args.peers} peers, ${SECONDS} s of wrk -c${args.conns}:`);
  console.log(`  announces served: ${Math.round(ok / loadSecs).toLocaleString('en-US')}/s (${ok} ok, ${refused} refused); pending deltas every 2 s: ${samples.map((x) => x.pending).join(' ')}`);
  console.log(`  max pending ${Math.max(...samples.map((x) => x.pending))}, at the end of the load ${atEnd}, drained in ${drainMs} ms (${left} left); ${flushes} flushes, mean ${(flushSum / Math.max(flushes, 1) * 1000).toFixed(0)} ms`);
  if (!/Requests\/sec/.test(wrkOut)) log(wrkOut);
} finally {
  if (tracker !== undefined && tracker.exitCode === null) {
    const exited = new Promise((r) => tracker.once('exit', r));
    tracker.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    tracker.kill('SIGKILL');
  }
  await conn.end();
  await admin.query(`DROP DATABASE ${dbName}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
