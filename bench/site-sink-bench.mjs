// Site sink benchmark (issue 12): how many deltas per second a site writer sustains into MariaDB with
// the site's own tables, 100,000 users and 100,000 torrents: the UNIT3D writer (site: unit3d,
// UNIT3D's tables) or, with --site gazelle, the Gazelle writer (OPS Gazelle's tables).
//
// A fresh database gets UNIT3D's tables (the tests' DDL, dist/test/sites/unit3d/schema.js), 100,000
// users and 100,000 torrents. A population of PEERS peers (a random user and torrent each) then
// announces: each delta picks a random peer and moves it as a client would — `started` when it is
// not active, then mostly regular announces with growing counters, some completing (leecher to
// seeder, a snatch), some stopping; 10% double upload, 20% freeleech. Deltas are journal records
// (what the flusher hands to sinks), in batches of BATCH applied back to back through the writer
// from dist/ for SECONDS: the writer's ceiling, sustained (the first batches insert peers and
// history rows, later ones mostly update them; the second half is reported apart). Then one
// reaper round over the peers table that built up.
//
// CPU per delta is reported per thread: the announce thread's (the process's main thread, less the
// time this script spends making the records) and the rest of the process (the UNIT3D writer's
// worker thread, V8's helper threads); --inline runs the UNIT3D writer's database half on the main
// thread instead (as before it had a thread of its own).
//
// usage: node bench/site-sink-bench.mjs [--site unit3d|gazelle] [--seconds 60] [--batch 10000] [--peers 300000] [--mysql URL] [--inline]
// Build first (npx tsc -p tsconfig.json). Bounded: setup ≈ 10 s, SECONDS of batches, then the drop.
import { parseArgs } from 'node:util';
import { readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { Unit3dWriter } from '../dist/src/sites/unit3d/writer.js';
import { GazelleWriter } from '../dist/src/sites/gazelle/writer.js';
import { unit3dSiteSchema, gazelleSiteSchema } from '../dist/src/sites/config.js';
import { PeerExtras } from '../dist/src/sites/peer-extras.js';
import { siteUserKey } from '../dist/src/accounting/user-key.js';
import { RecordBatch } from '../dist/src/accounting/record-batch.js';
import { RECORD_SIZE, encodeRecordInto } from '../dist/src/accounting/delta-record.js';
import { UNIT3D_DDL, STRICT_MODE } from '../dist/test/sites/unit3d/schema.js';
import { gazelleDdl } from '../dist/test/sites/gazelle/schema.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    batch: { type: 'string', default: '10000' },
    peers: { type: 'string', default: '300000' },
    mysql: { type: 'string', default: 'mysql://root@127.0.0.1:3306/test' },
    site: { type: 'string', default: 'unit3d' },
    inline: { type: 'boolean', default: false },
  },
});
const SECONDS = Math.min(Number(args.seconds), 100);
const SITE = args.site === 'gazelle' ? 'gazelle' : 'unit3d';
const BATCH = Number(args.batch);
const PEERS = Number(args.peers);
const USERS = 100_000;
const TORRENTS = 100_000;
const log = (...a) => console.error(...a);
const rnd = (n) => Math.floor(Math.random() * n);

// ---- the site --------------------------------------------------------------------------------------

const dbName = `privtrak_bench_${randomBytes(4).toString('hex')}`;
const admin = await mysql.createConnection({ uri: args.mysql });
await admin.query(`CREATE DATABASE ${dbName}`);
const u = new URL(args.mysql);
u.pathname = `/${dbName}`;
const url = u.toString();
const conn = await mysql.createConnection({ uri: url, multipleStatements: true });
const infoHash = (id) => { const b = Buffer.alloc(20, 0x42); b.writeUInt32BE(id, 16); return b; };

async function setupGazelle() {
  for (const ddl of gazelleDdl('ops')) await conn.query(ddl);
  for (let i = 1; i <= USERS; i += 5000) {
    const v = [];
    for (let id = i; id < i + 5000 && id <= USERS; id++) v.push(`(${id},'u${id}','1','${id.toString(16).padStart(32, '0')}')`);
    await conn.query(`INSERT INTO users_main (ID, Username, Enabled, torrent_pass) VALUES ${v.join(',')}`);
    await conn.query(`INSERT INTO users_leech_stats (UserID) SELECT ID FROM users_main WHERE ID BETWEEN ${i} AND ${i + 4999}`);
  }
  for (let i = 1; i <= TORRENTS; i += 5000) {
    const v = [];
    for (let id = i; id < i + 5000 && id <= TORRENTS; id++) v.push(`(${id},X'${infoHash(id).toString('hex')}','0')`);
    await conn.query(`INSERT INTO torrents (ID, info_hash, FreeTorrent) VALUES ${v.join(',')}`);
    await conn.query(`INSERT INTO torrents_leech_stats (TorrentID) SELECT ID FROM torrents WHERE ID BETWEEN ${i} AND ${i + 4999}`);
  }
}

async function setup() {
  const t0 = performance.now();
  await conn.query(STRICT_MODE);
  if (SITE === 'gazelle') {
    await setupGazelle();
    log(`setup (gazelle): ${USERS} users, ${TORRENTS} torrents in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return;
  }
  for (const ddl of UNIT3D_DDL) await conn.query(ddl);
  await conn.query("INSERT INTO `groups` (id, name, slug) VALUES (1, 'User', 'user')");
  for (let i = 1; i <= USERS; i += 5000) {
    const v = [];
    for (let id = i; id < i + 5000 && id <= USERS; id++) v.push(`(${id},'u${id}','u${id}@x','x','pk${id}',1,'rss${id}',NOW(),NOW())`);
    await conn.query(`INSERT INTO users (id, username, email, password, passkey, group_id, rsskey, created_at, updated_at) VALUES ${v.join(',')}`);
  }
  for (let i = 1; i <= TORRENTS; i += 5000) {
    const v = [];
    for (let id = i; id < i + 5000 && id <= TORRENTS; id++) v.push(`(${id},'t${id}','',X'${infoHash(id).toString('hex')}','f',1,1e9,1,1,NOW(),NOW())`);
    await conn.query(`INSERT INTO torrents (id, name, description, info_hash, file_name, num_file, size, user_id, status, created_at, updated_at) VALUES ${v.join(',')}`);
  }
  log(`setup: ${USERS} users, ${TORRENTS} torrents in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

// ---- deltas ----------------------------------------------------------------------------------------

const USER_KEYS = new Map();
const keyOf = (id) => { let k = USER_KEYS.get(id); if (!k) USER_KEYS.set(id, (k = siteUserKey(id))); return k; };
/** The peer population: each a user on a torrent with its client's counters. */
const peers = Array.from({ length: PEERS }, (_, i) => {
  const peerId = Buffer.from(`-qB4520-${String(i).padStart(12, '0')}`);
  return { user: 1 + rnd(USERS), torrent: 1 + rnd(TORRENTS), peerId, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    up: 0, down: 0, left: rnd(4) === 0 ? 0 : 1 + rnd(1 << 30), active: false, lastMs: 0 };
});
const counts = { started: 0, none: 0, completed: 0, stopped: 0 };
let seq = 0;

function records(count) {
  const out = Buffer.allocUnsafe(count * RECORD_SIZE);
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const p = peers[rnd(PEERS)];
    let event = 'none';
    let dUp = 0;
    let dDown = 0;
    let snatch = false;
    const wasSeeder = p.left === 0;
    if (!p.active) {
      event = 'started';
      p.active = true;
    } else if (rnd(100) < 6) {
      event = 'stopped';
      p.active = false;
    } else {
      dUp = rnd(1 << 26);
      p.up += dUp;
      if (p.left > 0) {
        dDown = Math.min(p.left, rnd(1 << 28));
        p.down += dDown;
        p.left -= dDown;
        if (p.left > 0 && rnd(100) < 15) { dDown += p.left; p.down += p.left; p.left = 0; }
        if (p.left === 0) { event = 'completed'; snatch = true; }
      }
    }
    counts[event]++;
    const gap = p.lastMs === 0 ? 0 : Math.min(3600, Math.floor((now - p.lastMs) / 1000));
    p.lastMs = now;
    const up = rnd(10) === 0 ? dUp * 2 : dUp;
    const down = rnd(5) === 0 ? 0 : dDown;
    encodeRecordInto({
      seq: ++seq, user: keyOf(p.user), infoHash: infoHash(p.torrent), peerId: p.peerId, ip: p.ip, port: 6881,
      event, uploaded: p.up, downloaded: p.down, left: p.left, deltaUp: dUp, deltaDown: dDown, creditUp: up, creditDown: down,
      siteTorrentId: p.torrent, seedTime: event !== 'started' && wasSeeder ? gap : 0, leechTime: event !== 'started' && !wasSeeder ? gap : 0,
      snatch, flags: 0, timeMs: now,
      baseline: event === 'stopped' ? null : { uploaded: p.up, downloaded: p.down, left: p.left, lastMs: now },
    }, out, i * RECORD_SIZE);
  }
  return out;
}

// ---- measuring -------------------------------------------------------------------------------------

/** CPU seconds of this process's main thread (the announce thread in a tracker): its task's utime + stime. */
function mainThreadCpuSeconds() {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function serverCpuSeconds(names = ['mariadbd', 'mysqld']) {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!names.includes(comm)) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return ticks / 100;
}

async function rowsByTable(registry) {
  const m = registry.getSingleMetric(SITE === 'gazelle' ? 'privtrak_site_gazelle_rows_written_total' : 'privtrak_site_rows_written_total');
  const out = {};
  for (const v of (await m.get()).values) out[v.labels.table] = v.value;
  return out;
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const f = (n) => Math.round(n).toLocaleString('en-US');

// ---- main ------------------------------------------------------------------------------------------

const registry = new Registry();
const siteDeps = {
  logger: pino({ level: 'warn' }), prometheus: registry, store: undefined, announceIntervalMs: 1_800_000, peerLifetimeMs: 2_400_000, extras: new PeerExtras(),
};
const writer = SITE === 'gazelle'
  ? new GazelleWriter(gazelleSiteSchema.parse({ name: 'gazelle', url, secret: 's'.repeat(32), reap_interval: '1h' }), { hasToken: () => false, isProtected: () => false }, siteDeps)
  : new Unit3dWriter(unit3dSiteSchema.parse({ name: 'unit3d', url, api_key: 'k'.repeat(32), reap_interval: 0 }), { immune: () => false }, siteDeps,
    { thread: !args.inline });
try {
  await setup();
  await writer.open();
  const lat = [];
  const half = [];
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuSeconds();
  const elu0 = writer.thread?.eventLoopUtilization();
  let genMs = 0;
  const srv0 = serverCpuSeconds();
  const t0 = performance.now();
  let n = 0;
  let mid;
  while (performance.now() - t0 < SECONDS * 1000) {
    // This thread's CPU (tick-grained, unbiased over many batches), not wall time: the machine may be shared.
    const g = mainThreadCpuSeconds();
    const batch = new RecordBatch('bench', records(BATCH));
    genMs += (mainThreadCpuSeconds() - g) * 1000;
    const s = performance.now();
    await writer.apply(batch);
    lat.push(performance.now() - s);
    n += BATCH;
    if (mid === undefined && performance.now() - t0 >= (SECONDS * 1000) / 2) mid = { t: performance.now(), n, rows: await rowsByTable(registry) };
    else if (mid !== undefined) half.push(performance.now() - s);
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainCpu = mainThreadCpuSeconds() - main0 - genMs / 1000;
  const elu = elu0 === undefined ? undefined : writer.thread?.eventLoopUtilization();
  const workerActiveMs = elu === undefined ? undefined : elu.active - elu0.active;
  const srv = serverCpuSeconds() - srv0;
  const rows = await rowsByTable(registry);
  const secondHalf = mid === undefined ? undefined : { rate: (n - mid.n) / ((performance.now() - mid.t) / 1000) };
  const peersTable = SITE === 'gazelle' ? 'xbt_files_users' : 'peers';
  const [[{ peersRows }]] = await conn.query(`SELECT COUNT(*) AS peersRows FROM ${peersTable}`);
  const [[{ historyRows }]] = SITE === 'gazelle' ? [[{ historyRows: 0 }]] : await conn.query('SELECT COUNT(*) AS historyRows FROM history');
  const r0 = performance.now();
  const reaped = SITE === 'gazelle' ? await writer.reapNow(Date.now()) : await writer.reap(Date.now());
  const reapMs = performance.now() - r0;

  log(`events: ${JSON.stringify(counts)}`);
  console.log(`${SITE === 'gazelle' ? 'Gazelle' : 'UNIT3D'} writer: ${f(USERS)} users x ${f(TORRENTS)} torrents, ${f(PEERS)} peers announcing (mixed events), batches of ${f(BATCH)} back to back for ${secs.toFixed(0)} s.\n`);
  console.log(`| deltas applied | deltas/s (whole run) | deltas/s (second half) | batch p50 / p99 (ms) | client CPU | server CPU | ${peersTable} rows | history rows |`);
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  console.log(`| ${f(n)} | ${f(n / secs)} | ${secondHalf ? f(secondHalf.rate) : '–'} | ${f(pct(lat, 0.5))} / ${f(pct(lat, 0.99))} | ${((cpu.user + cpu.system) / 1e6 / secs * 100).toFixed(0)}% | ${(srv / secs * 100).toFixed(0)}% | ${f(Number(peersRows))} | ${f(Number(historyRows))} |`);
  const us = (sec) => ((sec * 1e6) / n).toFixed(1);
  const processCpu = (cpu.user + cpu.system) / 1e6 - genMs / 1000;
  console.log(`\nCPU per delta (making the records, ${us(genMs / 1000)} µs, left out): main thread ${us(mainCpu)} µs,`
    + ` rest of the process ${us(processCpu - mainCpu)} µs${workerActiveMs === undefined ? '' : ` (the writer thread busy ${us(workerActiveMs / 1000)} µs)`},`
    + ` MariaDB ${us(srv)} µs.`);
  console.log('\nRows written per second, by table (inserted or updated; one row per key per batch):\n');
  const tables = Object.keys(rows).sort();
  console.log(`| ${tables.join(' | ')} |`);
  console.log(`|${tables.map(() => '---:').join('|')}|`);
  console.log(`| ${tables.map((t) => f((rows[t] ?? 0) / secs)).join(' | ')} |`);
  console.log(`\nOne reaper round over ${f(Number(peersRows))} ${peersTable} rows (nothing stale: the scan's cost): ${f(reapMs)} ms, ${JSON.stringify(reaped)}.`);
} finally {
  await writer.close();
  await conn.end();
  await admin.query(`DROP DATABASE ${dbName}`);
  await admin.end();
}
