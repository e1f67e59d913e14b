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
    const mac = this.mac(seconds, ip);
    return mac.readUInt32BE(0) === id.readUInt32BE(4);
  }
}
