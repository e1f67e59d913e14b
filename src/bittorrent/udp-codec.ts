/**
 * BEP 15 (UDP tracker protocol) and BEP 41 (URL data option) codec. Pure: no sockets, no
 * clock. Decoding never throws anything but UdpDecodeError, which says whether a reply can
 * still be sent (the transaction ID was readable) — malformed packets are answered with an
 * error packet when possible and dropped otherwise.
 *
 * Packet layouts (big-endian):
 *   connect req   0 u64 protocol_id (0x41727101980) | 8 u32 action=0 | 12 u32 transaction_id            (16 bytes)
 *   announce req  0 u64 connection_id | 8 u32 action=1 | 12 u32 transaction_id | 16 info_hash[20] | 36 peer_id[20]
 *                 | 56 u64 downloaded | 64 u64 left | 72 u64 uploaded | 80 u32 event | 84 u32 ip | 88 u32 key
 *                 | 92 i32 num_want | 96 u16 port                                                           (98 bytes + BEP 41 options)
 *   scrape req    0 u64 connection_id | 8 u32 action=2 | 12 u32 transaction_id | 16 info_hash[20] × n
 */
import type { AnnounceEvent, ScrapeCounts } from './types.js';
import type { PeerList } from './peer-list.js';
import { eventFromUdp } from './sanitize.js';
import { ClientError } from './errors.js';

export const PROTOCOL_ID = 0x41727101980n;
export const ACTION_CONNECT = 0;
export const ACTION_ANNOUNCE = 1;
export const ACTION_SCRAPE = 2;
export const ACTION_ERROR = 3;

export const CONNECT_SIZE = 16;
export const ANNOUNCE_MIN_SIZE = 98;
export const SCRAPE_MIN_SIZE = 36;

export class UdpDecodeError extends ClientError {
  /** The request's transaction ID, if it could be read: then an error packet can be sent. */
  readonly transactionId: number | undefined;
  constructor(code: ClientError['code'], message: string, transactionId: number | undefined) {
    super(code, message);
    this.name = 'UdpDecodeError';
    this.transactionId = transactionId;
  }
}

export interface UdpConnectRequest {
  readonly action: 0;
  readonly transactionId: number;
}

export interface UdpAnnounceRequest {
  readonly action: 1;
  readonly connectionId: Buffer;
  readonly transactionId: number;
  readonly infoHash: Buffer;
  readonly peerId: Buffer;
  readonly downloaded: number;
  readonly left: number;
  readonly uploaded: number;
  readonly event: AnnounceEvent;
  /** 0 = use the source address. */
  readonly ip: number;
  readonly key: number;
  /** -1 (or any negative) = default. */
  readonly numWant: number;
  readonly port: number;
  /** Concatenated BEP 41 URL data (path and query), '' when absent. */
  readonly urlData: string;
}

export interface UdpScrapeRequest {
  readonly action: 2;
  readonly connectionId: Buffer;
  readonly transactionId: number;
  readonly infoHashes: Buffer[];
}

export type UdpRequest = UdpConnectRequest | UdpAnnounceRequest | UdpScrapeRequest;

/** The high word of 2^53 - 1 (Number.MAX_SAFE_INTEGER): a counter whose high word is above it is out of range. */
const MAX_SAFE_HIGH = 0x1f_ffff;

/**
 * A signed 64-bit counter that must be 0 … 2^53 - 1, from its two 32-bit halves. Not through
 * readBigInt64BE: that makes a BigInt on the heap per counter, three per announce, and was the
 * largest JavaScript frame of a UDP announce through the private chain (perf, 5% of all samples).
 * A negative value has its top bit set, so its high word is above MAX_SAFE_HIGH too.
 */
function readCounter(buf: Buffer, offset: number, name: string, tid: number): number {
  const high = buf.readUInt32BE(offset);
  if (high > MAX_SAFE_HIGH) throw new UdpDecodeError('INVALID_NUMBER', `invalid ${name}: out of range`, tid);
  return high * 0x1_0000_0000 + buf.readUInt32BE(offset + 4);
}

/** Parses BEP 41 options after byte 98: 0 = end, 1 = NOP, 2 = URL data (length byte + bytes). */
export function decodeUrlData(buf: Buffer, start: number, tid: number): string {
  let url = '';
  let pos = start;
  while (pos < buf.length) {
    const type = buf[pos]!;
    if (type === 0x0) break;
    if (type === 0x1) {
      pos++;
      continue;
    }
    if (pos + 1 >= buf.length) throw new UdpDecodeError('MALFORMED_PACKET', 'malformed packet: truncated option', tid);
    const len = buf[pos + 1]!;
    const end = pos + 2 + len;
    if (end > buf.length) throw new UdpDecodeError('MALFORMED_PACKET', 'malformed packet: truncated option', tid);
    // Options other than URL data are skipped by their length, as BEP 41 asks.
    if (type === 0x2) url += buf.toString('latin1', pos + 2, end);
    pos = end;
  }
  return url;
}

export function decodeRequest(buf: Buffer): UdpRequest {
  if (buf.length < 16) throw new UdpDecodeError('MALFORMED_PACKET', 'malformed packet: too short', undefined);
  const action = buf.readUInt32BE(8);
  const tid = buf.readUInt32BE(12);
  switch (action) {
    case ACTION_CONNECT:
      if (buf.readBigUInt64BE(0) !== PROTOCOL_ID) throw new UdpDecodeError('MALFORMED_PACKET', 'malformed packet: bad protocol id', tid);
      return { action: 0, transactionId: tid };
    case ACTION_ANNOUNCE: {
      if (buf.length < ANNOUNCE_MIN_SIZE) throw new UdpDecodeError('MALFORMED_PACKET', 'malformed packet: announce too short', tid);
      let event: AnnounceEvent;
      try {
        event = eventFromUdp(buf.readUInt32BE(80));
      } catch {
        throw new UdpDecodeError('INVALID_EVENT', 'invalid event', tid);
      }
      return {
        action: 1,
        connectionId: buf.subarray(0, 8),
        transactionId: tid,
        // Views, not copies: every datagram arrives in a Buffer of its own.
        infoHash: buf.subarray(16, 36),
        peerId: buf.subarray(36, 56),
        downloaded: readCounter(buf, 56, 'downloaded', tid),
        left: readCounter(buf, 64, 'left', tid),
        uploaded: readCounter(buf, 72, 'uploaded', tid),
        event,
        ip: buf.readUInt32BE(84),
        key: buf.readUInt32BE(88),
        numWant: buf.readInt32BE(92),
        port: buf.readUInt16BE(96),
        urlData: buf.length > ANNOUNCE_MIN_SIZE ? decodeUrlData(buf, ANNOUNCE_MIN_SIZE, tid) : '',
      };
    }
    case ACTION_SCRAPE: {
      if (buf.length < SCRAPE_MIN_SIZE || (buf.length - 16) % 20 !== 0) {
        throw new UdpDecodeError('MALFORMED_PACKET', 'malformed packet: scrape size', tid);
      }
      const infoHashes: Buffer[] = [];
      for (let off = 16; off < buf.length; off += 20) infoHashes.push(Buffer.from(buf.subarray(off, off + 20)));
      return { action: 2, connectionId: buf.subarray(0, 8), transactionId: tid, infoHashes };
    }
    default:
      throw new UdpDecodeError('UNKNOWN_ACTION', 'unknown action', tid);
  }
}

export function encodeConnectResponse(transactionId: number, connectionId: Buffer): Buffer {
  const out = Buffer.allocUnsafe(16);
  out.writeUInt32BE(ACTION_CONNECT, 0);
  out.writeUInt32BE(transactionId, 4);
  connectionId.copy(out, 8);
  return out;
}

/** Announce response; `peers` are already packed (6 bytes IPv4 or 18 bytes IPv6 each). */
export function encodeAnnounceResponse(
  transactionId: number, interval: number, leechers: number, seeders: number, peers: PeerList,
): Buffer {
  const out = Buffer.allocUnsafe(20 + peers.compactLength);
  out.writeUInt32BE(ACTION_ANNOUNCE, 0);
  out.writeUInt32BE(transactionId, 4);
  out.writeUInt32BE(interval, 8);
  out.writeUInt32BE(Math.min(leechers, 0xffffffff), 12);
  out.writeUInt32BE(Math.min(seeders, 0xffffffff), 16);
  peers.writeCompact(out, 20);
  return out;
}

export function encodeScrapeResponse(transactionId: number, files: ReadonlyArray<{ counts: ScrapeCounts }>): Buffer {
  const out = Buffer.allocUnsafe(8 + 12 * files.length);
  out.writeUInt32BE(ACTION_SCRAPE, 0);
  out.writeUInt32BE(transactionId, 4);
  let pos = 8;
  for (const f of files) {
    out.writeUInt32BE(Math.min(f.counts.complete, 0xffffffff), pos);
    out.writeUInt32BE(Math.min(f.counts.downloaded, 0xffffffff), pos + 4);
    out.writeUInt32BE(Math.min(f.counts.incomplete, 0xffffffff), pos + 8);
    pos += 12;
  }
  return out;
}

export function encodeErrorResponse(transactionId: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  const out = Buffer.allocUnsafe(8 + text.length);
  out.writeUInt32BE(ACTION_ERROR, 0);
  out.writeUInt32BE(transactionId, 4);
  text.copy(out, 8);
  return out;
}

/** Encoders for requests: used by tests and the load generator. */
export function encodeConnectRequest(transactionId: number): Buffer {
  const out = Buffer.alloc(16);
  out.writeBigUInt64BE(PROTOCOL_ID, 0);
  out.writeUInt32BE(ACTION_CONNECT, 8);
  out.writeUInt32BE(transactionId, 12);
  return out;
}

const EVENT_CODES: Record<AnnounceEvent, number> = { none: 0, completed: 1, started: 2, stopped: 3 };

export function encodeAnnounceRequest(r: Omit<UdpAnnounceRequest, 'action'>): Buffer {
  const url = Buffer.from(r.urlData, 'latin1');
  const options: Buffer[] = [];
  for (let i = 0; i < url.length; i += 255) {
    const chunk = url.subarray(i, i + 255);
    options.push(Buffer.from([0x2, chunk.length]), chunk);
  }
  const out = Buffer.alloc(98);
  r.connectionId.copy(out, 0);
  out.writeUInt32BE(ACTION_ANNOUNCE, 8);
  out.writeUInt32BE(r.transactionId, 12);
  r.infoHash.copy(out, 16);
  r.peerId.copy(out, 36);
  out.writeBigInt64BE(BigInt(r.downloaded), 56);
  out.writeBigInt64BE(BigInt(r.left), 64);
  out.writeBigInt64BE(BigInt(r.uploaded), 72);
  out.writeUInt32BE(EVENT_CODES[r.event], 80);
  out.writeUInt32BE(r.ip, 84);
  out.writeUInt32BE(r.key, 88);
  out.writeInt32BE(r.numWant, 92);
  out.writeUInt16BE(r.port, 96);
  return Buffer.concat([out, ...options]);
}

export function encodeScrapeRequest(connectionId: Buffer, transactionId: number, infoHashes: Buffer[]): Buffer {
  const out = Buffer.alloc(16 + 20 * infoHashes.length);
  connectionId.copy(out, 0);
  out.writeUInt32BE(ACTION_SCRAPE, 8);
  out.writeUInt32BE(transactionId, 12);
  infoHashes.forEach((ih, i) => ih.copy(out, 16 + 20 * i));
  return out;
}
