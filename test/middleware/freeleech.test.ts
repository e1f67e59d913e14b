import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createContext } from '../../src/middleware/context.js';
import { buildHook } from '../../src/middleware/hook-factories.js';
import { FreeleechHook, freeleechOptionsSchema } from '../../src/middleware/freeleech/freeleech-hook.js';
import { ConfigError } from '../../src/config/errors.js';
import type { AccessRegistry } from '../../src/access/registry.js';
import { announceReq, emptyResponse, fixedRegistry, hookDeps, torrent } from '../support/access.js';

const FREE = Buffer.alloc(20, 1);
const DOUBLE = Buffer.alloc(20, 2);
const HALF = Buffer.alloc(20, 3);
const PLAIN = Buffer.alloc(20, 4);
const PENALTY = Buffer.alloc(20, 5);

async function registry(): Promise<AccessRegistry> {
  return (await fixedRegistry([], [
    torrent(FREE, { downloadMultiplier: 0 }), torrent(DOUBLE, { uploadMultiplier: 2 }), torrent(HALF, { downloadMultiplier: 0.5 }),
    torrent(PLAIN), torrent(PENALTY, { uploadMultiplier: 0.5 }),
  ])).registry;
}

function multipliers(hook: { handleAnnounce: FreeleechHook['handleAnnounce'] }, infoHash: Buffer): [number | undefined, number | undefined] {
  const ctx = createContext({}, {});
  hook.handleAnnounce(ctx, announceReq({ infoHash }), emptyResponse());
  return [ctx.downloadMultiplier, ctx.uploadMultiplier];
}

describe('freeleech hook', () => {
  it('puts each torrent\'s multipliers in the context (absent = 1)', async () => {
    const hook = buildHook('freeleech', {}, hookDeps(await registry()), 'prehooks.0') as FreeleechHook;
    assert.deepEqual(multipliers(hook, FREE), [0, 1]);
    assert.deepEqual(multipliers(hook, DOUBLE), [1, 2]);
    assert.deepEqual(multipliers(hook, HALF), [0.5, 1]);
    assert.deepEqual(multipliers(hook, PLAIN), [1, 1]);
    assert.deepEqual(multipliers(hook, PENALTY), [1, 0.5]);
    assert.deepEqual(multipliers(hook, Buffer.alloc(20, 9)), [1, 1], 'unregistered');
  });

  it('a site-wide event applies where it is kinder than the torrent\'s own value', async () => {
    const hook = buildHook('freeleech', { site_wide: { download: 0, upload: 1.5 } }, hookDeps(await registry()), 'prehooks.0') as FreeleechHook;
    assert.deepEqual(multipliers(hook, PLAIN), [0, 1.5]);
    assert.deepEqual(multipliers(hook, DOUBLE), [0, 2], 'double upload stays double');
    assert.deepEqual(multipliers(hook, PENALTY), [0, 1.5]);
  });

  it('after torrent_approval, takes the record it found (ctx.torrent) without a second registry lookup; looks up itself otherwise', async () => {
    const reg = await registry();
    let lookups = 0;
    const lookup = reg.torrent.bind(reg);
    reg.torrent = (ih: Buffer) => { lookups++; return lookup(ih); };
    const approval = buildHook('torrent_approval', { mode: 'blacklist' }, hookDeps(reg), 'prehooks.0');
    const free = buildHook('freeleech', {}, hookDeps(reg), 'prehooks.1');
    for (const [ih, expected] of [[FREE, [0, 1]], [DOUBLE, [1, 2]], [Buffer.alloc(20, 9), [1, 1]]] as const) {
      const ctx = createContext({}, {});
      const req = announceReq({ infoHash: ih });
      lookups = 0;
      approval.handleAnnounce(ctx, req, emptyResponse());
      free.handleAnnounce(ctx, req, emptyResponse());
      assert.equal(lookups, 1, 'one lookup for both hooks');
      assert.equal(ctx.torrent, ih === FREE || ih === DOUBLE ? lookup(ih) : null);
      assert.deepEqual([ctx.downloadMultiplier, ctx.uploadMultiplier], expected);
    }
    lookups = 0;
    assert.deepEqual(multipliers(free as FreeleechHook, HALF), [0.5, 1], 'alone in the chain');
    assert.equal(lookups, 1);
  });

  it('a site-wide value of 1 leaves torrent penalties alone', async () => {
    const hook = buildHook('freeleech', { site_wide: { download: 0 } }, hookDeps(await registry()), 'prehooks.0') as FreeleechHook;
    assert.deepEqual(multipliers(hook, PENALTY), [0, 0.5]);
  });

  it('honours the site-wide time window', async () => {
    let now = Date.parse('2025-12-23T23:59:59Z');
    const opts = freeleechOptionsSchema.parse({ site_wide: { download: 0, from: '2025-12-24T00:00:00Z', until: '2025-12-27T00:00:00Z' } });
    const hook = new FreeleechHook(await registry(), opts, () => now);
    assert.deepEqual(multipliers(hook, PLAIN), [1, 1], 'before');
    now = Date.parse('2025-12-24T00:00:00Z');
    assert.deepEqual(multipliers(hook, PLAIN), [0, 1], 'during');
    now = Date.parse('2025-12-27T00:00:00Z');
    assert.deepEqual(multipliers(hook, PLAIN), [1, 1], 'after');
  });

  it('works without a registry (site-wide only) and validates its options', () => {
    const hook = buildHook('freeleech', { site_wide: { upload: 2 } }, hookDeps(undefined), 'prehooks.0') as FreeleechHook;
    assert.deepEqual(multipliers(hook, FREE), [1, 2]);
    assert.throws(() => buildHook('freeleech', { site_wide: { download: -1 } }, hookDeps(), 'prehooks.3'), (e: ConfigError) => e.key === 'prehooks.3.options.site_wide.download');
    assert.throws(() => buildHook('freeleech', { site_wide: { from: 'christmas' } }, hookDeps(), 'prehooks.3'), (e: ConfigError) => e.key === 'prehooks.3.options.site_wide.from');
  });
});
