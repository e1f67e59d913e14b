// Redis CPU per call of the shared store's functions (issue 13: at most 10 µs of Redis CPU per
// announce). Run against a redis-server of your own, so others' load does not count:
//   redis-server --port 6390 --save '' --appendonly no &
//   npm run build && node bench/redis-fcall-cost.mjs [redis://127.0.0.1:6390/0] [announces]
// Reports INFO commandstats usec_per_call of FCALL (time inside the function) and the server's
// used_cpu_user+sys per call (everything: parsing, network I/O, the function).
// On a shared machine CPU time is noisy; instruction counts are not. ONLY=counted|announce runs one
// phase, so that the server's instructions can be counted around it:
//   perf stat -e instructions:u,instructions:k -p <redis pid> -- env ONLY=counted node bench/redis-fcall-cost.mjs ...
// NUMWANT=0 asks pt_counted for no peers. KEEP=1 leaves the keys (the server is thrown away).
import { execSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { RedisPeerStore } from '../dist/src/storage/redis/redis-store.js';
import { makePeer } from '../dist/src/bittorrent/ip.js';
import { encodeRecord } from '../dist/src/accounting/delta-record.js';
import { DeltaScratch } from '../dist/src/middleware/privtrak/delta-scratch.js';

const url = process.argv[2] ?? 'redis://127.0.0.1:6390/0';
const N = Number(process.argv[3] ?? 50_000);
const CONCURRENCY = 64;
const SWARMS = 2000;
const PEERS = 20;
const prefix = `bench-${process.pid}:`;
const config = { gc_interval: 180_000, peer_lifetime: 1_860_000, prometheus_reporting_interval: 1000, url, cluster_nodes: [], key_prefix: prefix,
  groups: 16, command_timeout: 2000, max_stream_entries: 10_000_000 };
let now = Date.now();
const clock = { nowMs: () => now };
const store = new RedisPeerStore({ config, clock });
await store.start();
const admin = new Redis(url);
const user = Buffer.alloc(16, 1);
const hashes = Array.from({ length: SWARMS }, (_, i) => { const b = Buffer.alloc(20); b.writeUInt32BE(i * 2654435761 >>> 0, 0); return b; });
const peers = Array.from({ length: PEERS }, (_, i) => makePeer(Buffer.from(`-BN0001-${String(i).padStart(12, '0')}`), `10.0.${i}.1`, 6881));
const up = new Map();

// Steady state, as a tracker that has run for a while: before each measured phase, one unmeasured
// pass over every swarm and peer (WARMUP calls, default SWARMS × PEERS), so the swarms are full and
// the group hashes have their final encoding (a group's `b` is a small listpack only at first).
const WARMUP = Number(process.env.WARMUP ?? SWARMS * PEERS);
let base = 0;

async function run(one, from, count) {
  let next = from;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < from + count) await one(next++);
  }));
}

async function measure(name, one) {
  await run(one, base, WARMUP);
  base += WARMUP;
  // MEASURE_START: a shell command run once the warm-up is done (e.g. callgrind_control -z <pid>).
  if (process.env.MEASURE_START) execSync(process.env.MEASURE_START);
  await admin.config('RESETSTAT');
  const cpu0 = await cpu();
  const t0 = process.hrtime.bigint();
  await run(one, base, N);
  base += N;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = await cpu();
  const stats = await admin.info('commandstats');
  const fcall = /cmdstat_fcall:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(stats);
  console.log(`${name}: ${N} calls in ${secs.toFixed(2)} s (${Math.round(N / secs)}/s); FCALL usec_per_call ${fcall?.[3]}; `
    + `redis CPU (user+sys) per call ${((cpu1 - cpu0) / N * 1e6).toFixed(2)} µs`);
}

async function cpu() {
  const info = await admin.info('cpu');
  const u = Number(/used_cpu_user:([\d.]+)/.exec(info)[1]);
  const s = Number(/used_cpu_sys:([\d.]+)/.exec(info)[1]);
  return u + s;
}

const scratch = new DeltaScratch();
const zero = { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null };
try {
  if (process.env.ONLY !== 'announce') await measure('pt_counted (one per announce)', async (i) => {
    const ih = hashes[i % SWARMS];
    const peer = peers[Math.floor(i / SWARMS) % PEERS];
    const key = i % (SWARMS * PEERS);
    const u = (up.get(key) ?? 0) + 16384;
    up.set(key, u);
    now += 1;
    const event = u === 16384 ? 'started' : 'none';
    const req = { infoHash: ih, peer, event, uploaded: u, downloaded: 0, left: i % 3 === 0 ? 0 : 1000, numWant: 50, compact: true, noPeerId: false, transport: 'http' };
    const record = encodeRecord(scratch.fill(0, user, req, {}, zero, now));
    await store.countedAnnounce({ infoHash: ih, peer, role: req.left === 0 ? 'seeder' : 'leecher', event, numWant: Number(process.env.NUMWANT ?? 50), hidden: false, user, record,
      upMult: 1, downMult: 1, nowMs: now, maxGapMs: 3_600_000 });
  });
  if (process.env.ONLY !== 'counted') await measure('pt_announce view + put (two per announce)', async (i) => {
    const ih = hashes[i % SWARMS];
    const peer = peers[Math.floor(i / SWARMS) % PEERS];
    now += 1;
    await store.announceView(ih, peer, 'leecher', 50);
    await store.putLeecher(ih, peer);
  });
} finally {
  if (process.env.KEEP) process.exit(0);
  let cursor = '0';
  do {
    const [c, keys] = await admin.scanBuffer(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
    cursor = c.toString();
    if (keys.length) await admin.del(...keys);
  } while (cursor !== '0');
  admin.disconnect();
  await store.stop();
}
