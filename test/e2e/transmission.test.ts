/**
 * Transmission (transmission-cli 3.00) swarms a private torrent through privtrak over HTTP,
 * with the passkey in the announce URL: it downloads from an aria2 seeder, and it seeds to a
 * qBittorrent leecher. Transmission ignores peers in 127.0.0.0/8, so the two clients of each
 * swarm sit on the two ends of a veth pair (a network namespace and the root namespace, see
 * netns.ts) and the tracker listens on the root end's address. A recording pre-hook checks
 * that Transmission's announces, including its `completed` one, reached the hooks with the
 * passkey.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Workspace, requireCommands, waitUntil } from './clients.js';
import { infoHashOf, seeders, startRecordingTracker, type Seen } from './recording-tracker.js';
import type { Tracker } from '../../src/tracker.js';
import { createNetnsLink, requireNetns, type NetnsLink } from './netns.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';

/** Runs `body` with a namespace, a tracker on the root end and a workspace; tears all three down, processes first. */
async function inSwarm(body: (env: { link: NetnsLink; tracker: Tracker; seen: Seen[]; ws: Workspace; url: string }) => Promise<void>): Promise<void> {
  const link = createNetnsLink();
  let ws: Workspace | undefined;
  let tracker: Tracker | undefined;
  try {
    const started = await startRecordingTracker(link.hostIp, { udp: false });
    tracker = started.tracker;
    ws = new Workspace();
    const url = `http://${link.hostIp}:${tracker.port('http')}/${PASSKEY}/announce`;
    await body({ link, tracker, seen: started.seen, ws, url });
  } finally {
    await ws?.close();
    await tracker?.stop();
    link.close();
  }
}

describe('Transmission swarms through privtrak (network namespaces)', { timeout: 140_000 }, () => {
  it('HTTP: aria2 seeds, Transmission downloads from another namespace', { timeout: 70_000 }, async (t) => {
    if (!requireCommands(t, ['transmission-cli', 'aria2c', 'mktorrent', 'ip'])) return;
    if (!requireNetns(t)) return;
    await inSwarm(async ({ link, tracker, seen, ws, url }) => {
      const { payload, torrent, name, seedDir } = ws.makeTorrent(url);
      const ih = infoHashOf(torrent);
      await ws.aria2(torrent, seedDir, { seed: true, name: 'aria2-seed' });
      await waitUntil(() => seeders(tracker, ih) >= 1, 15_000, 'aria2 to announce as a seeder');
      const leechDir = ws.path('leech');
      await ws.transmission(torrent, leechDir, { name: 'tr-leech', netns: link.ns });
      // Transmission 3.00 updates its interest in peers on a 10 s rechoke cycle: expect 10-20 s.
      const ms = await ws.waitForFile(join(leechDir, name), payload, 40_000, 'Transmission download');
      t.diagnostic(`Transmission (in ${link.ns}, ${link.nsIp}) downloaded ${payload.length} bytes from aria2 (${link.hostIp}) in ${ms} ms`);
      // Transmission tells the tracker once its pieces are verified.
      await waitUntil(() => seen.some((s) => s.client === '-TR' && s.event === 'completed'), 10_000, 'Transmission to announce completed');
      const tr = seen.filter((s) => s.client === '-TR');
      assert.ok(tr.some((s) => s.event === 'started'), JSON.stringify(tr));
      assert.ok(tr.every((s) => s.passkey === PASSKEY && s.transport === 'http' && s.ip === link.nsIp), JSON.stringify(tr));
      assert.ok(seen.some((s) => s.client === 'A2-' && s.passkey === PASSKEY && s.transport === 'http' && s.ip === link.hostIp));
    });
  });

  it('HTTP: Transmission seeds, qBittorrent downloads from another namespace', { timeout: 70_000 }, async (t) => {
    if (!requireCommands(t, ['transmission-cli', 'qbittorrent-nox', 'mktorrent', 'ip'])) return;
    if (!requireNetns(t)) return;
    await inSwarm(async ({ link, tracker, seen, ws, url }) => {
      const { payload, torrent, name, seedDir } = ws.makeTorrent(url);
      const ih = infoHashOf(torrent);
      // Transmission verifies the existing data, then announces as a seeder: the only one.
      await ws.transmission(torrent, seedDir, { name: 'tr-seed' });
      await waitUntil(() => seeders(tracker, ih) >= 1, 15_000, 'Transmission to announce as a seeder');
      const leechDir = ws.path('leech');
      await ws.qbittorrent(torrent, leechDir, { seed: false, name: 'qb-leech', netns: link.ns });
      // Transmission unchokes on its 10 s rechoke cycle: expect 10-20 s.
      const ms = await ws.waitForFile(join(leechDir, name), payload, 40_000, 'qBittorrent download from Transmission');
      t.diagnostic(`qBittorrent (in ${link.ns}, ${link.nsIp}) downloaded ${payload.length} bytes from Transmission (${link.hostIp}) in ${ms} ms`);
      const tr = seen.filter((s) => s.client === '-TR');
      assert.ok(tr.some((s) => s.event === 'started'), JSON.stringify(tr));
      assert.ok(tr.every((s) => s.passkey === PASSKEY && s.transport === 'http' && s.ip === link.hostIp), JSON.stringify(tr));
      assert.ok(seen.some((s) => s.client === '-qB' && s.passkey === PASSKEY && s.transport === 'http' && s.ip === link.nsIp));
    });
  });
});
