/** Address helpers: normalising socket addresses and packing peers (BEP 23 / BEP 7). */
import { isIPv4, isIPv6 } from 'node:net';
import type { AddressFamily, Peer } from './types.js';
import { ClientError } from './errors.js';

/** Unmaps "::ffff:1.2.3.4" to "1.2.3.4" so a dual-stack socket puts IPv4 peers in the IPv4 swarm. */
export function normalizeIp(ip: string): string {
  if (ip.length > 7 && ip.charCodeAt(0) === 0x3a && ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) {
    return ip.slice(7);
  }
  return ip;
}

export function familyOf(ip: string): AddressFamily | 0 {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 6;
  return 0;
}

/** Builds a Peer, packing its address once. Throws INVALID_IP for a non-address. */
export function makePeer(id: Buffer, rawIp: string, port: number): Peer {
  const ip = normalizeIp(rawIp);
  const family = familyOf(ip);
  if (family === 0) throw new ClientError('INVALID_IP', `invalid ip address`);
  const compact = family === 4 ? packIPv4(ip, port) : packIPv6(ip, port);
  return { id, ip, port, family, compact, ipv4: family === 4 ? compact.readUInt32BE(0) : 0 };
}

export function packIPv4(ip: string, port: number): Buffer {
  const out = Buffer.allocUnsafe(6);
  let part = 0;
  let idx = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 0x2e) {
      out[idx++] = part;
      part = 0;
    } else {
      part = part * 10 + (c - 0x30);
    }
  }
  out[idx] = part;
  out.writeUInt16BE(port, 4);
  return out;
}

export function packIPv6(ip: string, port: number): Buffer {
  const out = Buffer.alloc(18);
  let text = ip;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // An embedded IPv4 tail ("::ffff:1.2.3.4" or "64:ff9b::1.2.3.4") is turned into two hex groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = packIPv4(tail, 0);
    text = `${text.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const halves = text.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  for (let i = 0; i < head.length; i++) out.writeUInt16BE(parseInt(head[i]!, 16), i * 2);
  for (let i = 0; i < rest.length; i++) out.writeUInt16BE(parseInt(rest[i]!, 16), 16 - (rest.length - i) * 2);
  out.writeUInt16BE(port, 16);
  return out;
}

/** Reverses packIPv4/packIPv6: used by the UDP codec and tests. */
export function unpackPeer(buf: Buffer, offset: number, family: AddressFamily): { ip: string; port: number } {
  if (family === 4) {
    return { ip: `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`, port: buf.readUInt16BE(offset + 4) };
  }
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(offset + i * 2).toString(16));
  return { ip: groups.join(':'), port: buf.readUInt16BE(offset + 16) };
}

/**
 * Writes packed peers into `out` at `pos`; returns the new position. IPv4 peers are written
 * from their numeric address with plain stores: per-peer Buffer#copy (or a byte loop over
 * 6-byte Buffers) was the top item of the announce profile (BENCHMARKS.md).
 */
export function writePeers(peers: readonly Peer[], out: Uint8Array, pos: number): number {
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i]!;
    if (p.family === 4) {
      const a = p.ipv4;
      const port = p.port;
      out[pos] = a >>> 24;
      out[pos + 1] = (a >>> 16) & 0xff;
      out[pos + 2] = (a >>> 8) & 0xff;
      out[pos + 3] = a & 0xff;
      out[pos + 4] = port >>> 8;
      out[pos + 5] = port & 0xff;
      pos += 6;
    } else {
      const c = p.compact;
      for (let j = 0; j < 18; j++) out[pos + j] = c[j]!;
      pos += 18;
    }
  }
  return pos;
}
