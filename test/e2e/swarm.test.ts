/**
 * Real clients complete downloads of a private torrent through privtrak on loopback, with
 * the passkey in the announce URL: aria2 → qBittorrent and qBittorrent → aria2 over HTTP,
 * qBittorrent → qBittorrent over UDP (libtorrent sends the passkey as BEP 41 URL data).
 * A recording pre-hook checks the passkey reached the hooks from every client.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Workspace, requireCommands, waitUntil } from './clients.js';
import { infoHashOf, seeders, startRecordingTracker } from './recording-tracker.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';

describe('real clients swarm through privtrak', { timeout: 300_000 }, () => {
  it('HTTP: aria2 seeds, qBittorrent downloads', async (t) => {
    if (!requireCommands(t, ['aria2c', 'qbittorrent-nox', 'mktorrent'])) return;
    const { tracker, seen } = await startRecordingTracker();
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
    const { tracker, seen } = await startRecordingTracker();
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
    const { tracker, seen } = await startRecordingTracker();
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
