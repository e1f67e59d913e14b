// The SQLite sink's own CPU per delta on the chain harness's load (issue 14, point 3): the floor under
// what the full private chain can cost on the tracker's one core, whatever the event loop does.
//
// The shipped sink (`sink: {name: sqlite}`: its writer thread, its fold, its upserts in key order) is
// fed batches as the privtrak hook's flusher hands them over (delta records, batch_size 10,000), in
// the shape bench/run.sh's access load has: peer p (of PAIRS) announces with user p % USERS and torrent
// p % TORRENTS (udp-load.c and http-announce.lua with `passkeys FILE` and fixed-ih 1), each announce a
// random peer. First every pair is applied once (the table holds its 100,000 rows, as the tracker's
// does after its warm-up), then BATCHES batches are applied back to back and timed: CPU of the whole
// process (the writer thread's SQLite work and fold, and this thread's hand-off) per delta applied.
// The records are made before the clock starts.
//
// usage: node bench/sqlite-floor.mjs [--pairs 100000] [--users 1009] [--torrents 1000] [--batch 10000]
//          [--batches 30] [--rounds 3] [--bare "close=52.1 keepalive=23.5 udp=7.6"]
// --bare: the bare tracker's CPU per announce (µs) in each mode, from the same run (bench/run.sh's
// chain section passes them): each mode's line then says what share of it this floor alone is.
// FLOOR_WORKER=0: the sink without its worker thread (`worker: false`), to tell the thread's own cost apart.
// Build first (npm run build). Prints markdown to stdout; pin it as the tracker is (taskset -c 0).
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSink, sinkOptionsSchema } from '../dist/src/sinks/index.js';
import { RECORD_SIZE, encodeRecordInto } from '../dist/src/accounting/delta-record.js';

const { values: args } = parseArgs({
  options: {
    pairs: { type: 'string', default: '100000' },
    users: { type: 'string', default: '1009' },
    torrents: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '10000' },
    batches: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
    bare: { type: 'string', default: '' },
  },
});
const num = (name) => {
  const v = Number(args[name]);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, not ${args[name]}`);
  return v;
};
const PAIRS = num('pairs');
const USERS = num('users');
const TORRENTS = num('torrents');
const BATCH = num('batch');
const BATCHES = num('batches');
const ROUNDS = num('rounds');
const bare = new Map();
for (const kv of args.bare.split(/\s+/).filter(Boolean)) {
  const [mode, us] = kv.split('=');
  if (!mode || !(Number(us) > 0)) throw new Error(`--bare: "${kv}" is not MODE=µs`);
  bare.set(mode, Number(us));
}

const userId = (i) => { const b = Buffer.alloc(16); b.writeUInt32BE(0x5eed0000, 0); b.writeUInt32BE(i, 12); return b; };
const infoHash = (i) => { const b = Buffer.alloc(20); b.writeUInt32BE(0xbeefbeef, 0); b.writeUInt32BE(i, 16); return b; };
const USER_IDS = Array.from({ length: USERS }, (_, i) => userId(i));
const HASHES = Array.from({ length: TORRENTS }, (_, i) => infoHash(i));
const PEER = Buffer.from('-qB4520-sqlitefloor0');
let seq = 0;

/** A batch of delta records, peer `peerOf(i)` for the i-th. */
function batchOf(count, peerOf) {
  const out = Buffer.allocUnsafe(count * RECORD_SIZE);
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const p = peerOf(i);
    const up = Math.floor(Math.random() * (1 << 24));
    encodeRecordInto({
      seq: ++seq, user: USER_IDS[p % USERS], infoHash: HASHES[p % TORRENTS], peerId: PEER, ip: '10.1.2.3', port: 6881,
      event: 'none', uploaded: up, downloaded: 0, left: 0, deltaUp: up, deltaDown: 0, creditUp: up, creditDown: 0,
      siteTorrentId: (p % TORRENTS) + 1, seedTime: 30, leechTime: 0, snatch: false, flags: 0, timeMs: now,
      baseline: { uploaded: up, downloaded: 0, left: 0, lastMs: now },
    }, out, i * RECORD_SIZE);
  }
  return out;
}

const apply = (sink, records) => sink.apply({ id: seq, instance: 'floor', deltas: [], records });

const dir = mkdtempSync(join(tmpdir(), 'privtrak-sqlite-floor-'));
const sink = createSink(sinkOptionsSchema.parse({ name: 'sqlite', path: join(dir, 'floor.sqlite'), worker: process.env.FLOOR_WORKER !== '0' }));
try {
  await sink.open();
  // Every pair once, in batches: the table as the tracker's is after its warm-up.
  for (let from = 0; from < PAIRS; from += BATCH) await apply(sink, batchOf(Math.min(BATCH, PAIRS - from), (i) => from + i));
  const perDelta = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const batches = Array.from({ length: BATCHES }, () => batchOf(BATCH, () => Math.floor(Math.random() * PAIRS)));
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const b of batches) await apply(sink, b);
    const cpu = process.cpuUsage(cpu0);
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const us = (cpu.user + cpu.system) / (BATCHES * BATCH);
    perDelta.push(us);
    console.error(`round ${round}: ${us.toFixed(2)} µs of CPU per delta, ${Math.round(BATCHES * BATCH / wallS)} deltas/s`);
  }
  const median = [...perDelta].sort((a, b) => a - b)[Math.floor(perDelta.length / 2)];
  console.log(`The SQLite sink alone (\`node bench/sqlite-floor.mjs\`: ${BATCHES} batches of ${BATCH} deltas per round over ${PAIRS} (user, torrent) pairs, ${USERS} users, ${TORRENTS} torrents; ${ROUNDS} rounds): **${median.toFixed(2)} µs** of CPU per delta (median; rounds ${perDelta.map((u) => u.toFixed(2)).join(', ')}).`);
  if (bare.size > 0) {
    console.log('');
    console.log('| mode | bare tracker, µs of CPU per announce | 15% of it | the SQLite sink alone, µs per delta | the sink alone as a share of the bare tracker |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [mode, us] of bare) {
      console.log(`| ${mode} | ${us.toFixed(1)} | ${(us * 0.15).toFixed(2)} | ${median.toFixed(2)} | ${(median / us * 100).toFixed(0)}% |`);
    }
  }
} finally {
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
}
