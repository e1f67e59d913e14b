/**
 * Ocelot's announce rules through a real tracker with `site: gazelle` (HTTP and one UDP announce
 * with BEP 41 URL data): a refusal for each rule with Ocelot's message, and the credit rules of
 * ../shared/sites B.2 (normal, free, neutral, token) read back from the privtrak hook's totals.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { siteUserKey } from '../../../src/accounting/user-key.js';
import { encodeScrapeRequest } from '../../../src/bittorrent/udp-codec.js';
import { get } from '../../support/http-client.js';
import { UdpClient } from '../../support/udp-client.js';
import { decode } from '../../../src/bittorrent/bencode.js';
import { ALICE, BOB, CAROL, IH, QB, TR, creditOf, escapeBytes, startSite } from './harness.js';
import { agentOf } from '../../../src/sites/gazelle/rules-hook.js';
import type { PeerExtras } from '../../../src/sites/peer-extras.js';

/** The PeerExtras the tracker gave the site (the rules hook keeps it). */
function extrasOf(hook: unknown): PeerExtras {
  return (hook as { extras: PeerExtras }).extras;
}

describe('Gazelle announce rules', () => {
  it('refuses an unknown passkey and a disabled user\'s ("Passkey not found"), an unknown torrent ("Unregistered torrent")', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ passkey: 'f'.repeat(32) })).failure, 'Passkey not found');
      assert.equal((await s.announce({ passkey: CAROL })).failure, 'Passkey not found', 'Enabled = \'0\' is not loaded');
      assert.equal((await s.announce({ infoHash: IH.unknown })).failure, 'Unregistered torrent');
      assert.equal((await s.announce({})).failure, undefined, 'alice on a registered torrent passes');
    } finally {
      await s.close();
    }
  });

  it('serves a WhatCD-layout site the same way (schema: whatcd)', async (t) => {
    const s = await startSite(t, { schema: 'whatcd' });
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({})).failure, undefined);
      assert.equal((await s.announce({ passkey: CAROL })).failure, 'Passkey not found');
      assert.equal((await s.announce({ infoHash: IH.unknown })).failure, 'Unregistered torrent');
      assert.equal(s.site.state.torrent(IH.other)?.snatched, 3, 'Snatched read from torrents itself');
    } finally {
      await s.close();
    }
  });

  it('can_leech = 0: a leecher is refused; seeding and stopping pass', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ passkey: BOB, left: 500, event: 'started' })).failure, 'Access denied, leeching forbidden');
      assert.equal((await s.announce({ passkey: BOB, left: 500, event: 'stopped' })).failure, undefined);
      assert.equal((await s.announce({ passkey: BOB, left: 0, event: 'started' })).failure, undefined);
    } finally {
      await s.close();
    }
  });

  it('a non-empty whitelist refuses a client whose peer_id has none of its prefixes', async (t) => {
    const s = await startSite(t, { seed: ["INSERT INTO xbt_client_whitelist (peer_id, vstring) VALUES ('-qB45', 'qBittorrent 4.5')"] });
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ peerId: TR })).failure, 'Your client is not on the whitelist');
      assert.equal((await s.announce({ peerId: QB })).failure, undefined);
    } finally {
      await s.close();
    }
  });

  it('an empty whitelist checks nothing', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ peerId: TR })).failure, undefined);
      assert.equal((await s.announce({ peerId: Buffer.from('XXXXXXXXXXXXXXXXXXXX') })).failure, undefined);
    } finally {
      await s.close();
    }
  });

  it('scrapes only for known passkeys', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      const refused = decode((await get(s.port, `/${'f'.repeat(32)}/scrape?info_hash=${escapeBytes(IH.normal)}`)).body) as Record<string, Buffer>;
      assert.equal(refused['failure reason']?.toString(), 'Passkey not found');
      const ok = decode((await get(s.port, `/${ALICE}/scrape?info_hash=${escapeBytes(IH.normal)}`)).body) as Record<string, unknown>;
      assert.ok(ok['files'] !== undefined, JSON.stringify(ok));
    } finally {
      await s.close();
    }
  });

  it('over UDP the passkey comes as BEP 41 URL data: same rules, same messages', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    const udp = new UdpClient(s.tracker.port('udp'));
    try {
      const ok = await udp.announce({ urlData: `/${ALICE}/announce`, infoHash: IH.normal, peerId: QB, left: 0 });
      assert.equal(ok.error, undefined);
      assert.equal(ok.reply.readUInt32BE(0), 1, 'an announce reply');
      assert.equal((await udp.announce({ urlData: `/${'f'.repeat(32)}/announce`, infoHash: IH.normal })).error, 'Passkey not found');
      assert.equal((await udp.announce({ urlData: `/${ALICE}/announce`, infoHash: IH.unknown })).error, 'Unregistered torrent');
      assert.equal((await udp.announce({ urlData: '', infoHash: IH.normal })).error, 'missing passkey');
      // The user agent recorded for the writer: UDP has no header, so the client named from its peer_id.
      assert.equal(extrasOf(s.site.hook).get(siteUserKey(1), IH.normal, QB)?.agent, 'qBittorrent 4.5.2.0');
      // A UDP scrape carries no URL data, so no passkey: refused.
      const connectionId = await udp.connect();
      const scrape = await udp.ask(encodeScrapeRequest(connectionId, 77, [IH.normal]), 2000);
      assert.ok(scrape !== undefined && scrape.readUInt32BE(0) === 3, 'a scrape without a passkey is an error');
    } finally {
      udp.close();
      await s.close();
    }
  });

  it('records the HTTP User-Agent, cut to xbt_files_users.useragent\'s 51 characters', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      const ua = `qBittorrent/4.5.2 ${'x'.repeat(60)}`;
      assert.equal((await s.announce({ userAgent: ua })).failure, undefined);
      const extra = extrasOf(s.site.hook).get(siteUserKey(1), IH.normal, QB);
      assert.equal(extra?.agent, ua.slice(0, 51));
      assert.equal(extra?.visible, true);
      assert.equal(agentOf(undefined, Buffer.from('XXXXXXXXXXXXXXXXXXXX')), '');
    } finally {
      await s.close();
    }
  });
});

describe('Gazelle credit rules', () => {
  it('normal counts both; free does not count the download; neutral counts nothing; a token does not count the download', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      for (const ih of [IH.normal, IH.free, IH.neutral, IH.token, IH.expired]) {
        assert.equal((await s.announce({ infoHash: ih, left: 1000, event: 'started' })).failure, undefined);
        assert.equal((await s.announce({ infoHash: ih, up: 100, down: 300, left: 700 })).failure, undefined);
      }
      const rows = await s.stopAndTotals();
      const alice = siteUserKey(1);
      // [credited up, credited down, raw up, raw down]
      assert.deepEqual(creditOf(rows, alice, IH.normal), [100, 300, 100, 300]);
      assert.deepEqual(creditOf(rows, alice, IH.free), [100, 0, 100, 300]);
      assert.deepEqual(creditOf(rows, alice, IH.neutral), [0, 0, 100, 300]);
      assert.deepEqual(creditOf(rows, alice, IH.token), [100, 0, 100, 300]);
      assert.deepEqual(creditOf(rows, alice, IH.expired), [100, 300, 100, 300], 'an expired token is no token');
    } finally {
      await s.close();
    }
  });
});
