import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createContext } from '../../src/middleware/context.js';
import { PeerLimiter, OK, RATE_LIMITED, TOO_MANY_PEERS } from '../../src/middleware/peer-limits/peer-limiter.js';
import { PeerLimitsHook, peerLimitsOptionsSchema } from '../../src/middleware/peer-limits/peer-limits-hook.js';
import { buildHook } from '../../src/middleware/hook-factories.js';
import { ClientError } from '../../src/bittorrent/errors.js';
import { ConfigError } from '../../src/config/errors.js';
import { announceReq, emptyResponse, hookDeps } from '../support/access.js';
import { Registry } from 'prom-client';

const MIN = 60_000;

describe('peer limiter', () => {
  it('holds at most N distinct peers per user and torrent; known peers and other torrents/users are unaffected', () => {
    const l = new PeerLimiter({ maxPeers: 2, peerLifetimeMs: 30 * MIN, burst: 0, refillPerMs: 0 });
    assert.equal(l.announce('u1', 't1', 'p1', false, 0), OK);
    assert.equal(l.announce('u1', 't1', 'p2', false, 0), OK);
    assert.equal(l.announce('u1', 't1', 'p3', false, 0), TOO_MANY_PEERS);
    assert.equal(l.announce('u1', 't1', 'p1', false, 1), OK, 'a known peer re-announces');
    assert.equal(l.announce('u1', 't2', 'p3', false, 0), OK, 'another torrent');
    assert.equal(l.announce('u2', 't1', 'p3', false, 0), OK, 'another user');
  });

  it('a stopped frees its slot; a peer silent past the lifetime frees it too', () => {
    const l = new PeerLimiter({ maxPeers: 1, peerLifetimeMs: 30 * MIN, burst: 0, refillPerMs: 0 });
    assert.equal(l.announce('u', 't', 'a', false, 0), OK);
    assert.equal(l.announce('u', 't', 'b', false, 0), TOO_MANY_PEERS);
    assert.equal(l.announce('u', 't', 'a', true, 1), OK);
    assert.equal(l.announce('u', 't', 'b', false, 2), OK);
    assert.equal(l.announce('u', 't', 'c', false, 30 * MIN + 2), TOO_MANY_PEERS, 'b is exactly at the lifetime');
    assert.equal(l.announce('u', 't', 'c', false, 30 * MIN + 3), OK, 'b expired');
    assert.equal(l.announce('u', 't', 'x', true, 0), OK, 'a stopped is never refused');
  });

  it('token bucket: a burst, then the refill rate', () => {
    const l = new PeerLimiter({ maxPeers: 0, peerLifetimeMs: MIN, burst: 3, refillPerMs: 1 / 1000 });
    for (let i = 0; i < 3; i++) assert.equal(l.announce('u', `t${i}`, 'p', false, 0), OK);
    assert.equal(l.announce('u', 't', 'p', false, 0), RATE_LIMITED);
    assert.equal(l.announce('u', 't', 'p', false, 999), RATE_LIMITED);
    assert.equal(l.announce('u', 't', 'p', false, 1000), OK, 'one token after a second');
    assert.equal(l.announce('other', 't', 'p', false, 1000), OK, 'per user');
    assert.equal(l.announce('u', 't', 'p', false, 60_000), OK);
    for (let i = 0; i < 2; i++) assert.equal(l.announce('u', 't', 'p', false, 60_000), OK);
    assert.equal(l.announce('u', 't', 'p', false, 60_000), RATE_LIMITED, 'the bucket never holds more than the burst');
  });

  it('sweeps expired state in slices, so memory stays bounded', () => {
    const l = new PeerLimiter({ maxPeers: 3, peerLifetimeMs: MIN, burst: 10, refillPerMs: 10 / MIN });
    for (let u = 0; u < 1000; u++) l.announce(`u${u}`, 't', 'p', false, 0);
    l.announce('active', 't', 'p', false, 2 * MIN);
    assert.equal(l.trackedUsers, 1001);
    let passes = 0;
    while (!l.sweep(2 * MIN, 100)) passes++;
    assert.equal(passes, 10, '1001 users in slices of 100');
    assert.equal(l.trackedUsers, 1, 'only the user with a live peer (and a spent token) stays');
    // A user whose peers expired but whose bucket is not yet full again is kept until it is.
    l.announce('busy', 't', 'p', true, 2 * MIN);
    while (!l.sweep(2 * MIN, 100));
    assert.equal(l.trackedUsers, 2);
    while (!l.sweep(4 * MIN, 100));
    assert.equal(l.trackedUsers, 0);
  });
});

describe('peer_limits hook', () => {
  const refusal = (fn: () => void) => {
    try {
      fn();
      return undefined;
    } catch (err) {
      assert.ok(err instanceof ClientError);
      return `${err.code}: ${err.message}`;
    }
  };

  it('refuses the fourth peer of a user on a torrent by default, keyed by ctx.userId', () => {
    let now = 0;
    const hook = new PeerLimitsHook(peerLimitsOptionsSchema.parse({}), { prometheus: new Registry() }, () => now);
    const send = (peer: string, user: number, event: 'none' | 'stopped' = 'none') => refusal(() => {
      const ctx = createContext({}, {});
      ctx.userId = Buffer.alloc(16, user);
      hook.handleAnnounce(ctx, announceReq({ peerIdText: `-qB4520-${peer.padStart(12, '0')}`, event }), emptyResponse());
    });
    for (const p of ['1', '2', '3']) assert.equal(send(p, 1), undefined);
    assert.equal(send('4', 1), 'TOO_MANY_PEERS: too many peers on this torrent (at most 3 per user)');
    assert.equal(send('4', 2), undefined, 'another user');
    assert.equal(send('2', 1, 'stopped'), undefined);
    assert.equal(send('4', 1), undefined);
    now = 32 * MIN;
    assert.equal(send('5', 1), undefined, 'silent peers expired after the default 31m lifetime');
  });

  it('identifies the user from the passkey when no earlier hook did, and rate-limits', () => {
    const hook = buildHook('peer_limits', { rate_limit: { announces: 2, per: '1m' } }, hookDeps(), 'prehooks.0');
    const send = (passkey: string) => refusal(() => hook.handleAnnounce(createContext({ passkey }, {}), announceReq(), emptyResponse()));
    const a = 'a'.repeat(32);
    assert.equal(send(a), undefined);
    assert.equal(send(a), undefined);
    assert.equal(send(a), 'RATE_LIMITED: too many announces, slow down');
    assert.equal(send('b'.repeat(32)), undefined);
    assert.match(send('nope') ?? '', /^UNAUTHORIZED: malformed passkey/);
  });

  it('validates its options', () => {
    assert.throws(() => buildHook('peer_limits', { max_peers_per_torrent: -1 }, hookDeps(), 'prehooks.4'), (e: ConfigError) => e.key === 'prehooks.4.options.max_peers_per_torrent');
    assert.throws(() => buildHook('peer_limits', { rate_limit: { per: 'soon' } }, hookDeps(), 'prehooks.4'), (e: ConfigError) => e.key === 'prehooks.4.options.rate_limit.per');
  });
});
