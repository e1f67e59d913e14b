// Sink benchmark (issue 11): how many deltas per second each sink sustains without backlog growth.
//
// Each sink is driven through the privtrak hook's own Flusher (dist/src/middleware/privtrak/flusher.js)
// with its defaults (batch_size 10,000, flush_interval 1 s: a batch when 10,000 deltas wait or
// every second, one flush at a time), fed with delta records (the journal's 208-byte form, what the
// flusher hands to sinks). Every delta is a random (user, torrent) pair of 100,000 users x 100,000
// torrents: almost no folding within a batch, and almost every torrent row is a new one.
//
// Two measurements per sink:
//  1. open loop: offer increasing rates (deltas/s) for STEP seconds each; a rate is sustained if the
//     backlog (pending deltas) stays flat: its peak in the last quarter of the step is at most one
//     batch above its peak in the first quarter. Reports the highest sustained rate, batch apply
//     latency p50/p99, and stops at the first rate that is not sustained.
//  2. closed loop: batches of 10,000 back to back for CAP seconds: the sink's ceiling, with the CPU
//     used by this process (client + SQLite's worker) and by the database server's processes,
//     which says what limits it.
//
// usage: node bench/sink-bench.mjs [--sinks sqlite,postgres,mysql] [--step 20] [--cap 15]
//          [--rates 5000,10000,...] [--pg URL] [--mysql URL] [--tag TEXT]
// Build first (npx tsc -p tsconfig.json). Writes a markdown table to stdout, progress to stderr.
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { createSink, sinkOptionsSchema } from '../dist/src/sinks/index.js';
import { Flusher } from '../dist/src/middleware/privtrak/flusher.js';
import { PrivtrakMetrics } from '../dist/src/middleware/privtrak/metrics.js';
import { RecordBatch } from '../dist/src/accounting/record-batch.js';
import { RECORD_SIZE, encodeRecordInto } from '../dist/src/accounting/delta-record.js';

const { values: args } = parseArgs({
  options: {
    sinks: { type: 'string', default: 'sqlite,postgres,mysql' },
    step: { type: 'string', default: '20' },
    cap: { type: 'string', default: '15' },
    rates: { type: 'string', default: '5000,10000,22000,30000,45000,60000,90000,120000' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    mysql: { type: 'string', default: 'mysql://root@127.0.0.1:3306/test' },
    /** Appended to the sink's name in the table (e.g. the server's configuration). */
    tag: { type: 'string', default: '' },
  },
});
const STEP_MS = Number(args.step) * 1000;
const CAP_MS = Number(args.cap) * 1000;
const RATES = args.rates.split(',').map(Number);
const BATCH = 10_000;
const FLUSH_MS = 1000;
const USERS = 100_000;
const TORRENTS = 100_000;
const log = (...a) => console.error(...a);

// ---- deltas ---------------------------------------------------------------------------------------

let seq = 0;
const userId = (i) => { const b = Buffer.alloc(16); b.writeUInt32BE(i, 12); b.writeUInt32BE(0x5eed0000, 0); return b; };
const infoHash = (i) => { const b = Buffer.alloc(20); b.writeUInt32BE(i, 16); b.writeUInt32BE(0xbeefbeef, 0); return b; };
const USER_IDS = Array.from({ length: USERS }, (_, i) => userId(i));
const HASHES = Array.from({ length: TORRENTS }, (_, i) => infoHash(i));
const PEER = Buffer.from('-qB4520-sinkbench000');
const rnd = (n) => Math.floor(Math.random() * n);

/** `count` new delta records, every one a random (user, torrent) pair. */
function records(count) {
  const out = Buffer.allocUnsafe(count * RECORD_SIZE);
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const up = rnd(1 << 24);
    encodeRecordInto({
      seq: ++seq, user: USER_IDS[rnd(USERS)], infoHash: HASHES[rnd(TORRENTS)], peerId: PEER, ip: '10.1.2.3', port: 6881,
      event: 'none', uploaded: up, downloaded: 0, left: 0, deltaUp: up, deltaDown: rnd(1 << 20), creditUp: up, creditDown: 0,
      siteTorrentId: null, seedTime: 1800, leechTime: 0, snatch: false, flags: 0, timeMs: now,
      baseline: { uploaded: up, downloaded: 0, left: 0, lastMs: now },
    }, out, i * RECORD_SIZE);
  }
  return out;
}

// ---- sinks ------------------------------------------------------------------------------------------

async function makeSink(name) {
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-sink-bench-'));
    const sink = createSink(sinkOptionsSchema.parse({ name: 'sqlite', path: join(dir, 'bench.sqlite') }));
    await sink.open();
    return { sink, server: [], drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (name === 'postgres') {
    const schema = `privtrak_bench_${randomBytes(4).toString('hex')}`;
    const sink = createSink(sinkOptionsSchema.parse({ name: 'postgres', url: args.pg, schema }));
    await sink.migrate();
    await sink.open();
    const drop = async () => {
      const c = new pg.Client({ connectionString: args.pg });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    };
    return { sink, server: ['postgres'], drop };
  }
  if (name === 'mysql') {
    const db = `privtrak_bench_${randomBytes(4).toString('hex')}`;
    const exec = async (sql) => { const c = await mysql.createConnection({ uri: args.mysql }); try { await c.query(sql); } finally { await c.end(); } };
    await exec(`CREATE DATABASE ${db}`);
    const u = new URL(args.mysql);
    u.pathname = `/${db}`;
    const sink = createSink(sinkOptionsSchema.parse({ name: 'mysql', url: u.toString() }));
    await sink.migrate();
    await sink.open();
    return { sink, server: ['mariadbd', 'mysqld'], drop: () => exec(`DROP DATABASE ${db}`) };
  }
  throw new Error(`unknown sink ${name}`);
}

/** CPU seconds used so far by the processes whose command name is one of `names` (the database server). */
function serverCpuSeconds(names) {
  if (names.length === 0) return 0;
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!names.includes(comm)) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch { /* gone */ }
  }
  return ticks / 100;
}

/** The sink, with each apply timed. */
function timed(sink, latencies) {
  return {
    name: sink.name, open: () => sink.open(), migrate: () => sink.migrate(), load: (i) => sink.load(i), totals: (q) => sink.totals(q), close: () => sink.close(),
    async apply(batch) {
      const t0 = performance.now();
      await sink.apply(batch);
      latencies.push(performance.now() - t0);
    },
  };
}

const pct = (xs, p) => { if (xs.length === 0) return NaN; const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- open loop --------------------------------------------------------------------------------------

/** Offers `rate` deltas/s for STEP_MS through the flusher; returns whether the backlog stayed flat. */
async function step(flusher, latencies, rate) {
  latencies.length = 0;
  const samples = [];
  const t0 = Date.now();
  let offered = 0;
  const tick = 10;
  while (Date.now() - t0 < STEP_MS) {
    const due = Math.floor(((Date.now() - t0) / 1000) * rate) - offered;
    if (due > 0) {
      flusher.enqueueRecords(records(due));
      offered += due;
    }
    samples.push({ t: Date.now() - t0, pending: flusher.pending });
    await sleep(tick);
  }
  const q = STEP_MS / 4;
  const peak = (from, to) => Math.max(0, ...samples.filter((s) => s.t >= from && s.t < to).map((s) => s.pending));
  const early = peak(0, q);
  const late = peak(STEP_MS - q, STEP_MS);
  const elapsed = (Date.now() - t0) / 1000;
  const appliedRate = (offered - flusher.pending) / elapsed;
  return { rate, offered, appliedRate, early, late, flat: late <= early + BATCH, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), batches: latencies.length };
}

async function drain(flusher) {
  const left = await flusher.drain(Date.now() + 120_000);
  if (left > 0) throw new Error(`backlog of ${left} did not drain within 120 s`);
}

// ---- closed loop ------------------------------------------------------------------------------------

async function capacity(sink, server) {
  const cpu0 = process.cpuUsage();
  const srv0 = serverCpuSeconds(server);
  const lat = [];
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < CAP_MS) {
    const batch = new RecordBatch('cap', records(BATCH));
    const s = performance.now();
    await sink.apply(batch);
    lat.push(performance.now() - s);
    n += BATCH;
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    rate: n / secs, p50: pct(lat, 0.5), p99: pct(lat, 0.99),
    clientCpu: (cpu.user + cpu.system) / 1e6 / secs, serverCpu: (serverCpuSeconds(server) - srv0) / secs,
  };
}

// ---- main -------------------------------------------------------------------------------------------

const rows = [];
for (const name of args.sinks.split(',')) {
  log(`== ${name}`);
  const { sink, server, drop } = await makeSink(name);
  const latencies = [];
  const metrics = new PrivtrakMetrics(new Registry());
  const flusher = new Flusher(timed(sink, latencies), { beforeApply() {}, afterApply() {} },
    { instance: 'bench', batchSize: BATCH, flushIntervalMs: FLUSH_MS, maxBackoffMs: 30_000 }, metrics, pino({ level: 'error' }));
  flusher.start();
  let best;
  let first;
  seq = 0;
  try {
    for (const rate of RATES) {
      const r = await step(flusher, latencies, rate);
      log(`  ${rate}/s: applied ${r.appliedRate.toFixed(0)}/s, pending peak ${r.early} -> ${r.late}, batch p50 ${r.p50?.toFixed(0)} ms p99 ${r.p99?.toFixed(0)} ms ${r.flat ? 'flat' : 'GROWING'}`);
      await drain(flusher);
      if (!r.flat) { first = r; break; }
      best = r;
    }
    const cap = await capacity(sink, server);
    log(`  closed loop: ${cap.rate.toFixed(0)}/s, p50 ${cap.p50.toFixed(0)} ms, client CPU ${(cap.clientCpu * 100).toFixed(0)}%, server CPU ${(cap.serverCpu * 100).toFixed(0)}%`);
    rows.push({ name: `${name}${args.tag ? ` ${args.tag}` : ''}`, best, first, cap, applied: seq });
  } finally {
    await flusher.drain(Date.now() + 1000);
    await sink.close();
    await drop();
  }
}

const f = (n) => (n === undefined || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'));
console.log(`Sink benchmark: ${USERS.toLocaleString('en-US')} users x ${TORRENTS.toLocaleString('en-US')} torrents, random pairs; flusher defaults (batch ${BATCH.toLocaleString('en-US')}, flush every ${FLUSH_MS} ms); steps of ${STEP_MS / 1000} s.\n`);
console.log('| sink | highest sustained rate (deltas/s) | batch p50 / p99 at it (ms) | first rate not sustained | closed-loop ceiling (deltas/s) | batch p50 (ms) | client CPU | server CPU | torrent rows at the end |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const { name, best, first, cap, applied } of rows) {
  console.log(`| ${name} | ${f(best?.rate)} | ${f(best?.p50)} / ${f(best?.p99)} | ${first ? `${f(first.rate)} (applied ${f(first.appliedRate)}/s)` : `none up to ${f(RATES.at(-1))}`} | ${f(cap.rate)} | ${f(cap.p50)} | ${(cap.clientCpu * 100).toFixed(0)}% | ${(cap.serverCpu * 100).toFixed(0)}% | ≈ ${f(applied)} |`);
}
