/**
 * The drain lease: at most one stream drainer writes to the sink at a time, across every
 * tracker instance sharing the Redis keyspace. Acquired with SET NX PX and a fencing token
 * (INCR of `P{drain}:fence`) in one script, so a token always belongs to exactly one holding.
 * Renewed by compare-and-pexpire, released by compare-and-delete: a holder never extends or
 * drops a lease that has passed to someone else.
 *
 * A lease can be lost without this process noticing (paused past the ttl, cut off from Redis):
 * `held` is a local deadline, counted from before the last successful acquire/renew was sent and
 * shortened by a margin for clock rates; past it the holder must not write. Where that is not
 * enough (a pause between the check and the sink's commit), the sink's fence check refuses the
 * old token once the next holder has written (DeltaBatch.fence).
 */
import type { RedisClient } from './redis-client.js';

/** KEYS lease, fence; ARGV holder, ttlMs. The new token, or nil if the lease is taken. */
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
  return token
end
return false`;

/** KEYS lease; ARGV value, ttlMs. 1 if the lease was still this holding's (now extended), else 0. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** KEYS lease; ARGV value. Deletes the lease only if it is still this holding's. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export class DrainLease {
  /** The fencing token of the current holding; 0 when not held. */
  token = 0;
  private validUntilMs = 0;
  private renewedAtMs = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: { readonly lease: string; readonly fence: string },
    readonly holderId: string,
    readonly ttlMs: number,
  ) {}

  /** Held, as far as this process can tell: acquired and not past the local deadline. */
  get held(): boolean {
    return this.token > 0 && Date.now() < this.validUntilMs;
  }

  /** Whether a third of the ttl has passed since the last acquire or renew. */
  get dueForRenewal(): boolean {
    return Date.now() - this.renewedAtMs >= this.ttlMs / 3;
  }

  private get value(): string {
    return `${this.holderId}:${this.token}`;
  }

  /** A tenth of the ttl is kept back: this process's clock may run slower than Redis's. */
  private validFrom(sentMs: number): void {
    this.renewedAtMs = sentMs;
    this.validUntilMs = sentMs + this.ttlMs - Math.ceil(this.ttlMs / 10);
  }

  /** Takes the lease if it is free. True: held, with a new token. */
  async acquire(): Promise<boolean> {
    const sent = Date.now();
    const token = await this.redis.eval(ACQUIRE, 2, this.keys.lease, this.keys.fence, this.holderId, this.ttlMs) as number | null;
    if (token === null) {
      this.token = 0;
      return false;
    }
    this.token = Number(token);
    this.validFrom(sent);
    return true;
  }

  /** Extends the holding. False: it was lost (expired, taken by another holder); `token` is then 0. */
  async renew(): Promise<boolean> {
    if (this.token === 0) return false;
    const sent = Date.now();
    const ok = await this.redis.eval(RENEW, 1, this.keys.lease, this.value, this.ttlMs) as number;
    if (ok === 1) {
      this.validFrom(sent);
      return true;
    }
    this.drop();
    return false;
  }

  /** Forgets the holding locally (lost, or fenced out by the sink). */
  drop(): void {
    this.token = 0;
    this.validUntilMs = 0;
  }

  /** Gives the lease up, so another instance takes over without waiting for the ttl. */
  async release(): Promise<void> {
    if (this.token === 0) return;
    const value = this.value;
    this.drop();
    await this.redis.eval(RELEASE, 1, this.keys.lease, value);
  }
}
