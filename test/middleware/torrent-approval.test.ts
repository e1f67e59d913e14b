import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createContext } from '../../src/middleware/context.js';
import { buildHook } from '../../src/middleware/hook-factories.js';
import { ClientError } from '../../src/bittorrent/errors.js';
import { ConfigError } from '../../src/config/errors.js';
import { announceReq, emptyResponse, fixedRegistry, hookDeps, torrent } from '../support/access.js';

const REGISTERED = Buffer.alloc(20, 1);
const NO_SITE_ID = Buffer.alloc(20, 2);
const BANNED = Buffer.alloc(20, 3);
const UNKNOWN = Buffer.alloc(20, 4);

async function setup(mode?: string) {
  const { registry, source } = await fixedRegistry([], [torrent(REGISTERED, { siteId: 9001 }), torrent(NO_SITE_ID), torrent(BANNED, { banned: true, siteId: 5 })]);
  return { hook: buildHook('torrent_approval', mode ? { mode } : {}, hookDeps(registry), 'prehooks.1'), registry, source };
}

function run(hook: ReturnType<typeof buildHook>, infoHash: Buffer): { siteTorrentId?: number; error?: string; code?: string } {
  const ctx = createContext({}, {});
  try {
    hook.handleAnnounce(ctx, announceReq({ infoHash }), emptyResponse());
    return { siteTorrentId: ctx.siteTorrentId };
  } catch (err) {
    assert.ok(err instanceof ClientError);
    return { error: err.message, code: err.code };
  }
}

describe('torrent_approval hook', () => {
  it('whitelist (the default): registered torrents only, banned ones refused; the site torrent ID goes into the context', async () => {
    const { hook } = await setup();
    assert.deepEqual(run(hook, REGISTERED), { siteTorrentId: 9001 });
    assert.deepEqual(run(hook, NO_SITE_ID), { siteTorrentId: undefined });
    assert.deepEqual(run(hook, UNKNOWN), { error: 'torrent not registered', code: 'TORRENT_NOT_REGISTERED' });
    assert.deepEqual(run(hook, BANNED), { error: 'torrent banned', code: 'TORRENT_BANNED' });
  });

  it('blacklist: anything but banned torrents', async () => {
    const { hook } = await setup('blacklist');
    assert.deepEqual(run(hook, UNKNOWN), { siteTorrentId: undefined });
    assert.deepEqual(run(hook, REGISTERED), { siteTorrentId: 9001 });
    assert.deepEqual(run(hook, BANNED), { error: 'torrent banned', code: 'TORRENT_BANNED' });
  });

  it('follows the registry: a torrent registered or banned later is seen on the next announce', async () => {
    const { hook, registry, source } = await setup();
    source.next = { torrents: [torrent(UNKNOWN, { siteId: 77 }), torrent(REGISTERED, { banned: true })] };
    assert.equal(await registry.refresh(), true);
    assert.deepEqual(run(hook, UNKNOWN), { siteTorrentId: 77 });
    assert.deepEqual(run(hook, REGISTERED), { error: 'torrent banned', code: 'TORRENT_BANNED' });
  });

  it('refuses a bad mode, naming the key', async () => {
    await assert.rejects(setup('greylist'), (e: ConfigError) => e.key === 'prehooks.1.options.mode');
  });
});
