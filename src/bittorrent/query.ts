/**
 * Binary-safe query-string decoding (BEP 3). info_hash and peer_id are raw bytes, so
 * values are decoded to "byte strings" (latin1: one char per byte) and never as UTF-8;
 * `Buffer.from(value, 'latin1')` recovers the exact bytes. Node's URLSearchParams decodes
 * as UTF-8 and replaces invalid sequences, which corrupts binary hashes: hence this.
 */
import { ClientError } from './errors.js';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Decodes one percent-encoded component to a byte string. '+' is a space (form encoding). */
export function percentDecode(s: string, start = 0, end = s.length): string {
  let i = s.indexOf('%', start);
  if ((i < 0 || i >= end) && s.indexOf('+', start) < 0) return s.slice(start, end);
  let out = '';
  for (i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const hi = i + 2 < end ? hexValue(s.charCodeAt(i + 1)) : -1;
      const lo = i + 2 < end ? hexValue(s.charCodeAt(i + 2)) : -1;
      if (hi < 0 || lo < 0) throw new ClientError('BAD_REQUEST', 'invalid percent-encoding in query');
      out += String.fromCharCode(hi * 16 + lo);
      i += 2;
    } else if (c === 0x2b /* + */) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

/**
 * Calls `onParam` for every key=value pair of a raw query string (no leading '?').
 * Keys and values are percent-decoded byte strings. Empty pairs are skipped.
 */
export function decodeQuery(query: string, onParam: (key: string, value: string) => void): void {
  let pos = 0;
  const len = query.length;
  while (pos < len) {
    let amp = query.indexOf('&', pos);
    if (amp < 0) amp = len;
    if (amp > pos) {
      let eq = query.indexOf('=', pos);
      if (eq < 0 || eq > amp) eq = amp;
      const key = percentDecode(query, pos, eq);
      const value = eq < amp ? percentDecode(query, eq + 1, amp) : '';
      onParam(key, value);
    }
    pos = amp + 1;
  }
}
