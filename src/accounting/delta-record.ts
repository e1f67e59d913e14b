/**
 * The delta record: one StatDelta as fixed 208 bytes, big-endian, written into one reused Buffer.
 * The privtrak hook's journal stores these, its pending queue keeps them, and batches reach the
 * sinks as them (record-batch.ts). Binary because the announce path pays for every record: JSON with hex ids cost about as much
 * as the write syscall itself (BENCHMARKS.md). A torn write (power loss mid-append) leaves a
 * partial last record, recognised by the file length or the trailing magic.
 *
 *   0 u8 magic 0xA3 (version 3) | 1 u8 event (0 none, 1 completed, 2 started, 3 stopped) | 2 u8 flags
 *   3 u8 bits: 1 snatch, 2 has baseline, 4 IPv6, 8 has site torrent id | 4 u16 port | 6 u16 reserved
 *   8 u64 seq | 16 u64 time ms | 24 u64 uploaded | 32 u64 downloaded | 40 u64 left
 *   48 u64 delta up | 56 u64 delta down | 64 u32 seed time | 68 u32 leech time
 *   72 user key[16] (user-key.ts) | 88 info_hash[20] | 108 peer_id[20] | 128 ip[16] (IPv4 in the first 4)
 *   144 baseline: u64 uploaded, u64 downloaded, u64 left, u64 last ms | 176 u64 site torrent id
 *   184 u64 credited up | 192 u64 credited down | 200 u32 reserved | 204 u32 magic
 * u64 fields hold integers up to 2^53 - 1, written as two u32 halves. Trailer magic "prk3".
 * Version 2 (magic 0xA2, trailer "prk2") is the same layout with the passkey's bytes as the user:
 * legacy data (legacy-data.ts), recognised here and rekeyed by `privtrak migrate`, never read as is.
 */
import type { AnnounceEvent } from '../bittorrent/types.js';
import { packIPv6 } from '../bittorrent/ip.js';
import type { StatDelta } from './delta.js';

export const RECORD_SIZE = 208;
const MAGIC = 0xa3;
const TRAILER = 0x7072_6b33; // "prk3"
const LEGACY_MAGIC = 0xa2;
const LEGACY_TRAILER = 0x7072_6b32; // "prk2"
const TRAILER_AT = 204;
const EVENTS: AnnounceEvent[] = ['none', 'completed', 'started', 'stopped'];
const EVENT_CODE: Record<AnnounceEvent, number> = { none: 0, completed: 1, started: 2, stopped: 3 };

/** Field offsets within a record, for readers that fold records without decoding them (sinks/aggregate.ts). */
export const RECORD = {
  bits: 3, port: 4, seq: 8, timeMs: 16, uploaded: 24, downloaded: 32, left: 40, deltaUp: 48, deltaDown: 56, seedTime: 64, leechTime: 68,
  user: 72, infoHash: 88, peerId: 108, ip: 128, siteTorrentId: 176, creditUp: 184, creditDown: 192,
  /** Bits in `bits`: the delta counted a snatch; the peer has a baseline (not stopped); the ip is IPv6; the site torrent id is present. */
  snatchBit: 1, baselineBit: 2, ipv6Bit: 4, siteTorrentIdBit: 8,
} as const;

// Byte stores, not writeUInt32BE: the announce path encodes a record per announce, and the Buffer
// methods' argument checks cost more than the stores (the values are ours and in range). A store
// into a Uint8Array keeps the low 8 bits, so no masks.
function put32(b: Buffer, off: number, n: number): void {
  b[off] = n >>> 24;
  b[off + 1] = n >>> 16;
  b[off + 2] = n >>> 8;
  b[off + 3] = n;
}

function put64(b: Buffer, off: number, n: number): void {
  put32(b, off, Math.floor(n / 0x1_0000_0000));
  put32(b, off + 4, n >>> 0);
}

export function get32(b: Buffer, off: number): number {
  return b[off]! * 0x100_0000 + ((b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!);
}

export function get64(b: Buffer, off: number): number {
  return get32(b, off) * 0x1_0000_0000 + get32(b, off + 4);
}

/** Writes IPv4 text into 4 bytes without allocating; IPv6 goes through packIPv6 (rare). */
function putIp(b: Buffer, off: number, ip: string): boolean {
  if (ip.includes(':')) {
    packIPv6(ip, 0).copy(b, off, 0, 16);
    return true;
  }
  for (let i = 4; i < 16; i++) b[off + i] = 0;
  let part = 0;
  let idx = off;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 0x2e) {
      b[idx++] = part;
      part = 0;
    } else {
      part = part * 10 + (c - 0x30);
    }
  }
  b[idx] = part;
  return false;
}

/** Encodes into `out` at `at` (RECORD_SIZE bytes; the caller's reused buffer: no allocation). */
export function encodeRecordInto(d: StatDelta, out: Buffer, at = 0): Buffer {
  out[at + 0] = MAGIC;
  out[at + 1] = EVENT_CODE[d.event];
  out[at + 2] = d.flags;
  const v6 = putIp(out, at + 128, d.ip);
  out[at + 3] = (d.snatch ? 1 : 0) | (d.baseline !== null ? 2 : 0) | (v6 ? 4 : 0) | (d.siteTorrentId !== null ? 8 : 0);
  out[at + 4] = d.port >>> 8;
  out[at + 5] = d.port;
  out[at + 6] = 0;
  out[at + 7] = 0;
  put64(out, at + 8, d.seq);
  put64(out, at + 16, d.timeMs);
  put64(out, at + 24, d.uploaded);
  put64(out, at + 32, d.downloaded);
  put64(out, at + 40, d.left);
  put64(out, at + 48, d.deltaUp);
  put64(out, at + 56, d.deltaDown);
  put32(out, at + 64, d.seedTime);
  put32(out, at + 68, d.leechTime);
  // TypedArray#set, not Buffer#copy: copy with a source range makes a subarray per call. Ids are exactly 16/20 bytes.
  out.set(d.user, at + 72);
  out.set(d.infoHash, at + 88);
  out.set(d.peerId, at + 108);
  const b = d.baseline;
  put64(out, at + 144, b === null ? 0 : b.uploaded);
  put64(out, at + 152, b === null ? 0 : b.downloaded);
  put64(out, at + 160, b === null ? 0 : b.left);
  put64(out, at + 168, b === null ? 0 : b.lastMs);
  put64(out, at + 176, d.siteTorrentId ?? 0);
  put64(out, at + 184, d.creditUp);
  put64(out, at + 192, d.creditDown);
  put32(out, at + 200, 0);
  put32(out, at + TRAILER_AT, TRAILER);
  return out;
}

export function encodeRecord(d: StatDelta): Buffer {
  return encodeRecordInto(d, Buffer.alloc(RECORD_SIZE));
}

function ipText(b: Buffer, off: number, v6: boolean): string {
  if (!v6) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(off + i * 2).toString(16));
  // RFC 5952 text: the longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/**
 * Trailers last: a reader sees a record only once its trailer is there, so whoever copies records
 * into memory a crash can leave half-written (journal-segment.ts, the mapped segment) clears the
 * trailers, copies the records, and then writes the trailers one by one.
 */
export function clearTrailers(buf: Buffer, at: number, bytes: number): void {
  for (let off = at + TRAILER_AT; off < at + bytes; off += RECORD_SIZE) put32(buf, off, 0);
}

export function writeTrailers(buf: Buffer, at: number, bytes: number): void {
  for (let off = at + TRAILER_AT; off < at + bytes; off += RECORD_SIZE) put32(buf, off, TRAILER);
}

/**
 * Walks the whole records in `buf` in order, calling `onRecord` with each one's offset. Damage is
 * skipped: after bytes that are not a record, the walk resumes at the next whole record, and that
 * counts as one damaged stretch; bytes after the last whole record (a write torn by a crash, or a
 * mapped segment's reserved zeros) are the end, not damage. Returns where the last whole record
 * ends (0 if none) and the damaged stretches.
 */
export function scanRecords(buf: Buffer, onRecord: (off: number) => void = () => undefined): { end: number; damaged: number } {
  let end = 0;
  let damaged = 0;
  let off = 0;
  while (off + RECORD_SIZE <= buf.length) {
    if (isRecordAt(buf, off)) {
      onRecord(off);
      off += RECORD_SIZE;
      end = off;
    } else {
      off = nextRecordAt(buf, off + 1);
      if (off < buf.length) damaged++;
    }
  }
  return { end, damaged };
}

/** Whether a whole, valid-looking record starts at `off`. */
export function isRecordAt(buf: Buffer, off: number): boolean {
  return off + RECORD_SIZE <= buf.length && buf[off] === MAGIC && buf.readUInt32BE(off + TRAILER_AT) === TRAILER && buf[off + 1]! <= 3;
}

/** The offset of the next whole record at or after `from`, or buf.length if there is none. */
export function nextRecordAt(buf: Buffer, from: number): number {
  let at = buf.indexOf(MAGIC, from);
  while (at >= 0 && at + RECORD_SIZE <= buf.length) {
    if (isRecordAt(buf, at)) return at;
    at = buf.indexOf(MAGIC, at + 1);
  }
  return buf.length;
}

/** Decodes the record at `off`; throws if it is not a whole, valid record. */
export function decodeRecord(buf: Buffer, off = 0): StatDelta {
  return decode(buf, off, true);
}

/**
 * decodeRecord without copying the ids: user, infoHash and peerId are views into `buf`, valid only
 * while its bytes are (a batch's records: until `apply` settles). For a sink that folds a batch and
 * keeps nothing of it: three copies per record less.
 */
export function decodeRecordView(buf: Buffer, off = 0): StatDelta {
  return decode(buf, off, false);
}

function decode(buf: Buffer, off: number, copy: boolean): StatDelta {
  if (!isRecordAt(buf, off)) throw new Error('bad journal record');
  const bits = buf[off + 3]!;
  const r = (o: number) => get64(buf, off + o);
  const bytes = (from: number, to: number) => (copy ? Buffer.from(buf.subarray(off + from, off + to)) : buf.subarray(off + from, off + to));
  return {
    seq: r(8),
    user: bytes(72, 88),
    infoHash: bytes(88, 108),
    peerId: bytes(108, 128),
    ip: ipText(buf, off + 128, (bits & 4) !== 0),
    port: buf.readUInt16BE(off + 4),
    event: EVENTS[buf[off + 1]!]!,
    uploaded: r(24),
    downloaded: r(32),
    left: r(40),
    deltaUp: r(48),
    deltaDown: r(56),
    creditUp: r(184),
    creditDown: r(192),
    siteTorrentId: (bits & 8) !== 0 ? r(176) : null,
    seedTime: buf.readUInt32BE(off + 64),
    leechTime: buf.readUInt32BE(off + 68),
    snatch: (bits & 1) !== 0,
    flags: buf[off + 2]!,
    timeMs: r(16),
    baseline: (bits & 2) !== 0 ? { uploaded: r(144), downloaded: r(152), left: r(160), lastMs: r(168) } : null,
  };
}

/** Whether a whole version-2 (legacy: keyed by passkey) record starts at `off`. */
function isLegacyRecordAt(buf: Buffer, off: number): boolean {
  return off + RECORD_SIZE <= buf.length && buf[off] === LEGACY_MAGIC && buf.readUInt32BE(off + TRAILER_AT) === LEGACY_TRAILER && buf[off + 1]! <= 3;
}

/**
 * The offsets of the legacy records in `buf` (a journal segment's bytes), in order. Walks records
 * as scanRecords does, taking current and legacy ones alike, so bytes inside a current record
 * (a peer_id is the client's choice) are never taken for a legacy record; after damage it resumes
 * at the next record of either version.
 */
export function legacyRecordOffsets(buf: Buffer): number[] {
  const found: number[] = [];
  let off = 0;
  while (off + RECORD_SIZE <= buf.length) {
    if (isLegacyRecordAt(buf, off)) found.push(off);
    else if (!isRecordAt(buf, off)) {
      let next = off + 1;
      for (;;) {
        const a = buf.indexOf(MAGIC, next);
        const b = buf.indexOf(LEGACY_MAGIC, next);
        next = a < 0 ? (b < 0 ? buf.length : b) : b < 0 ? a : Math.min(a, b);
        if (next + RECORD_SIZE > buf.length || isRecordAt(buf, next) || isLegacyRecordAt(buf, next)) break;
        next++;
      }
      off = next;
      continue;
    }
    off += RECORD_SIZE;
  }
  return found;
}

/** The user of the record at `off` (a copy). */
export function recordUser(buf: Buffer, off: number): Buffer {
  return Buffer.from(buf.subarray(off + RECORD.user, off + RECORD.user + 16));
}

/** Makes the legacy record at `off` a current one with `user` as its user key (in place). */
export function upgradeLegacyRecord(buf: Buffer, off: number, user: Uint8Array): void {
  if (!isLegacyRecordAt(buf, off)) throw new Error('not a legacy journal record');
  buf.set(user, off + RECORD.user);
  buf[off] = MAGIC;
  put32(buf, off + TRAILER_AT, TRAILER);
}
