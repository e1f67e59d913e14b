/**
 * `privtrak serve --workers N`: the CLI's refusals, and the primary's supervision of real worker
 * processes — shared HTTP and UDP listeners, one merged scrape, restart after kill -9, give-up
 * on a crash loop at start, SIGTERM → exit 0. Supervision runs through workers-program.ts on
 * memory storage (no Redis needed); the same checks run through the CLI on the Redis store
 * once it is built (dist/src/storage/redis/redis-store.js).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get, escapeBytes } from '../support/http-client.js';
import { UdpClient } from '../support/udp-client.js';
import { MAIN, ROOT, freePort } from '../support/tracker-process.js';
import { WORKERS_PROGRAM, WorkersProcess, openTrackerConfig, startWorkersProcess } from '../support/workers-process.js';

const PROGRAM = WORKERS_PROGRAM;
const REDIS_STORE = join(ROOT, 'dist', 'src', 'storage', 'redis', 'redis-store.js');

/** test/support/redis.ts, which comes with the Redis store: loaded only once the store is built. */
interface RedisTestSupport {
  redisUrlOrSkip(t: { skip(msg: string): void }): Promise<string | undefined>;
  freshPrefix(): string;
  dropPrefix(url: string, prefix: string): Promise<number>;
}

function tempConfig(lines: string[]): { path: string; dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-workers-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, lines.join('\n'));
  return { path, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An open tracker (no privtrak hook: nothing written to disk) on loopback ports chosen by the primary. */
const OPEN_TRACKER = openTrackerConfig('127.0.0.1:0');

function cli(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stderr: r.stderr };
}

/** Value of every `name{...}` series with `labels` (a substring of the label set), summed per worker label. */
function perWorker(text: string, name: string, labels: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) || !line.includes(labels)) continue;
    const worker = /worker="([^"]+)"/.exec(line)?.[1] ?? '';
    out.set(worker, (out.get(worker) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

async function scrape(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(r.status, 200);
  return r.text();
}

function unlabelled(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

let peerSeq = 0;
/** Distinct leechers announced over HTTP on info_hash 07…07 (none stops: each stays in the swarm). */
let httpPeers = 0;
async function httpAnnounces(port: number, count: number, parallel = 8): Promise<void> {
  const one = async () => {
    httpPeers++;
    const id = Buffer.alloc(20, 0x41);
    id.writeUInt32BE(++peerSeq, 16);
    const q = `info_hash=${escapeBytes(Buffer.alloc(20, 7))}&peer_id=${escapeBytes(id)}&port=6881&uploaded=0&downloaded=0&left=10`;
    // A new connection per announce: each is accepted by whichever worker the kernel picks.
    const r = await get(port, `/announce?${q}`);
    assert.equal(r.status, 200);
    assert.match(r.body.toString('latin1'), /8:intervali/);
  };
  for (let done = 0; done < count; done += parallel) await Promise.all(Array.from({ length: Math.min(parallel, count - done) }, one));
}

async function udpAnnounces(port: number, count: number): Promise<void> {
  const client = new UdpClient(port);
  try {
    for (let i = 0; i < count; i++) {
      const peerId = Buffer.alloc(20, 0x55);
      peerId.writeUInt32BE(++peerSeq, 16);
      // connect and announce may reach different workers: the connection ID key is shared.
      const { error } = await client.announce({ peerId, infoHash: Buffer.alloc(20, 8) });
      assert.equal(error, undefined);
    }
  } finally {
    client.close();
  }
}

const ANNOUNCES = 'action="announce",outcome="ok"';

/**
 * The checks shared by the memory (supervision) and Redis (CLI) runs. `sharedSwarms`: the store
 * is shared, so every reply counts the peers every worker took.
 */
async function exerciseWorkers(p: WorkersProcess, sharedSwarms: boolean): Promise<void> {
  httpPeers = 0;
  const http = p.port('http');
  const udp = p.port('udp');
  const metricsPort = p.port('metrics');
  assert.ok(http > 0 && udp > 0 && metricsPort > 0, p.output);
  assert.equal(p.workerPids().size, 2);
  assert.deepEqual(new Set(p.lines.filter((l) => l.msg === 'worker started').map((l) => l.http)), new Set([http]), 'every worker serves one HTTP port');

  // Every announce answered; both workers took some (bounded rounds: the kernel picks the worker).
  let sent = 0;
  let counts = new Map<string, number>();
  for (let round = 0; round < 5; round++) {
    await httpAnnounces(http, 40);
    await udpAnnounces(udp, 10);
    sent += 50;
    counts = perWorker(await scrape(metricsPort), 'privtrak_requests_total', ANNOUNCES);
    if ((counts.get('1') ?? 0) > 0 && (counts.get('2') ?? 0) > 0) break;
  }
  assert.ok((counts.get('1') ?? 0) > 0 && (counts.get('2') ?? 0) > 0, `both workers took announces: ${JSON.stringify([...counts])}`);
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), sent, 'one scrape counts every announce once');
  const udpCounts = perWorker(await scrape(metricsPort), 'privtrak_requests_total', `frontend="udp",${ANNOUNCES}`);
  assert.equal([...udpCounts.values()].reduce((a, b) => a + b, 0), sent / 5);

  // kill -9 of worker 1: the primary forks it again; announces keep being answered meanwhile.
  const before = p.lines.length;
  const victim = p.workerPids().get(1)!;
  process.kill(victim, 'SIGKILL');
  await httpAnnounces(http, 20);
  await udpAnnounces(udp, 5);
  const restarted = await p.waitFor((l) => l.msg === 'worker started' && l.worker === 1, 15_000, before);
  assert.notEqual(restarted.pid, victim);
  await httpAnnounces(http, 20);
  const after = await scrape(metricsPort);
  assert.equal(unlabelled(after, 'privtrak_worker_restarts_total'), 1);
  assert.equal(unlabelled(after, 'privtrak_workers'), 2);
  assert.ok(p.lines.slice(before).some((l) => l.msg === 'worker died: restarting' && l.worker === 1 && l['signal'] === 'SIGKILL'), p.output);

  if (sharedSwarms) {
    // Whichever worker answers, it sees the swarm all workers built (the announcer counted too).
    for (let i = 0; i < 6; i++) {
      await httpAnnounces(http, 1, 1);
      const id = Buffer.alloc(20, 0x41);
      id.writeUInt32BE(peerSeq, 16);
      const q = `info_hash=${escapeBytes(Buffer.alloc(20, 7))}&peer_id=${escapeBytes(id)}&port=6881&uploaded=0&downloaded=0&left=10`;
      const body = (await get(http, `/announce?${q}`)).body.toString('latin1');
      assert.match(body, new RegExp(`10:incompletei${httpPeers}e`), `reply ${i}: ${body}`);
    }
  }

  // SIGTERM: every worker stops cleanly, the primary exits 0.
  const began = Date.now();
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0, p.output);
  assert.ok(Date.now() - began < 10_000, `stopped in ${Date.now() - began} ms`);
  assert.equal(p.lines.filter((l) => l.msg === 'stopped' && l.worker !== undefined).length, 2, 'both workers logged their clean stop');
}

describe('privtrak serve --workers', () => {
  it('refuses --workers above 1 with memory storage (exit 2, saying why), and a malformed count', () => {
    const cfg = tempConfig(OPEN_TRACKER);
    try {
      const refused = cli(['serve', '--config', cfg.path, '--workers', '2']);
      assert.equal(refused.status, 2, refused.stderr);
      assert.match(refused.stderr, /--workers 2 needs the shared store \(storage: \{name: redis\}\): with memory storage each process would keep its own swarms and baselines/);
      for (const bad of ['0', 'two', '1.5', '-3']) {
        const r = cli(['serve', '--config', cfg.path, `--workers=${bad}`]);
        assert.equal(r.status, 2, `--workers ${bad}: ${r.stderr}`);
        assert.match(r.stderr, /--workers: expected a number from 1 to 1024 or "auto"/);
      }
    } finally {
      cfg.cleanup();
    }
  });

  it('2 workers: HTTP and UDP on one port each, both take announces, one merged scrape, restart after kill -9, SIGTERM exits 0', async () => {
    const cfg = tempConfig(OPEN_TRACKER);
    const p = await startWorkersProcess(PROGRAM, [cfg.path, '2'], { workers: 2, cwd: cfg.dir });
    try {
      await exerciseWorkers(p, false);
    } finally {
      p.kill();
      cfg.cleanup();
    }
  });

  it('a SIGTERM while the workers are still starting stops them all: exit 0, no kill at the deadline', async () => {
    const cfg = tempConfig(OPEN_TRACKER);
    const child = spawn(process.execPath, [PROGRAM, cfg.path, '2'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: cfg.dir });
    const p = new WorkersProcess(child);
    try {
      await p.waitFor((l) => l.msg === 'starting workers', 10_000);
      child.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.output);
      assert.ok(!p.output.includes('killing them'), p.output);
    } finally {
      p.kill();
      cfg.cleanup();
    }
  });

  it('gives up with exit 1 and a clear message when workers fail at start (HTTP port taken)', async () => {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    const cfg = tempConfig([...OPEN_TRACKER.filter((l) => !l.startsWith('http:')), `http: {addr: "127.0.0.1:${port}", announce_routes: ["/announce"]}`]);
    try {
      const r = spawnSync(process.execPath, [PROGRAM, cfg.path, '2'], { encoding: 'utf8', timeout: 30_000, cwd: cfg.dir });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /EADDRINUSE/);
      assert.match(r.stderr, /worker \d failed at start 3 times in a row \(last exit: 1\); see its error above\. Giving up\./);
    } finally {
      holder.close();
      cfg.cleanup();
    }
  });

  it('2 workers through the CLI on the Redis store: the same checks', async (t) => {
    if (!existsSync(REDIS_STORE)) {
      t.skip('the Redis store is not built yet (dist/src/storage/redis/redis-store.js)');
      return;
    }
    const redis = await import(join(ROOT, 'dist', 'test', 'support', 'redis.js')) as RedisTestSupport;
    const url = await redis.redisUrlOrSkip(t);
    if (url === undefined) return;
    const prefix = redis.freshPrefix();
    const cfg = tempConfig([...OPEN_TRACKER, `storage: {name: redis, config: {url: "${url}", key_prefix: "${prefix}"}}`]);
    let p: WorkersProcess | undefined;
    try {
      p = await startWorkersProcess(MAIN, ['serve', '--config', cfg.path, '--workers', '2'], { workers: 2, cwd: cfg.dir });
      await exerciseWorkers(p, true);
    } finally {
      p?.kill();
      cfg.cleanup();
      await redis.dropPrefix(url, prefix);
    }
  });
});
