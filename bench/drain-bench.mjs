// Stream drainer benchmark (issue 13): how fast the shared mode's active drainer applies the Redis
// delta streams to a sink, and what Redis spends on it.
//
// Fills G group streams (a key prefix of its own on the Redis at --redis) with N delta records in
// the design's format (entry `<seq>-1`, field `r` = the 208-byte record; random users and torrents
// out of 10,000 each), then times one StreamDrainer draining them all (batch_size per XRANGE,
// fenced batches, XTRIM after each) into a fresh sink, and reports deltas/s, the drainer process's
// CPU and Redis's CPU (INFO cpu, used_cpu_sys + used_cpu_user, before and after) per drained delta.
// The keys are deleted afterwards; nothing else on the Redis is touched.
//
// usage: node bench/drain-bench.mjs [--sinks sqlite,postgres] [--n 100000] [--groups 16] [--batch 10000]
//          [--redis URL] [--pg URL]
// Build first (npx tsc -p tsconfig.json). Writes a markdown table to stdout.
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import pg from 'pg';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { StreamDrainer } from '../dist/src/middleware/privtrak/shared/stream-drainer.js';
import { DrainMetrics } from '../dist/src/middleware/privtrak/shared/drain-metrics.js';
import { drainKeys } from '../dist/src/middleware/privtrak/shared/drain-keys.js';
import { SqliteSink } from '../dist/src/sinks/sqlite-sink.js';
import { PostgresSink } from '../dist/src/sinks/postgres-sink.js';
import { encodeRecord } from '../dist/src/accounting/delta-record.js';

const { values: args } = parseArgs({ options: {
  sinks: { type: 'string', default: 'sqlite,postgres' }, n: { type: 'string', default: '100000' },
  groups: { type: 'string', default: '16' }, batch: { type: 'string', default: '10000' },
  redis: { type: 'string', default: 'redis://127.0.0.1:6379/0' }, pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
} });
const N = Number(args.n);
const GROUPS = Number(args.groups);
const BATCH = Number(args.batch);

const users = Array.from({ length: 10_000 }, () => randomBytes(16));
const torrents = Array.from({ length: 10_000 }, () => randomBytes(20));

function record(seq) {
  const up = 1 + Math.floor(Math.random() * 1e6);
  return encodeRecord({
    seq, user: users[Math.floor(Math.random() * users.length)], infoHash: torrents[Math.floor(Math.random() * torrents.length)],
    peerId: randomBytes(20), ip: '10.0.0.1', port: 6881, event: 'none', uploaded: up, downloaded: 0, left: 0,
    deltaUp: up, deltaDown: 0, creditUp: up, creditDown: 0, siteTorrentId: null, seedTime: 60, leechTime: 0,
    snatch: false, flags: 0, timeMs: Date.now(), baseline: { uploaded: up, downloaded: 0, left: 0, lastMs: Date.now() },
  });
}

async function redisCpuS(redis) {
  const info = await redis.info('cpu');
  const v = (k) => Number(info.match(new RegExp(`${k}:([0-9.]+)`))[1]);
  return v('used_cpu_sys') + v('used_cpu_user');
}

async function fill(redis, keys) {
  const seqs = new Array(GROUPS).fill(0);
  for (let i = 0; i < N; i += 1000) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(N, i + 1000); j++) {
      const g = j % GROUPS;
      const seq = ++seqs[g];
      p.xadd(keys.stream(g), `${seq}-1`, 'r', record(seq));
    }
    await p.exec();
  }
}

async function makeSink(kind, dir) {
  if (kind === 'sqlite') {
    const sink = new SqliteSink({ path: join(dir, 'drain.sqlite') });
    await sink.open();
    return { sink, drop: async () => sink.close() };
  }
  const schema = `privtrak_drainbench_${randomBytes(4).toString('hex')}`;
  const sink = new PostgresSink({ url: args.pg, schema });
  await sink.migrate();
  await sink.open();
  return {
    sink,
    drop: async () => {
      await sink.close();
      const c = new pg.Client({ connectionString: args.pg });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

const redis = new Redis(args.redis);
const dir = mkdtempSync(join(tmpdir(), 'privtrak-drain-bench-'));
console.log(`| sink | deltas | groups | batch | deltas/s | drainer CPU µs/delta | Redis CPU µs/delta |`);
console.log(`|---|---|---|---|---|---|---|`);
try {
  for (const kind of args.sinks.split(',')) {
    const prefix = `pbench:${randomBytes(4).toString('hex')}:`;
    const keys = drainKeys(prefix);
    const { sink, drop } = await makeSink(kind, dir);
    const client = redis.duplicate();
    try {
      await fill(redis, keys);
      const metrics = new DrainMetrics(new Registry());
      const drainer = new StreamDrainer(client, sink, {
        keyPrefix: prefix, groups: GROUPS, batchSize: BATCH, intervalMs: 1000, leaseMs: 30_000, holderId: 'bench', maxBackoffMs: 1000,
      }, metrics, pino({ level: 'warn' }));
      const redisBefore = await redisCpuS(redis);
      const cpuBefore = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await drainer.drainOnce();
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpuBefore);
      const redisCpu = (await redisCpuS(redis)) - redisBefore;
      const drained = (await metrics.drained.get()).values[0].value;
      if (drained !== N) throw new Error(`drained ${drained} of ${N}`);
      await drainer.stop();
      console.log(`| ${kind} | ${N} | ${GROUPS} | ${BATCH} | ${Math.round(N / seconds)} | ${((cpu.user + cpu.system) / N).toFixed(1)} | ${(redisCpu * 1e6 / N).toFixed(2)} |`);
    } finally {
      client.disconnect();
      await drop();
      for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
        const found = await redis.keys(pattern);
        if (found.length > 0) await redis.del(...found);
      }
    }
  }
} finally {
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
