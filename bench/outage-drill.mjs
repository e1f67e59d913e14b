// Outage drill (issue 11): the tracker under steady announce load while its database is unreachable.
//
// `privtrak serve` runs as a child process with the privtrak hook at its defaults (flush_interval 1 s,
// batch_size 10,000, max_pending 200,000, max_retry_backoff 30 s, sink timeout 30 s) and a PostgreSQL
// or MariaDB sink reached through a TCP proxy (dist/test/support/tcp-proxy.js). HTTP announces arrive
// at RATE/s from 10,000 peers of 100 users (dist/test/support/announce-load.js). After BEFORE seconds
// the proxy freezes every connection and black-holes new ones (no RST: only the sink's timeout can
// tell) for OUTAGE seconds, then forwards again. Every 10 s: pending deltas (from /metrics), the
// tracker's RSS (/proc), accepted/refused/failed announces. At the end the tracker is stopped and the
// database's per-user totals are compared with what the clients reported, exactly.
//
// With the defaults the tracker rides out max_pending / RATE seconds (200,000 / 1,000 = 200 s); past
// that, announces are refused with the retryable "tracker busy" (they count nothing; the client's next
// announce carries the bytes). `--max-pending N` sets the hook's max_pending.
//
// usage: node bench/outage-drill.mjs [--sink postgres|mysql] [--rate 1000] [--outage 600] [--before 30]
//          [--max-pending 200000] [--pg URL] [--mysql URL]
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { createSink, sinkOptionsSchema } from '../dist/src/sinks/index.js';
import { TcpProxy } from '../dist/test/support/tcp-proxy.js';
import { AnnounceLoad } from '../dist/test/support/announce-load.js';
import { freePort, startTracker, waitExit } from '../dist/test/support/tracker-process.js';

const { values: args } = parseArgs({
  options: {
    sink: { type: 'string', default: 'postgres' },
    rate: { type: 'string', default: '1000' },
    outage: { type: 'string', default: '600' },
    before: { type: 'string', default: '30' },
    'max-pending': { type: 'string', default: '200000' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    mysql: { type: 'string', default: 'mysql://root@127.0.0.1:3306/test' },
  },
});
const RATE = Number(args.rate);
const OUTAGE_S = Number(args.outage);
const BEFORE_S = Number(args.before);
const MAX_PENDING = Number(args['max-pending']);
const log = (...a) => console.error(...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the database: a schema / database of its own ----------------------------------------------------
let sinkOpts;
let drop;
if (args.sink === 'postgres') {
  const schema = `privtrak_drill_${randomBytes(4).toString('hex')}`;
  sinkOpts = { name: 'postgres', url: args.pg, schema };
  drop = async () => { const c = new pg.Client({ connectionString: args.pg }); await c.connect(); await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`); await c.end(); };
} else {
  const db = `privtrak_drill_${randomBytes(4).toString('hex')}`;
  const exec = async (sql) => { const c = await mysql.createConnection({ uri: args.mysql }); try { await c.query(sql); } finally { await c.end(); } };
  await exec(`CREATE DATABASE ${db}`);
  const u = new URL(args.mysql);
  u.pathname = `/${db}`;
  sinkOpts = { name: 'mysql', url: u.toString() };
  drop = () => exec(`DROP DATABASE IF EXISTS ${db}`);
}
const direct = () => createSink(sinkOptionsSchema.parse(sinkOpts));
const migrator = direct();
await migrator.migrate();
await migrator.close();

const target = new URL(sinkOpts.url);
const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port) });
const dir = mkdtempSync(join(tmpdir(), 'privtrak-drill-'));
const port = await freePort();
const metricsPort = await freePort();
const config = join(dir, 'config.yaml');
const sinkYaml = JSON.stringify({ ...sinkOpts, url: proxy.rewrite(sinkOpts.url) });
writeFileSync(config, [
  'log_level: info', `metrics_addr: "127.0.0.1:${metricsPort}"`, `http: {addr: "127.0.0.1:${port}"}`, 'udp: {addr: ""}',
  'prehooks:', '  - name: privtrak', '    options:',
  `      journal_dir: ${JSON.stringify(join(dir, 'journal'))}`,
  `      max_pending: ${MAX_PENDING}`,
  `      sink: ${sinkYaml}`,
].join('\n'));

let flushErrors = 0;
const tracker = await startTracker(config, { cwd: dir, onOutput: (t) => { flushErrors += t.split('flush to sink failed').length - 1; } });
const rssMb = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${tracker.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
async function metric(name) {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  const text = await res.text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

const load = new AnnounceLoad({ port, rate: RATE, users: 100, peersPerUser: 100, maxInFlight: 256 });
const samples = [];
const t0 = Date.now();
let phase = 'before';
let firstRefusalS;
let refusedBelowMax = 0;
let lastBusy = 0;
let lastPending = 0;
let ticks = 0;
/** Every second: refusals are checked against pending then; every 10th sample is kept for the table. */
async function sample(keep = false) {
  const pending = await metric('privtrak_deltas_pending');
  const s = { t: Math.round((Date.now() - t0) / 1000), phase, pending, rss: rssMb(), ...load.counts, failures: undefined };
  if (load.counts.busy > lastBusy) {
    firstRefusalS ??= s.t;
    // Refused while clearly below max_pending, at both ends of the second (the gauge is refreshed every second).
    if (Math.max(pending, lastPending) < MAX_PENDING - 2 * RATE) refusedBelowMax += load.counts.busy - lastBusy;
    lastBusy = load.counts.busy;
  }
  lastPending = pending;
  if (keep || ++ticks % 10 === 0) {
    samples.push(s);
    log(`t=${s.t}s ${phase}: pending ${pending}, RSS ${s.rss.toFixed(0)} MB, accepted ${s.accepted}, busy ${s.busy}, failed ${s.failed}`);
  }
}

load.start();
const sampler = setInterval(() => void sample(), 1000);
await sleep(BEFORE_S * 1000);
phase = 'outage';
proxy.freeze();
const outageAt = Date.now();
await sleep(OUTAGE_S * 1000);
phase = 'recovery';
proxy.restore();
const restoredAt = Date.now();
let drainedS;
while (Date.now() - restoredAt < 600_000) {
  await sleep(1000);
  if ((await metric('privtrak_deltas_pending')) < 2 * RATE) { drainedS = (Date.now() - restoredAt) / 1000; break; }
}
await sleep(10_000);
clearInterval(sampler);
await load.stop();
await sample(true);
tracker.kill('SIGTERM');
await waitExit(tracker);
await proxy.close();

const sink = direct();
await sink.open();
const got = (await sink.totals({ byTorrent: false })).map((r) => `${r.uploaded}/${r.downloaded}`).sort();
await sink.close();
const want = [...load.expected().values()].map((t) => `${t.up}/${t.down}`).sort();
const exact = JSON.stringify(got) === JSON.stringify(want);
const bytes = [...load.expected().values()].reduce((s, t) => s + t.up + t.down, 0n);
await drop();
rmSync(dir, { recursive: true, force: true });

const during = samples.filter((s) => s.phase === 'outage');
const base = samples.find((s) => s.phase === 'outage')?.rss ?? samples[0]?.rss;
console.log(`Outage drill: ${args.sink} sink, ${RATE.toLocaleString('en-US')} announces/s (HTTP, 10,000 peers of 100 users), ${OUTAGE_S} s outage `
  + `(connections frozen, new ones black-holed) after ${BEFORE_S} s; max_pending ${MAX_PENDING.toLocaleString('en-US')}, other options at their defaults.\n`);
console.log('| t (s) | phase | pending deltas | tracker RSS (MB) | accepted | refused (busy) | failed |');
console.log('|---:|---|---:|---:|---:|---:|---:|');
for (const s of samples) console.log(`| ${s.t} | ${s.phase} | ${s.pending.toLocaleString('en-US')} | ${s.rss.toFixed(0)} | ${s.accepted.toLocaleString('en-US')} | ${s.busy.toLocaleString('en-US')} | ${s.failed} |`);
console.log('');
console.log(`- ride-out predicted: max_pending / rate = ${(MAX_PENDING / RATE).toFixed(0)} s; first refusal at ${firstRefusalS === undefined ? 'none' : `${firstRefusalS - Math.round((outageAt - t0) / 1000)} s into the outage`}`);
console.log(`- refused while pending was below max_pending: ${refusedBelowMax}; failed (anything but busy): ${load.counts.failed}${load.counts.failures.length ? ` (${load.counts.failures.join('; ')})` : ''}`);
console.log(`- pending peak ${Math.max(...during.map((s) => s.pending)).toLocaleString('en-US')}; RSS ${base?.toFixed(0)} MB at the cut, peak ${Math.max(...samples.map((s) => s.rss)).toFixed(0)} MB`);
console.log(`- flush failures logged: ${flushErrors}; backlog drained ${drainedS === undefined ? 'NOT within 600 s' : `${drainedS.toFixed(0)} s after the restore`}`);
console.log(`- totals: ${exact ? 'exact' : 'MISMATCH'} (${want.length} users, ${bytes.toLocaleString('en-US')} bytes reported by the clients)`);
process.exit(exact && load.counts.failed === 0 && refusedBelowMax === 0 ? 0 : 1);
