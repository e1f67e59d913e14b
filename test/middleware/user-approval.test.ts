import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createContext } from '../../src/middleware/context.js';
import { buildHook } from '../../src/middleware/hook-factories.js';
import { ClientError } from '../../src/bittorrent/errors.js';
import { ConfigError } from '../../src/config/errors.js';
import { announceReq, emptyResponse, fixedRegistry, hookDeps, user } from '../support/access.js';
import { siteUserKey } from '../../src/accounting/user-key.js';

const OK = '0123456789abcdef0123456789abcdef';
const OFF = 'ffffffffffffffffffffffffffffffff';
const SEED = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee';

async function setup(options: Record<string, unknown> = {}) {
  const { registry } = await fixedRegistry([user(OK, { siteId: 42 }), user(OFF, { enabled: false }), user(SEED, { canLeech: false })]);
  return buildHook('user_approval', options, hookDeps(registry), 'prehooks.0');
}

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ClientError, String(err));
    return { code: err.code, message: err.message };
  }
  assert.fail('expected a refusal');
}

describe('user_approval hook', () => {
  it('accepts an enabled user and sets the site user ID and its user key (never the passkey)', async () => {
    const hook = await setup();
    const ctx = createContext({ passkey: OK }, {});
    hook.handleAnnounce(ctx, announceReq(), emptyResponse());
    assert.deepEqual(ctx.userId, siteUserKey(42));
    assert.equal(ctx.siteUserId, 42);
    // Without a site ID the privtrak hook keys the user (a hashed passkey): nothing is set here.
    const noSite = createContext({ passkey: SEED }, {});
    hook.handleAnnounce(noSite, announceReq({ left: 0 }), emptyResponse());
    assert.equal(noSite.userId, undefined);
    assert.equal(noSite.siteUserId, undefined);
  });

  it('keeps a user ID an earlier hook set', async () => {
    const hook = await setup();
    const ctx = createContext({ passkey: OK }, {});
    const earlier = Buffer.alloc(16, 7);
    ctx.userId = earlier;
    hook.handleAnnounce(ctx, announceReq(), emptyResponse());
    assert.equal(ctx.userId, earlier);
  });

  it('answers unknown and malformed passkeys alike, so nothing leaks about other passkeys', async () => {
    const hook = await setup();
    const unknown = refusal(() => hook.handleAnnounce(createContext({ passkey: '1'.repeat(32) }, {}), announceReq(), emptyResponse()));
    const malformed = refusal(() => hook.handleAnnounce(createContext({ passkey: 'xyz' }, {}), announceReq(), emptyResponse()));
    const almost = refusal(() => hook.handleAnnounce(createContext({ passkey: `${OK}0` }, {}), announceReq(), emptyResponse()));
    assert.deepEqual(unknown, { code: 'UNAUTHORIZED', message: 'unknown passkey' });
    assert.deepEqual(malformed, unknown);
    assert.deepEqual(almost, unknown);
    assert.deepEqual(refusal(() => hook.handleAnnounce(createContext({}, {}), announceReq(), emptyResponse())), { code: 'UNAUTHORIZED', message: 'missing passkey' });
  });

  it('refuses a disabled user, announces and scrapes', async () => {
    const hook = await setup();
    const expected = { code: 'USER_DISABLED', message: 'account disabled' };
    assert.deepEqual(refusal(() => hook.handleAnnounce(createContext({ passkey: OFF }, {}), announceReq({ left: 0 }), emptyResponse())), expected);
    assert.deepEqual(refusal(() => hook.handleScrape(createContext({ passkey: OFF }, {}), { infoHashes: [], family: 4, transport: 'http' }, { files: [] })), expected);
  });

  it('lets a user without download privileges seed and stop, not leech', async () => {
    const hook = await setup();
    const ctx = () => createContext({ passkey: SEED }, {});
    assert.deepEqual(refusal(() => hook.handleAnnounce(ctx(), announceReq({ left: 1 }), emptyResponse())),
      { code: 'LEECHING_FORBIDDEN', message: 'download privileges revoked: seeding only' });
    hook.handleAnnounce(ctx(), announceReq({ left: 0, event: 'completed' }), emptyResponse());
    hook.handleAnnounce(ctx(), announceReq({ left: 5, event: 'stopped' }), emptyResponse());
  });

  it('reads the passkey where the identifier options say (query only here)', async () => {
    const hook = await setup({ identifier: { from: 'query', name: 'pk' } });
    hook.handleAnnounce(createContext({}, { pk: OK }), announceReq(), emptyResponse());
    assert.deepEqual(refusal(() => hook.handleAnnounce(createContext({ pk: OK }, {}), announceReq(), emptyResponse())), { code: 'UNAUTHORIZED', message: 'missing pk' });
  });

  it('needs a registry, and refuses unknown options, naming the key', async () => {
    assert.throws(() => buildHook('user_approval', {}, hookDeps(undefined), 'prehooks.2'),
      (e: ConfigError) => e.key === 'prehooks.2.name' && /needs a top-level "registry:"/.test(e.message));
    const { registry } = await fixedRegistry([]);
    assert.throws(() => buildHook('user_approval', { identifer: {} }, hookDeps(registry), 'prehooks.0'),
      (e: ConfigError) => e.key === 'prehooks.0.options.identifer');
  });
});
