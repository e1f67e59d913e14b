/**
 * Real clients complete downloads of a private torrent through privtrak on loopback, with
 * the passkey in the announce URL: aria2 → qBittorrent and qBittorrent → aria2 over HTTP,
 * qBittorrent → qBittorrent over UDP (libtorrent sends the passkey as BEP 41 URL data).
 * A recording pre-hook checks the passkey reached the hooks from every client.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { decode } from '../../src/bittorrent/bencode.js';
import type { Hook } from '../../src/middleware/hook.js';
import { Workspace, requireCommands, waitUntil } from './clients.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';

interface Seen { passkey: string | undefined; transport: string; client: string; event: string }

async function startTracker(): Promise<{ tracker: Tracker; seen: Seen[] }> {
  const seen: Seen[] = [];
  const recorder: Hook = {
    name: 'recorder',
    handleAnnounce(ctx, req) {
      seen.push({ passkey: ctx.params['passkey'], transport: req.transport, client: req.peer.id.toString('latin1', 0, 3), event: req.event });
    },
    handleScrape() {},
  };
  const config = validateConfig({
    announce_interval: '5s', min_announce_interval: '1s', metrics_addr: '', log_level: 'silent',
    http: { addr: '127.0.0.1:0' }, udp: { addr: '127.0.0.1:0' },
    prehooks: [], // the bare tracker: the privtrak hook has end-to-end tests of its own
  });
  const tracker = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
  // Test-only: put the recorder in front of the built-in response hook.
  (tracker.chain.preHooks as Hook[]).unshift(recorder);
  await tracker.start();
  return { tracker, seen };
}

/** SHA-1 of the bencoded info dict. mktorrent writes keys sorted, so `info` is the last key. */
function infoHashOf(torrentPath: string): Buffer {
  const raw = readFileSync(torrentPath);
  assert.ok((decode(raw) as Record<string, unknown>)['info'], 'torrent has an info dict');
  const info = raw.subarray(raw.lastIndexOf('4:infod') + 6, raw.length - 1);
  return createHash('sha1').update(info).digest();
}

function seeders(tracker: Tracker, ih: Buffer): number {
  return (tracker.store.scrapeSwarm(ih) as { complete: number }).complete;
}

describe('real clients swarm through privtrak', { timeout: 300_000 }, () => {
  it('HTTP: aria2 seeds, qBittorrent downloads', async (t) => {
    if (!requireCommands(t, ['aria2c', 'qbittorrent-nox', 'mktorrent'])) return;
    const { tracker, seen } = await startTracker();
    const ws = new Workspace();
    try {
      const url = `http://127.0.0.1:${tracker.port('http')}/${PASSKEY}/announce`;
      const { payload, torrent, name, seedDir } = ws.makeTorrent(url);
      const ih = infoHashOf(torrent);
      await ws.aria2(torrent, seedDir, { seed: true, name: 'aria2-seed' });
      await waitUntil(() => seeders(tracker, ih) >= 1, 30_000, 'aria2 to announce as a seeder');
      const leechDir = ws.path('leech');
      await ws.qbittorrent(torrent, leechDir, { seed: false, name: 'qb-leech' });
      const ms = await ws.waitForFile(join(leechDir, name), payload, 120_000, 'qBittorrent download');
      t.diagnostic(`qBittorrent downloaded ${payload.length} bytes in ${ms} ms`);
      assert.ok(seen.some((s) => s.client === 'A2-' && s.passkey === PASSKEY && s.transport === 'http'));
      assert.ok(seen.some((s) => s.client === '-qB' && s.passkey === PASSKEY && s.transport === 'http'));
    } finally {
      await ws.close();
      await tracker.stop();
    }
  });

  it('HTTP: qBittorrent seeds, aria2 downloads', async (t) => {
    if (!requireCommands(t, ['aria2c', 'qbittorrent-nox', 'mktorrent'])) return;
    const { tracker, seen } = await startTracker();
    const ws = new Workspace();
    try {
      const url = `http://127.0.0.1:${tracker.port('http')}/${PASSKEY}/announce`;
      const { payload, torrent, name, seedDir } = ws.makeTorrent(url);
      const ih = infoHashOf(torrent);
      await ws.qbittorrent(torrent, seedDir, { seed: true, name: 'qb-seed' });
      await waitUntil(() => seeders(tracker, ih) >= 1, 30_000, 'qBittorrent to announce as a seeder');
      const leechDir = ws.path('leech');
      await ws.aria2(torrent, leechDir, { seed: false, name: 'aria2-leech' });
      const ms = await ws.waitForFile(join(leechDir, name), payload, 120_000, 'aria2 download');
      t.diagnostic(`aria2 downloaded ${payload.length} bytes in ${ms} ms`);
      assert.ok(seen.some((s) => s.client === '-qB' && s.passkey === PASSKEY && s.event === 'started'));
      assert.ok(seen.some((s) => s.client === 'A2-' && s.passkey === PASSKEY));
    } finally {
      await ws.close();
      await tracker.stop();
    }
  });

  it('UDP: qBittorrent seeds, another qBittorrent downloads, the passkey arrives as BEP 41 URL data', async (t) => {
    if (!requireCommands(t, ['qbittorrent-nox', 'mktorrent'])) return;
    const { tracker, seen } = await startTracker();
    const ws = new Workspace();
    try {
      const url = `udp://127.0.0.1:${tracker.port('udp')}/${PASSKEY}/announce`;
      const { payload, torrent, name, seedDir } = ws.makeTorrent(url);
      const ih = infoHashOf(torrent);
      await ws.qbittorrent(torrent, seedDir, { seed: true, name: 'qb-udp-seed' });
      await waitUntil(() => seeders(tracker, ih) >= 1, 30_000, 'the seeding qBittorrent to announce over UDP');
      const leechDir = ws.path('leech');
      await ws.qbittorrent(torrent, leechDir, { seed: false, name: 'qb-udp-leech' });
      const ms = await ws.waitForFile(join(leechDir, name), payload, 120_000, 'qBittorrent download over UDP tracker');
      t.diagnostic(`qBittorrent downloaded ${payload.length} bytes in ${ms} ms via the UDP tracker`);
      const udp = seen.filter((s) => s.transport === 'udp');
      assert.ok(udp.length >= 2, `udp announces: ${udp.length}`);
      assert.ok(udp.every((s) => s.passkey === PASSKEY), JSON.stringify(udp));
    } finally {
      await ws.close();
      await tracker.stop();
    }
  });
});
