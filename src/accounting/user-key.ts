/**
 * User keys: the 16 bytes that name a user in everything privtrak keeps (baselines, journal
 * records, checkpoints, sink rows). Never the passkey itself: a passkey is a secret and it
 * changes (a site resets a leaked one), while totals must stay with the user.
 *
 *   site user (a registry knows the user's site ID):  0x01 | site user ID, u64 big-endian | 7 zero bytes
 *   open mode (no registry, or no site ID):           0x02 | first 15 bytes of HMAC-SHA256(secret, lower-case passkey)
 *
 * A site key is the same whatever the user's passkey, so a passkey change keeps one set of totals
 * and the peers' baselines. A hashed key cannot be turned back into the passkey without the
 * installation's secret (src/user-key-secret.ts), and two installations never share keys.
 * Sixteen bytes either way, so the sinks' user_id columns keep their width.
 */
import { createHmac } from 'node:crypto';

export const USER_KEY_BYTES = 16;
const SITE_TAG = 0x01;
const HASH_TAG = 0x02;
const U64_MAX = (1n << 64n) - 1n;

/** The key of a site user ID (0 … 2^64 - 1). */
export function siteUserKey(id: bigint | number): Buffer {
  const n = BigInt(id);
  if (n < 0n || n > U64_MAX) throw new RangeError(`site user ID out of range: ${n}`);
  const key = Buffer.alloc(USER_KEY_BYTES);
  key[0] = SITE_TAG;
  key.writeBigUInt64BE(n, 1);
  return key;
}

/** The open-mode key of a passkey (any case) under an installation's secret. */
export function hashedPasskeyKey(secret: Buffer, passkey: string): Buffer {
  const key = Buffer.alloc(USER_KEY_BYTES);
  key[0] = HASH_TAG;
  createHmac('sha256', secret).update(passkey.toLowerCase(), 'latin1').digest().copy(key, 1, 0, USER_KEY_BYTES - 1);
  return key;
}

/** The site user ID a key names, or undefined if it is not a site key. */
export function siteUserIdOf(key: Uint8Array): bigint | undefined {
  if (key.length !== USER_KEY_BYTES || key[0] !== SITE_TAG) return undefined;
  for (let i = 9; i < USER_KEY_BYTES; i++) if (key[i] !== 0) return undefined;
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).readBigUInt64BE(1);
}

/** Whether a key is an open-mode (hashed passkey) key. */
export function isHashedKey(key: Uint8Array): boolean {
  return key.length === USER_KEY_BYTES && key[0] === HASH_TAG;
}

/** Keys retained for reuse; cleared when full (a site has far fewer active users than this). */
const CACHE_LIMIT = 1 << 17;

/**
 * Computes keys on the announce path: the same users announce over and over, so each key is
 * made once and then looked up. Returned Buffers are shared: callers must not modify them.
 */
export class UserKeys {
  private readonly bySite = new Map<number, Buffer>();
  private readonly byPasskey = new Map<string, Buffer>();

  private secret: Buffer | undefined;

  /**
   * `secret`: the installation's user-key secret, or how to load it when a passkey is first keyed
   * (a registry whose users all have site IDs never needs it); without it only site keys can be made.
   */
  constructor(private readonly loadSecret?: Buffer | (() => Buffer)) {
    if (Buffer.isBuffer(loadSecret)) this.secret = loadSecret;
  }

  /** The secret, loaded now if it is not yet. */
  requireSecret(): Buffer {
    if (this.secret !== undefined) return this.secret;
    if (typeof this.loadSecret !== 'function') throw new Error('user keys: no user-key secret, so a passkey cannot be keyed');
    this.secret = this.loadSecret();
    return this.secret;
  }

  forSiteUser(id: number | bigint): Buffer {
    if (typeof id === 'bigint') return siteUserKey(id);
    let key = this.bySite.get(id);
    if (key === undefined) {
      key = siteUserKey(id);
      if (this.bySite.size >= CACHE_LIMIT) this.bySite.clear();
      this.bySite.set(id, key);
    }
    return key;
  }

  /** The open-mode key of a passkey (32 hex characters, any case). Throws without a secret. */
  forPasskey(passkey: string): Buffer {
    let key = this.byPasskey.get(passkey);
    if (key === undefined) {
      key = hashedPasskeyKey(this.requireSecret(), passkey);
      if (this.byPasskey.size >= CACHE_LIMIT) this.byPasskey.clear();
      this.byPasskey.set(passkey, key);
    }
    return key;
  }

  /** The site key when the site user ID is known, else the hashed passkey. */
  forUser(passkey: string, siteUserId?: number | bigint | null): Buffer {
    return siteUserId === undefined || siteUserId === null ? this.forPasskey(passkey) : this.forSiteUser(siteUserId);
  }
}
