/**
 * Stateless BEP 15 connection IDs: 4 bytes of issue time (unix seconds) followed by the first
 * 4 bytes of HMAC-SHA256(key, time ‖ client address). Nothing is stored per
 * client; an ID is valid for `lifetimeMs` after issue (and up to `maxSkewMs` into the future,
 * for trackers behind one key on several machines), and only from the address it was issued to (not bound to the port: NATs may change it).
 */
import { createHmac, randomBytes } from 'node:crypto';

export class ConnectionIds {
  private readonly key: Buffer;
  private readonly scratch = Buffer.allocUnsafe(4);
  /**
   * Last MAC verified per address: a client announces many times with one connection ID, so
   * most checks become a Map lookup instead of an HMAC. Bounded: cleared when it grows large.
   */
  private readonly verified = new Map<string, { seconds: number; mac: number }>();

  constructor(key: string, private readonly lifetimeMs: number, private readonly maxSkewMs: number) {
    this.key = key === '' ? randomBytes(32) : Buffer.from(key, 'utf8');
  }

  private mac(seconds: number, ip: string): Buffer {
    this.scratch.writeUInt32BE(seconds >>> 0, 0);
    return createHmac('sha256', this.key).update(this.scratch).update(ip).digest();
  }

  issue(ip: string, nowMs: number): Buffer {
    const seconds = Math.floor(nowMs / 1000);
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE(seconds >>> 0, 0);
    this.mac(seconds, ip).copy(out, 4, 0, 4);
    return out;
  }

  valid(id: Buffer, ip: string, nowMs: number): boolean {
    if (id.length !== 8) return false;
    const seconds = id.readUInt32BE(0);
    const issuedMs = seconds * 1000;
    if (issuedMs + this.lifetimeMs < nowMs || issuedMs - this.maxSkewMs > nowMs) return false;
    const given = id.readUInt32BE(4);
    const cached = this.verified.get(ip);
    if (cached !== undefined && cached.seconds === seconds && cached.mac === given) return true;
    if (this.mac(seconds, ip).readUInt32BE(0) !== given) return false;
    if (this.verified.size >= 100_000) this.verified.clear();
    this.verified.set(ip, { seconds, mac: given });
    return true;
  }
}
