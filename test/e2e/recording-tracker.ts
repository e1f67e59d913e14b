/**
 * The in-process tracker the real-client tests swarm through: the bare chain (the privtrak
 * hook has end-to-end tests of its own) with a recording pre-hook in front, so a test can
 * check what reached the hooks (passkey, transport, client, event, address).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { decode } from '../../src/bittorrent/bencode.js';
import type { Hook } from '../../src/middleware/hook.js';

export interface Seen {
  passkey: string | undefined;
  transport: string;
  /** The first three bytes of the peer_id: "-qB", "A2-", "-TR". */
  client: string;
  event: string;
  ip: string;
}

/** Starts a tracker with HTTP and UDP on `host`, port 0 (UDP off with `udp: false`). */
export async function startRecordingTracker(host = '127.0.0.1', opts: { udp?: boolean } = {}): Promise<{ tracker: Tracker; seen: Seen[] }> {
  const seen: Seen[] = [];
  const recorder: Hook = {
    name: 'recorder',
    handleAnnounce(ctx, req) {
      seen.push({
        passkey: ctx.params['passkey'], transport: req.transport, client: req.peer.id.toString('latin1', 0, 3),
        event: req.event, ip: req.peer.ip,
      });
    },
    handleScrape() {},
  };
  const config = validateConfig({
    announce_interval: '5s', min_announce_interval: '1s', metrics_addr: '', log_level: 'silent',
    http: { addr: `${host}:0` }, udp: { addr: opts.udp === false ? '' : `${host}:0` },
    prehooks: [],
  });
  const tracker = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
  // Test-only: put the recorder in front of the built-in response hook.
  (tracker.chain.preHooks as Hook[]).unshift(recorder);
  await tracker.start();
  return { tracker, seen };
}

/** SHA-1 of the bencoded info dict. mktorrent writes keys sorted, so `info` is the last key. */
export function infoHashOf(torrentPath: string): Buffer {
  const raw = readFileSync(torrentPath);
  assert.ok((decode(raw) as Record<string, unknown>)['info'], 'torrent has an info dict');
  const info = raw.subarray(raw.lastIndexOf('4:infod') + 6, raw.length - 1);
  return createHash('sha1').update(info).digest();
}

export function seeders(tracker: Tracker, ih: Buffer): number {
  return (tracker.store.scrapeSwarm(ih) as { complete: number }).complete;
}
