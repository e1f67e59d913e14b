/**
 * One suite for every registry source (file, PostgreSQL, MariaDB), called in one line per
 * backend: a real tracker (HTTP and UDP frontends) with the access chain
 *
 *   client_approval → user_approval → torrent_approval → peer_limits → freeleech → recorder
 *
 * and every refusal reason sent over both transports, a change at the source picked up by the
 * refresh timer, and a source outage (the tracker keeps serving its last good copy, the age
 * gauge grows, failures are counted) followed by recovery.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { decode } from '../../src/bittorrent/bencode.js';
import type { Hook } from '../../src/middleware/hook.js';
import type { RequestContext } from '../../src/middleware/context.js';
import { escapeBytes, get } from '../support/http-client.js';
import { UdpClient } from '../support/udp-client.js';
import { waitUntil } from '../e2e/clients.js';
import { siteUserKey } from '../../src/accounting/user-key.js';

export interface SuiteUser { passkey: string; siteId: number; enabled: boolean; canLeech: boolean }
export interface SuiteTorrent { infoHash: Buffer; siteId: number; banned: boolean; freeleech: boolean; doubleUpload: boolean }

/** A registry source prepared with the suite's data, and ways to change or break it as the site's side would. */
export interface SuiteBackend {
  /** The `registry:` config block. */
  readonly registry: Record<string, unknown>;
  /** Disables the user at the source (as the site does). */
  disableUser(passkey: string): Promise<void>;
  /** Adds an enabled user at the source (works during an outage: the site keeps writing). */
  addUser(passkey: string, siteId: number): Promise<void>;
  /** Makes the tracker's reads fail (connection refused, login locked, file broken). */
  breakSource(): Promise<void>;
  repairSource(): Promise<void>;
  cleanup(): Promise<void>;
}

const key = (c: string) => c.repeat(32);
export const USERS = {
  ok: { passkey: key('a'), siteId: 11, enabled: true, canLeech: true },
  disabled: { passkey: key('b'), siteId: 12, enabled: false, canLeech: true },
  seedOnly: { passkey: key('c'), siteId: 13, enabled: true, canLeech: false },
  rateHttp: { passkey: key('d'), siteId: 14, enabled: true, canLeech: true },
  rateUdp: { passkey: key('e'), siteId: 15, enabled: true, canLeech: true },
  toDisable: { passkey: key('f'), siteId: 16, enabled: true, canLeech: true },
} satisfies Record<string, SuiteUser>;
export const LATE_USER = { passkey: '1'.repeat(32), siteId: 17 };
const UNKNOWN = '9'.repeat(32);

const ih = (b: number) => Buffer.alloc(20, b);
export const TORRENTS = {
  free: { infoHash: ih(0x11), siteId: 101, banned: false, freeleech: true, doubleUpload: true },
  banned: { infoHash: ih(0x22), siteId: 102, banned: true, freeleech: false, doubleUpload: false },
  plain: { infoHash: ih(0x33), siteId: 103, banned: false, freeleech: false, doubleUpload: false },
} satisfies Record<string, SuiteTorrent>;
const UNREGISTERED = ih(0x44);

const RATE_BURST = 40;

interface Seen { siteUserId?: number; siteTorrentId?: number; down?: number; up?: number; userId?: string }

interface Attempt { passkey?: string; infoHash?: Buffer; peerId?: string; left?: number; event?: 'started' | 'stopped' | 'none'; userAgent?: string }

/** Sends one announce over the transport; resolves with the failure reason, or undefined if accepted. */
type Send = (a: Attempt) => Promise<string | undefined>;

function peerId(tag: string): string {
  return `-qB4520-${tag.padStart(12, '0')}`;
}

export function runAccessSuite(name: string, makeBackend: () => Promise<SuiteBackend | undefined>): void {
  describe(`access hooks over the wire: ${name} registry`, { timeout: 120_000 }, () => {
    let backend: SuiteBackend | undefined;
    let tracker: Tracker;
    let udp: UdpClient;
    const seen: Seen[] = [];

    before(async () => {
      backend = await makeBackend();
      if (backend === undefined) return;
      const recorder: Hook = {
        name: 'recorder',
        handleAnnounce(ctx: RequestContext) {
          seen.push({
            siteUserId: ctx.siteUserId, siteTorrentId: ctx.siteTorrentId, down: ctx.downloadMultiplier, up: ctx.uploadMultiplier,
            userId: ctx.userId?.toString('hex'),
          });
        },
        handleScrape() {},
      };
      const config = validateConfig({
        metrics_addr: '127.0.0.1:0', log_level: 'silent',
        http: { addr: '127.0.0.1:0' }, udp: { addr: '127.0.0.1:0' },
        registry: backend.registry,
        prehooks: [
          { name: 'client_approval', options: { deny: ['-TR2'], user_agent: { deny: ['BitComet/'] } } },
          { name: 'user_approval' },
          { name: 'torrent_approval', options: { mode: 'whitelist' } },
          { name: 'peer_limits', options: { max_peers_per_torrent: 2, rate_limit: { announces: 1, per: '1h', burst: RATE_BURST } } },
          { name: 'freeleech' },
        ],
      });
      tracker = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
      const pre = tracker.chain.preHooks as Hook[];
      pre.splice(pre.length - 1, 0, recorder); // before the built-in response hook
      await tracker.start();
      udp = new UdpClient(tracker.port('udp'));
    });

    after(async () => {
      if (backend === undefined) return;
      udp?.close();
      await tracker?.stop();
      await backend.cleanup();
    });

    const sendHttp: Send = async (a) => {
      const q = [
        `info_hash=${escapeBytes(a.infoHash ?? TORRENTS.free.infoHash)}`, `peer_id=${escapeBytes(Buffer.from(a.peerId ?? peerId('1'), 'latin1'))}`,
        'port=6881', 'uploaded=0', 'downloaded=0', `left=${a.left ?? 0}`,
      ];
      if (a.event && a.event !== 'none') q.push(`event=${a.event}`);
      const reply = await get(tracker.port('http'), `/${a.passkey ?? ''}/announce?${q.join('&')}`, a.userAgent ? { 'User-Agent': a.userAgent } : {});
      assert.equal(reply.status, 200, reply.body.toString('latin1'));
      const failure = (decode(reply.body) as unknown as Record<string, Buffer | undefined>)['failure reason'];
      return failure?.toString();
    };

    const sendUdp: Send = async (a) => {
      const r = await udp.announce({
        infoHash: a.infoHash ?? TORRENTS.free.infoHash, peerId: Buffer.from(a.peerId ?? peerId('1'), 'latin1'),
        left: a.left ?? 0, event: a.event ?? 'started', urlData: a.passkey === undefined ? '' : `/${a.passkey}/announce`,
      });
      return r.error;
    };

    const metric = async (metricName: string): Promise<number> => {
      const m = tracker.metrics.prometheus.getSingleMetric(metricName);
      assert.ok(m, `metric ${metricName}`);
      const values = (await m.get()).values;
      return values.reduce((sum, v) => sum + v.value, 0);
    };

    for (const [transport, send] of [['HTTP', () => sendHttp], ['UDP', () => sendUdp]] as const) {
      it(`${transport}: accepts an enabled user on a registered torrent, with site IDs and multipliers in the context`, async (t) => {
        if (!backend) return t.skip('no backend');
        seen.length = 0;
        assert.equal(await send()({ passkey: USERS.ok.passkey, left: 100, peerId: peerId(`${transport}ok`) }), undefined);
        assert.deepEqual(seen.at(-1), { siteUserId: 11, siteTorrentId: 101, down: 0, up: 2, userId: siteUserKey(11).toString('hex') });
        assert.equal(await send()({ passkey: USERS.ok.passkey, infoHash: TORRENTS.plain.infoHash, peerId: peerId(`${transport}ok`) }), undefined);
        assert.deepEqual(seen.at(-1), { siteUserId: 11, siteTorrentId: 103, down: 1, up: 1, userId: siteUserKey(11).toString('hex') });
        // A passkey in upper case is the same user.
        assert.equal(await send()({ passkey: USERS.ok.passkey.toUpperCase(), peerId: peerId(`${transport}ok`) }), undefined);
        for (const torrent of [TORRENTS.free, TORRENTS.plain]) {
          await send()({ passkey: USERS.ok.passkey, infoHash: torrent.infoHash, peerId: peerId(`${transport}ok`), event: 'stopped' });
        }
      });

      it(`${transport}: refuses with the reason for each case`, async (t) => {
        if (!backend) return t.skip('no backend');
        const s = send();
        const cases: Array<[string, Attempt, string]> = [
          ['unknown passkey', { passkey: UNKNOWN }, 'unknown passkey'],
          ['malformed passkey (same answer as unknown)', { passkey: 'not-a-passkey' }, 'unknown passkey'],
          ['disabled user', { passkey: USERS.disabled.passkey }, 'account disabled'],
          ['leeching without download privileges', { passkey: USERS.seedOnly.passkey, left: 100 }, 'download privileges revoked: seeding only'],
          ['unregistered torrent (whitelist)', { passkey: USERS.ok.passkey, infoHash: UNREGISTERED }, 'torrent not registered'],
          ['banned torrent', { passkey: USERS.ok.passkey, infoHash: TORRENTS.banned.infoHash }, 'torrent banned'],
          ['banned client', { passkey: USERS.ok.passkey, peerId: '-TR2940-abcdefabcdef' }, 'client banned (-TR2)'],
        ];
        for (const [what, attempt, reason] of cases) assert.equal(await s(attempt), reason, what);
        // Seeding stays allowed without download privileges, and so does leaving.
        assert.equal(await s({ passkey: USERS.seedOnly.passkey, left: 0 }), undefined);
        assert.equal(await s({ passkey: USERS.seedOnly.passkey, left: 100, event: 'stopped' }), undefined);
      });

      it(`${transport}: at most 2 peers per user per torrent; a stopped frees its slot`, async (t) => {
        if (!backend) return t.skip('no backend');
        const s = send();
        const base = { passkey: USERS.ok.passkey, infoHash: TORRENTS.plain.infoHash };
        const tag = transport === 'HTTP' ? 'h' : 'u';
        assert.equal(await s({ ...base, peerId: peerId(`${tag}1`) }), undefined);
        assert.equal(await s({ ...base, peerId: peerId(`${tag}2`) }), undefined);
        assert.equal(await s({ ...base, peerId: peerId(`${tag}3`) }), 'too many peers on this torrent (at most 2 per user)');
        assert.equal(await s({ ...base, peerId: peerId(`${tag}1`), event: 'none' }), undefined, 'a known peer keeps its slot');
        assert.equal(await s({ ...base, peerId: peerId(`${tag}2`), event: 'stopped' }), undefined);
        assert.equal(await s({ ...base, peerId: peerId(`${tag}3`) }), undefined, 'the freed slot is taken');
        for (const tg of ['1', '3']) await s({ ...base, peerId: peerId(`${tag}${tg}`), event: 'stopped' });
      });

      it(`${transport}: rate-limits a user after ${RATE_BURST} announces`, async (t) => {
        if (!backend) return t.skip('no backend');
        const s = send();
        const user = transport === 'HTTP' ? USERS.rateHttp : USERS.rateUdp;
        for (let i = 0; i < RATE_BURST; i++) assert.equal(await s({ passkey: user.passkey }), undefined, `announce ${i + 1}`);
        assert.equal(await s({ passkey: user.passkey }), 'too many announces, slow down');
      });
    }

    it('HTTP: refuses a banned user agent; UDP: refuses an announce without a passkey', async (t) => {
      if (!backend) return t.skip('no backend');
      assert.equal(await sendHttp({ passkey: USERS.ok.passkey, userAgent: 'BitComet/2.0' }), 'user agent banned (BitComet/)');
      assert.equal(await sendUdp({}), 'missing passkey');
    });

    it('counts refusals by hook and reason', async (t) => {
      if (!backend) return t.skip('no backend');
      const m = tracker.metrics.prometheus.getSingleMetric('privtrak_access_refused_total')!;
      const v = (await m.get()).values;
      const count = (hook: string, reason: string) => v.find((x) => x.labels['hook'] === hook && x.labels['reason'] === reason)?.value ?? 0;
      assert.equal(count('user_approval', 'unknown'), 4, 'unknown + malformed, over HTTP and UDP');
      assert.equal(count('torrent_approval', 'banned'), 2);
      assert.equal(count('peer_limits', 'rate_limited'), 2);
    });

    it('picks up a change at the source on its own (refresh timer)', async (t) => {
      if (!backend) return t.skip('no backend');
      assert.equal(await sendHttp({ passkey: USERS.toDisable.passkey }), undefined);
      await backend.disableUser(USERS.toDisable.passkey);
      await waitUntil(async () => (await sendUdp({ passkey: USERS.toDisable.passkey })) === 'account disabled', 15_000, 'the refresh to see the disabled user');
      assert.equal(await sendHttp({ passkey: USERS.toDisable.passkey }), 'account disabled');
    });

    it('keeps serving the last good copy while the source is down; the age grows, failures are counted; then recovers', async (t) => {
      if (!backend) return t.skip('no backend');
      const registry = tracker.accessRegistry!;
      assert.equal(await registry.refresh(), true);
      const failuresBefore = await metric('privtrak_registry_refresh_failures_total');
      await backend.breakSource();
      await backend.addUser(LATE_USER.passkey, LATE_USER.siteId); // the site keeps writing
      assert.equal(await registry.refresh(), false, 'the refresh fails while the source is down');
      assert.ok((await metric('privtrak_registry_refresh_failures_total')) >= failuresBefore + 1);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await registry.refresh(), false);
      const age = await metric('privtrak_registry_age_seconds');
      assert.ok(age >= 1.4, `age ${age} grows while the source is down`);
      // Still serving from memory: accepted and refused as before.
      const plain = TORRENTS.plain.infoHash;
      assert.equal(await sendHttp({ passkey: USERS.ok.passkey, infoHash: plain }), undefined);
      assert.equal(await sendUdp({ passkey: USERS.ok.passkey, infoHash: plain }), undefined);
      assert.equal(await sendUdp({ passkey: USERS.disabled.passkey }), 'account disabled');
      assert.equal(await sendHttp({ passkey: USERS.ok.passkey, infoHash: UNREGISTERED }), 'torrent not registered');
      assert.equal(await sendHttp({ passkey: LATE_USER.passkey }), 'unknown passkey', 'not loaded yet');
      await backend.repairSource();
      // Until the repaired content is in: a poll already under way when the source was repaired
      // finds the file changed while it read it and keeps the last good copy (a success that
      // loads nothing); the next one takes the new content.
      await waitUntil(async () => (await registry.refresh()) && (await sendHttp({ passkey: LATE_USER.passkey })) === undefined, 15_000,
        'a successful refresh after the outage, with the user added during it');
      assert.ok((await metric('privtrak_registry_age_seconds')) < 1, 'age back to ~0');
      assert.equal(await sendHttp({ passkey: LATE_USER.passkey }), undefined, 'the user added during the outage');
      assert.equal(await sendUdp({ passkey: LATE_USER.passkey }), undefined);
    });
  });
}
