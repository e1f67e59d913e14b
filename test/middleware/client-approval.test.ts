import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createContext } from '../../src/middleware/context.js';
import { buildHook } from '../../src/middleware/hook-factories.js';
import { ClientError } from '../../src/bittorrent/errors.js';
import { ConfigError } from '../../src/config/errors.js';
import { announceReq, emptyResponse, hookDeps } from '../support/access.js';

function check(options: Record<string, unknown>, peerIdText: string, userAgent?: string, transport: 'http' | 'udp' = 'http'): string | undefined {
  const hook = buildHook('client_approval', options, hookDeps(), 'prehooks.0');
  try {
    hook.handleAnnounce(createContext({}, {}, userAgent), announceReq({ peerIdText, transport }), emptyResponse());
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ClientError);
    return `${err.code}: ${err.message}`;
  }
}

const QB = '-qB4520-abcdefabcdef';
const TR2 = '-TR2940-abcdefabcdef';
const TR3 = '-TR3000-abcdefabcdef';

describe('client_approval hook', () => {
  it('allows everything with no rules', () => {
    assert.equal(check({}, TR2), undefined);
  });

  it('deny-list: a matching peer_id prefix is refused, naming the rule', () => {
    const opts = { deny: ['-TR2', '-UT'] };
    assert.equal(check(opts, TR2), 'CLIENT_BANNED: client banned (-TR2)');
    assert.equal(check(opts, TR3), undefined);
    assert.equal(check(opts, '-UT3550-abcdefabcdef'), 'CLIENT_BANNED: client banned (-UT)');
  });

  it('allow-list: only listed prefixes pass; deny wins over allow', () => {
    const opts = { allow: ['-qB4', '-TR3'], deny: ['-TR30'] };
    assert.equal(check(opts, QB), undefined);
    assert.equal(check(opts, TR2), 'CLIENT_NOT_ALLOWED: client not allowed');
    assert.equal(check(opts, TR3), 'CLIENT_BANNED: client banned (-TR30)');
    assert.equal(check(opts, 'A2-1-36-0-abcdefabcd'), 'CLIENT_NOT_ALLOWED: client not allowed');
  });

  it('user-agent rules apply over HTTP only (UDP has no User-Agent)', () => {
    const deny = { user_agent: { deny: ['BitComet/'] } };
    assert.equal(check(deny, QB, 'BitComet/2.01'), 'CLIENT_BANNED: user agent banned (BitComet/)');
    assert.equal(check(deny, QB, 'qBittorrent/4.5.2'), undefined);
    assert.equal(check(deny, QB, undefined), undefined);
    const allow = { user_agent: { allow: ['qBittorrent/', 'Transmission/'] } };
    assert.equal(check(allow, QB, 'qBittorrent/4.5.2'), undefined);
    assert.equal(check(allow, QB, 'aria2/1.36.0'), 'CLIENT_NOT_ALLOWED: user agent not allowed');
    assert.equal(check(allow, QB, undefined), 'CLIENT_NOT_ALLOWED: user agent not allowed', 'HTTP without a User-Agent fails an allow list');
    assert.equal(check(allow, QB, undefined, 'udp'), undefined, 'UDP is not held to user-agent rules');
  });

  it('refuses an empty prefix and unknown keys', () => {
    assert.throws(() => check({ deny: [''] }, QB), (e: ConfigError) => e.key === 'prehooks.0.options.deny.0');
    assert.throws(() => check({ user_agent: { block: [] } }, QB), (e: ConfigError) => e.key === 'prehooks.0.options.user_agent.block');
  });
});
