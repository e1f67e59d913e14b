/**
 * Ocelot's report endpoint (GET /{report_password}/report?get=prom_stats|stats, ../shared/sites
 * B.3): Ocelot's metric names with the counts of what the tracker did, a wrong password refused
 * and counted, and no endpoint at all without a report_password.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../../../src/bittorrent/bencode.js';
import { get } from '../../support/http-client.js';
import { ALICE, BOB, IH, REPORT, startSite } from './harness.js';

/** `name{labels} value` lines into a map (comments skipped). */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

describe('Gazelle /report', () => {
  it('prom_stats: Ocelot\'s names, counting announces, peers and refusals', async (t) => {
    const s = await startSite(t, { reportPassword: REPORT });
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ passkey: ALICE, infoHash: IH.normal, left: 0, event: 'started' })).failure, undefined);
      assert.equal((await s.announce({ passkey: BOB, peerId: Buffer.from('-qB4520-000000000002'), infoHash: IH.normal, left: 0, event: 'started' })).failure, undefined);
      assert.equal((await s.announce({ passkey: ALICE, infoHash: IH.other, left: 10, event: 'started' })).failure, undefined);
      assert.equal((await s.announce({ passkey: 'f'.repeat(32) })).failure, 'Passkey not found');
      assert.equal((await s.announce({ passkey: ALICE, peerId: Buffer.from('-qB4520-000000000009'), infoHash: IH.unknown })).failure, 'Unregistered torrent');
      await s.update('action=add_whitelist&peer_id=-qB', 'wrong-secret-wrong-secret-wrong-secret');
      const wrong = await get(s.port, '/wrong-report-password-0000000/report?get=prom_stats');
      assert.deepEqual(decode(wrong.body), { 'failure reason': Buffer.from('Authentication failure') });

      const r = await get(s.port, `/${REPORT}/report?get=prom_stats`);
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
      const m = parseProm(r.body.toString());
      assert.equal(m.get('ocelot_total_announcements'), 5);
      assert.equal(m.get('ocelot_succ_announcements'), 3);
      assert.equal(m.get('ocelot_seeders'), 2);
      assert.equal(m.get('ocelot_leechers'), 1);
      assert.equal(m.get('ocelot_error{kind="secret"}'), 1);
      assert.equal(m.get('ocelot_error{kind="report"}'), 1);
      assert.equal(m.get('ocelot_error{kind="announce"}'), 1);
      assert.ok(m.get('ocelot_requests')! >= 7, `requests ${m.get('ocelot_requests')}`);
      for (const name of ['ocelot_uptime', 'ocelot_request_rate', 'ocelot_scrapes', 'ocelot_user_queue', 'ocelot_torrent_queue',
        'ocelot_peer_queue', 'ocelot_snatch_queue', 'ocelot_token_queue', 'ocelot_open_connections', 'ocelot_time_user', 'ocelot_max_rss']) {
        assert.ok(m.has(name) && Number.isFinite(m.get(name)), `${name} present`);
      }
    } finally {
      await s.close();
    }
  });

  it('stats: the plain text page, with the interval the site set', async (t) => {
    const s = await startSite(t, { reportPassword: REPORT });
    if (s === undefined) return;
    try {
      assert.equal((await s.announce({ left: 0, event: 'started' })).failure, undefined);
      let text = (await get(s.port, `/${REPORT}/report?get=stats`)).body.toString();
      assert.match(text, /^Uptime: 0 days, 00:00:\d\d$/m);
      assert.match(text, /^1 successful announcements$/m);
      assert.match(text, /^1 seeders tracked$/m);
      assert.match(text, new RegExp(`^${s.tracker.config.announce_interval / 1000} announce interval$`, 'm'));
      const up = await s.update('action=update_announce_interval&new_announce_interval=900');
      assert.equal(up.body.toString(), 'success');
      text = (await get(s.port, `/${REPORT}/report?get=stats`)).body.toString();
      assert.match(text, /^900 announce interval$/m);
      const unknown = await get(s.port, `/${REPORT}/report?get=jemalloc`);
      assert.deepEqual(decode(unknown.body), { 'failure reason': Buffer.from('unrecognized report query') });
    } finally {
      await s.close();
    }
  });

  it('without a report_password there is no report endpoint', async (t) => {
    const s = await startSite(t);
    if (s === undefined) return;
    try {
      const r = await get(s.port, '/anything-at-all-0000000000000000/report?get=stats');
      assert.equal(r.status, 404);
    } finally {
      await s.close();
    }
  });
});
