/**
 * Two trackers (open: no accounting hooks) on one Redis keyspace: a peer announced to one is
 * handed out by the other, through the unchanged response and swarm hooks. And a tracker whose
 * storage.config.groups differs from the keyspace's refuses to start, naming the key.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Tracker } from '../../../src/tracker.js';
import { validateConfig } from '../../../src/config/load.js';
import { decode } from '../../../src/bittorrent/bencode.js';
import { escapeBytes, get } from '../../support/http-client.js';
import { dropPrefix, freshPrefix, redisUrlOrSkip } from '../../support/redis.js';

const prefixes: string[] = [];
let url: string | undefined;
after(async () => {
  if (url !== undefined) for (const p of prefixes) await dropPrefix(url, p);
});

const IH = Buffer.alloc(20, 0x61);

function tracker(redisUrl: string, prefix: string, groups = 16): Tracker {
  const config = validateConfig({
    metrics_addr: '', log_level: 'silent', http: { addr: '127.0.0.1:0', announce_routes: ['/announce'], scrape_routes: ['/scrape'] }, udp: { addr: '' },
    prehooks: [], storage: { name: 'redis', config: { url: redisUrl, key_prefix: prefix, groups } },
  });
  return new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
}

async function announce(port: number, peerId: string, left: number, event = ''): Promise<Record<string, unknown>> {
  const q = `info_hash=${escapeBytes(IH)}&peer_id=${peerId}&port=6881&uploaded=0&downloaded=0&left=${left}&compact=1${event ? `&event=${event}` : ''}`;
  const r = await get(port, `/announce?${q}`);
  assert.equal(r.status, 200);
  return decode(r.body) as Record<string, unknown>;
}

describe('trackers on the Redis store', () => {
  it('share swarms: a peer announced to one tracker is handed out by the other', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const prefix = freshPrefix();
    prefixes.push(prefix);
    const a = tracker(url, prefix);
    const b = tracker(url, prefix);
    await a.start();
    t.after(() => a.stop());
    await b.start();
    t.after(() => b.stop());
    const first = await announce(a.port('http'), '-qB4520-seederseeder', 0, 'started');
    assert.equal(first['complete'], 1, 'the first seeder counts itself');
    const second = await announce(b.port('http'), '-qB4520-leecherleech', 100, 'started');
    assert.equal(second['complete'], 1);
    assert.equal(second['incomplete'], 1);
    assert.equal((second['peers'] as Buffer).length, 6, 'the seeder, from the other tracker');
    // The swarm hook runs after the reply: wait until the leecher is stored, then scrape the first tracker.
    const deadline = Date.now() + 3000;
    for (;;) {
      const s = decode((await get(a.port('http'), `/scrape?info_hash=${escapeBytes(IH)}`)).body) as { files: Map<string, unknown> | Record<string, unknown> };
      const files = s.files instanceof Map ? [...s.files.values()] : Object.values(s.files);
      const f = files[0] as Record<string, number>;
      if (f['incomplete'] === 1) {
        assert.equal(f['complete'], 1);
        break;
      }
      if (Date.now() > deadline) throw new Error(`scrape never showed the leecher: ${JSON.stringify(f)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const stopped = await announce(a.port('http'), '-qB4520-seederseeder', 0, 'stopped');
    assert.equal(stopped['complete'], 0);
  });

  it('refuses to start with another group count than the keyspace\'s, naming storage.config.groups', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const prefix = freshPrefix();
    prefixes.push(prefix);
    const a = tracker(url, prefix, 16);
    await a.start();
    await a.stop();
    const b = tracker(url, prefix, 8);
    await assert.rejects(b.start(), /storage\.config\.groups is 8 but the Redis keyspace .* was created with 16 groups/);
  });
});
