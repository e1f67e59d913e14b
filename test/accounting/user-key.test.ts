import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserKeys, hashedPasskeyKey, isHashedKey, siteUserIdOf, siteUserKey } from '../../src/accounting/user-key.js';
import { fingerprint } from '../../src/accounting/fingerprint.js';
import { loadUserKeySecret } from '../../src/user-key-secret.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';
const SECRET = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

describe('user keys', () => {
  it('site keys: 0x01, the site user ID as u64 big-endian, 7 zero bytes; decoded back', () => {
    assert.equal(siteUserKey(42).toString('hex'), '01000000000000002a00000000000000');
    assert.equal(siteUserKey(0).toString('hex'), '01000000000000000000000000000000');
    assert.equal(siteUserKey((1n << 64n) - 1n).toString('hex'), '01ffffffffffffffff00000000000000');
    assert.throws(() => siteUserKey(1n << 64n), RangeError);
    assert.throws(() => siteUserKey(-1), RangeError);
    assert.equal(siteUserIdOf(siteUserKey(42)), 42n);
    assert.equal(siteUserIdOf(siteUserKey(9007199254740993n)), 9007199254740993n);
    assert.equal(siteUserIdOf(hashedPasskeyKey(SECRET, PASSKEY)), undefined);
    assert.equal(siteUserIdOf(Buffer.from('01000000000000002a00000000000001', 'hex')), undefined, 'not a site key: the tail is not zero');
  });

  it('open-mode keys: 0x02 and the first 15 bytes of HMAC-SHA256(secret, lower-case passkey)', () => {
    // Vector computed with Python's hmac module.
    assert.equal(hashedPasskeyKey(SECRET, PASSKEY).toString('hex'), '0266fc66f2575a06af5f464345a49885');
    assert.deepEqual(hashedPasskeyKey(SECRET, PASSKEY.toUpperCase()), hashedPasskeyKey(SECRET, PASSKEY), 'case does not matter');
    assert.ok(isHashedKey(hashedPasskeyKey(SECRET, PASSKEY)));
    assert.ok(!isHashedKey(siteUserKey(1)));
    assert.notDeepEqual(hashedPasskeyKey(Buffer.alloc(32, 1), PASSKEY), hashedPasskeyKey(SECRET, PASSKEY), 'another installation, other keys');
    assert.equal(fingerprint(PASSKEY), 'sha256:3eb1bd43');
    assert.equal(fingerprint(PASSKEY.toUpperCase()), 'sha256:3eb1bd43');
  });

  it('distinct users get distinct keys, and a passkey never appears in its key', () => {
    const keys = new UserKeys(SECRET);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const passkey = i.toString(16).padStart(32, '0');
      const k = keys.forPasskey(passkey);
      seen.add(k.toString('hex'));
      seen.add(keys.forSiteUser(i).toString('hex'));
    }
    assert.equal(seen.size, 4000);
    assert.equal(keys.forSiteUser(7), keys.forSiteUser(7), 'cached: the same Buffer');
    assert.deepEqual(keys.forUser(PASSKEY, 7), siteUserKey(7));
    assert.deepEqual(keys.forUser(PASSKEY, null), hashedPasskeyKey(SECRET, PASSKEY));
    assert.throws(() => new UserKeys().forPasskey(PASSKEY), /no user-key secret/);
    let loads = 0;
    const lazy = new UserKeys(() => {
      loads++;
      return SECRET;
    });
    assert.deepEqual(lazy.forSiteUser(1), siteUserKey(1));
    assert.equal(loads, 0, 'site keys need no secret');
    assert.deepEqual(lazy.forPasskey(PASSKEY), hashedPasskeyKey(SECRET, PASSKEY));
    lazy.forPasskey('f'.repeat(32));
    assert.equal(loads, 1, 'loaded once, when first needed');
  });

  it('the secret file: created once (32 bytes, mode 0600), then reused; never created by a reader', () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-secret-'));
    try {
      const path = join(dir, 'sub', 'user-key.secret');
      assert.throws(() => loadUserKeySecret(path, { create: false }), (e: Error & { code?: string }) => e.code === 'USER_KEY_SECRET' && /does not exist/.test(e.message));
      const first = loadUserKeySecret(path, { create: true });
      assert.equal(first.length, 32);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(readFileSync(path), first);
      assert.deepEqual(loadUserKeySecret(path, { create: true }), first, 'reused, not replaced');
      assert.deepEqual(loadUserKeySecret(path, { create: false }), first);
      writeFileSync(path, 'short');
      assert.throws(() => loadUserKeySecret(path, { create: true }), /expected 32 bytes, found 5/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
