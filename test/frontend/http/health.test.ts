/**
 * GET /health and GET /ready on the HTTP tracker listener (issue 15, point 3), against a real
 * tracker in this process: /ready goes 503 when the sink is down and pending deltas reach
 * max_pending, and back to 200 when the sink takes batches again; 503 while the access registry
 * has not loaded, 200 once it has; in shared mode (Redis; skipped without it, failed in CI), 503
 * for 5 s after Redis refused an announce as busy. The reasons name no passkey.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Tracker } from '../../../src/tracker.js';
import { validateConfig } from '../../../src/config/load.js';
import { httpSchema } from '../../../src/config/schema.js';
import { createHttpFrontend } from '../../../src/frontend/http/server.js';
import { createReadiness } from '../../../src/frontend/readiness.js';
import { AccessRegistry } from '../../../src/access/registry.js';
import { Registry } from 'prom-client';
import { FixedSource, user } from '../../support/access.js';
import { pipeline } from '../../support/harness.js';
import { escapeBytes, get, parseReply, rawRequest, type RawReply } from '../../support/http-client.js';
import { dropPrefix, freshPrefix, redisUrlOrSkip } from '../../support/redis.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';

/** A HEAD request, "Connection: close": the reply is everything until the tracker closes. */
async function head(port: number, path: string): Promise<RawReply> {
  return parseReply(await rawRequest(port, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let peers = 0;
/** One new leecher's "started" announce: each one is a delta for the privtrak hook. */
function announce(port: number): Promise<RawReply> {
  const id = Buffer.alloc(20, 0x50);
  id.writeUInt32BE(++peers, 16);
  return get(port, `/${PASSKEY}/announce?info_hash=${escapeBytes(Buffer.alloc(20, 7))}&peer_id=${escapeBytes(id)}&port=6881&uploaded=0&downloaded=0&left=100&event=started`);
}

/** Polls /ready until its status is `status` (at most 100 tries over about 10 s); returns the last reply. */
async function readyUntil(port: number, status: number): Promise<RawReply> {
  let r = await get(port, '/ready');
  for (let i = 0; i < 100 && r.status !== status; i++) {
    await sleep(100);
    r = await get(port, '/ready');
  }
  return r;
}

describe('health checks on the HTTP listener', () => {
  it('/health is 200 while serving; /ready follows the sink: 503 when it is down at max_pending, 200 when back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-health-'));
    const sinkPath = join(dir, 'deltas.ndjson');
    const tracker = new Tracker(validateConfig({
      metrics_addr: '', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '' },
      user_key_secret: join(dir, 'user-key.secret'),
      prehooks: [{ name: 'privtrak', options: {
        journal_dir: join(dir, 'journal'), flush_interval: '50ms', max_retry_backoff: '100ms', max_pending: 5,
        sink: { name: 'log', path: sinkPath },
      } }],
    }), pino({ level: 'silent' }), { defaultMetrics: false });
    await tracker.start();
    const port = tracker.port('http');
    try {
      const health = await get(port, '/health');
      assert.equal(health.status, 200);
      assert.equal(health.body.toString(), 'ok\n');
      // HEAD (HAProxy's `option httpchk HEAD /ready`): GET's status and headers, no body.
      for (const path of ['/health', '/ready']) {
        const h = await head(port, path);
        assert.equal(h.status, 200, `HEAD ${path}`);
        assert.equal(h.headers['content-length'], path === '/health' ? '3' : '6');
        assert.equal(h.body.length, 0, `HEAD ${path} has no body`);
      }
      assert.equal((await head(port, `/${PASSKEY}/announce`)).status, 405, 'HEAD is only for the health checks');
      let ready = await get(port, '/ready');
      assert.deepEqual([ready.status, ready.body.toString()], [200, 'ready\n']);

      // The log sink appends to its file: a directory in its place makes every flush fail (EISDIR).
      assert.equal((await announce(port)).status, 200);
      ready = await readyUntil(port, 200); // flushed: the file exists
      rmSync(sinkPath, { force: true });
      mkdirSync(sinkPath);
      for (let i = 0; i < 5; i++) assert.equal((await announce(port)).status, 200);
      assert.match((await announce(port)).body.toString(), /tracker busy/, 'pending is at max_pending: announces are refused');
      ready = await readyUntil(port, 503);
      assert.equal(ready.status, 503, 'the sink is down and pending is at the limit');
      assert.match(ready.body.toString(), /^not ready: privtrak: sink unreachable and 5 deltas pending \(max_pending 5\)\n$/);
      assert.ok(!ready.body.toString().includes(PASSKEY));
      const headReady = await head(port, '/ready');
      assert.equal(headReady.status, 503, 'HEAD gets the same status as GET');
      assert.equal(headReady.headers['content-length'], String(ready.body.length), 'and the same Content-Length');
      assert.equal((await get(port, '/health')).status, 200, 'still live');

      rmSync(sinkPath, { recursive: true });
      ready = await readyUntil(port, 200);
      assert.equal(ready.status, 200, 'the sink took the backlog: ready again');
      assert.equal((await announce(port)).status, 200);
      assert.doesNotMatch((await announce(port)).body.toString(), /failure reason/);
    } finally {
      assert.deepEqual(await tracker.stop(), []);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shared mode: /ready is 503 for 5 s after Redis refused an announce as busy', async (t) => {
    const url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-health-'));
    const prefix = freshPrefix();
    // One stream entry allowed and a drainer that does not wake during the test: the second announce is refused.
    const tracker = new Tracker(validateConfig({
      metrics_addr: '', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '' }, user_key_secret: join(dir, 'user-key.secret'),
      storage: { name: 'redis', config: { url, key_prefix: prefix, groups: 1, max_stream_entries: 1 } },
      prehooks: [{ name: 'privtrak', options: { flush_interval: '1h', sink: { name: 'sqlite', path: join(dir, 'stats.sqlite') } } }],
    }), pino({ level: 'silent' }), { defaultMetrics: false });
    await tracker.start();
    const port = tracker.port('http');
    try {
      assert.equal((await get(port, '/ready')).status, 200);
      let busyAt = 0;
      for (let i = 0; i < 5 && busyAt === 0; i++) if (/tracker busy/.test((await announce(port)).body.toString())) busyAt = Date.now();
      assert.ok(busyAt > 0, 'an announce was refused as busy');
      const ready = await get(port, '/ready');
      assert.deepEqual([ready.status, ready.body.toString()],
        [503, 'not ready: privtrak: announces refused as busy: the delta streams are at storage.config.max_stream_entries\n']);
      const back = await readyUntil(port, 200);
      assert.equal(back.status, 200, 'ready again once no refusal was seen for 5 s');
      assert.ok(Date.now() - busyAt >= 4900, `not before (${Date.now() - busyAt} ms)`);
    } finally {
      await tracker.stop();
      await dropPrefix(url, prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/ready is 200 with a loaded registry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-health-'));
    writeFileSync(join(dir, 'users.csv'), `passkey,site_id,enabled,can_leech\n${PASSKEY},1,true,true\n`);
    writeFileSync(join(dir, 'torrents.csv'), 'info_hash,site_id,banned,download_multiplier,upload_multiplier\n');
    const tracker = new Tracker(validateConfig({
      metrics_addr: '', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '' }, prehooks: [{ name: 'user_approval' }],
      registry: { source: 'file', users: join(dir, 'users.csv'), torrents: join(dir, 'torrents.csv') },
    }), pino({ level: 'silent' }), { defaultMetrics: false });
    await tracker.start();
    try {
      assert.equal((await get(tracker.port('http'), '/ready')).status, 200);
    } finally {
      await tracker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/ready is 503 while the access registry has not loaded, 200 once it has', async () => {
    const source = new FixedSource({ allUsers: [user(PASSKEY)], allTorrents: [] });
    const registry = new AccessRegistry(source, { logger: pino({ level: 'silent' }), prometheus: new Registry() });
    const p = pipeline();
    const fe = createHttpFrontend(httpSchema.parse({ addr: '127.0.0.1:0' }),
      { ...p.deps, readiness: createReadiness({ hooks: p.deps.chain.preHooks, registry }) });
    await fe.listen();
    try {
      const before = await get(fe.port(), '/ready');
      assert.deepEqual([before.status, before.body.toString()], [503, 'not ready: access registry not loaded\n']);
      assert.equal((await get(fe.port(), '/health')).status, 200, 'live all the same');
      await registry.start();
      assert.equal((await get(fe.port(), '/ready')).status, 200);
    } finally {
      await registry.stop();
      await fe.close();
    }
  });

  it('keep-alive probes share a connection; health_checks: false turns both paths off', async () => {
    const on = pipeline();
    const fe = createHttpFrontend(httpSchema.parse({ addr: '127.0.0.1:0', keep_alive: true }), on.deps);
    const off = createHttpFrontend(httpSchema.parse({ addr: '127.0.0.1:0', health_checks: false }), pipeline().deps);
    await fe.listen();
    await off.listen();
    try {
      const r = await get(fe.port(), '/health');
      assert.equal(r.headers['connection'], 'keep-alive');
      assert.equal((await get(off.port(), '/health')).status, 404);
      assert.equal((await get(off.port(), '/ready')).status, 404);
      const count = (await on.metrics.prometheus.getSingleMetric('privtrak_requests_total')!.get()).values
        .find((v) => v.labels['action'] === 'other' && v.labels['outcome'] === 'ok')?.value;
      assert.equal(count, 1, 'a probe is counted as an "other" request');
    } finally {
      await fe.close();
      await off.close();
    }
  });

  it('the config refuses a route that would answer /health and /ready', () => {
    assert.throws(() => httpSchema.parse({ announce_routes: ['/:passkey'] }), /would answer \/health and \/ready/);
    assert.throws(() => httpSchema.parse({ scrape_routes: ['/ready'] }), /would answer/);
    assert.equal(httpSchema.parse({ announce_routes: ['/:passkey'], health_checks: false }).health_checks, false);
    assert.equal(httpSchema.parse({ announce_routes: ['/announce'] }).health_checks, true);
  });
});
