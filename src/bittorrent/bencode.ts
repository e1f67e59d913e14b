/**
 * Bencode encoder for tracker responses. Hand-written on purpose: responses are a
 * handful of known keys, and writing them straight into Buffers avoids the generic
 * object walk (and string re-encoding of binary values) of the npm bencode packages.
 * Keys must be given in sorted order by the caller (bencode requires sorted keys);
 * `encodeDict` sorts them to be safe.
 */

export type BValue = number | string | Buffer | BValue[] | { [key: string]: BValue | undefined };

export function encode(value: BValue): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(value: BValue, parts: Buffer[]): void {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError('bencode integers must be integers');
    parts.push(Buffer.from(`i${value}e`, 'latin1'));
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    parts.push(Buffer.from(`${bytes.length}:`, 'latin1'), bytes);
  } else if (Buffer.isBuffer(value)) {
    parts.push(Buffer.from(`${value.length}:`, 'latin1'), value);
  } else if (Array.isArray(value)) {
    parts.push(L);
    for (const item of value) write(item, parts);
    parts.push(E);
  } else {
    parts.push(D);
    const keys = Object.keys(value).sort();
    for (const key of keys) {
      const v = value[key];
      if (v === undefined) continue;
      write(key, parts);
      write(v, parts);
    }
    parts.push(E);
  }
}

const L = Buffer.from('l');
const D = Buffer.from('d');
const E = Buffer.from('e');

/**
 * Minimal bencode decoder, used by tests and the load generator to read responses.
 * Byte strings are returned as Buffers.
 */
export type Decoded = number | Buffer | Decoded[] | { [key: string]: Decoded };

export function decode(buf: Buffer): Decoded {
  const [value, end] = decodeAt(buf, 0);
  if (end !== buf.length) throw new Error(`trailing bytes at ${end}`);
  return value;
}

function decodeAt(buf: Buffer, pos: number): [Decoded, number] {
  const c = buf[pos];
  if (c === 0x69 /* i */) {
    const end = buf.indexOf(0x65, pos);
    if (end < 0) throw new Error('unterminated integer');
    return [Number(buf.toString('latin1', pos + 1, end)), end + 1];
  }
  if (c === 0x6c /* l */) {
    const list: Decoded[] = [];
    pos++;
    while (buf[pos] !== 0x65) {
      if (pos >= buf.length) throw new Error('unterminated list');
      const [v, next] = decodeAt(buf, pos);
      list.push(v);
      pos = next;
    }
    return [list, pos + 1];
  }
  if (c === 0x64 /* d */) {
    const dict: { [key: string]: Decoded } = {};
    pos++;
    while (buf[pos] !== 0x65) {
      if (pos >= buf.length) throw new Error('unterminated dict');
      const [k, afterKey] = decodeAt(buf, pos);
      if (!Buffer.isBuffer(k)) throw new Error('dict key must be a string');
      const [v, next] = decodeAt(buf, afterKey);
      dict[k.toString('latin1')] = v;
      pos = next;
    }
    return [dict, pos + 1];
  }
  if (c !== undefined && c >= 0x30 && c <= 0x39) {
    const colon = buf.indexOf(0x3a, pos);
    if (colon < 0) throw new Error('bad string length');
    const len = Number(buf.toString('latin1', pos, colon));
    const start = colon + 1;
    if (start + len > buf.length) throw new Error('string past end');
    return [buf.subarray(start, start + len), start + len];
  }
  throw new Error(`unexpected byte at ${pos}`);
}
