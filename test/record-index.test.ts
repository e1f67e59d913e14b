import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RecordIndex, passkeyWords, torrentKeyWords } from '../src/record-index.js';

const passkeys = () => new RecordIndex<number>(16, passkeyWords, 16);
const torrents = () => new RecordIndex<number>(20, torrentKeyWords, 16);

describe('record index', () => {
  it('matches a Map model through sets, replacements and deletes, byte lookups included', () => {
    const idx = torrents();
    const model = new Map<string, number>();
    const keys = Array.from({ length: 3000 }, () => randomBytes(20));
    let seed = 7;
    const rnd = (n: number) => { seed = (seed * 48271) % 2147483647; return seed % n; };
    for (let step = 0; step < 40_000; step++) {
      const bytes = keys[rnd(keys.length)]!;
      const key = bytes.toString('latin1');
      assert.equal(idx.get(key), model.get(key));
      assert.equal(idx.getBytes(bytes), model.get(key));
      const op = rnd(4);
      if (op === 0) assert.equal(idx.delete(key), model.delete(key));
      else if (op === 1) {
        idx.set(key, step);
        model.set(key, step);
      }
      assert.equal(idx.size, model.size);
    }
    assert.deepEqual([...idx.values()].sort((a, b) => a - b), [...model.values()].sort((a, b) => a - b));
  });

  it('finds a passkey in either case, and refuses what is not 32 hex characters', () => {
    const idx = passkeys();
    const pk = '0123456789abcdef0123456789ABCDEF';
    idx.set(pk, 1);
    assert.equal(idx.get(pk.toLowerCase()), 1);
    assert.equal(idx.get(pk.toUpperCase()), 1);
    assert.equal(idx.getBytes(Buffer.from(pk, 'hex')), 1);
    idx.set(pk.toLowerCase(), 2); // the same key: replaced, not added
    assert.equal(idx.size, 1);
    assert.equal(idx.get(pk), 2);
    // Each character class that is not hex, in each position of a byte; and wrong lengths.
    for (const bad of ['g', 'G', '/', ':', '@', '`', ' ', 'é', 'ſ', '\u0100']) {
      for (const at of [0, 1, 17, 31]) {
        const key = pk.slice(0, at) + bad + pk.slice(at + 1);
        assert.equal(idx.get(key), undefined, `${JSON.stringify(key)} is not a passkey`);
        assert.throws(() => idx.set(key, 3), RangeError);
        assert.equal(idx.delete(key), false);
      }
    }
    for (const key of ['', pk.slice(1), pk + '0']) {
      assert.equal(idx.get(key), undefined);
      assert.throws(() => idx.set(key, 3), RangeError);
    }
    assert.equal(idx.getBytes(Buffer.alloc(15)), undefined);
    assert.equal(idx.size, 1);
    assert.equal(idx.delete(pk.toUpperCase()), true);
    assert.equal(idx.get(pk), undefined);
    assert.equal(idx.size, 0);
  });

  it('reads every one of a passkey\'s 16 bytes and a torrent key\'s 20', () => {
    // Keys one byte apart, in every position: a word built from the wrong characters would merge some.
    const pks = passkeys();
    const base = 'f'.repeat(32);
    for (let i = 0; i < 32; i++) pks.set(base.slice(0, i) + '0' + base.slice(i + 1), i);
    assert.equal(pks.size, 32);
    for (let i = 0; i < 16; i++) {
      const bytes = Buffer.alloc(16, 0xff);
      bytes[i] = 0x0f; // '0f' at byte i: the high nibble's key
      assert.equal(pks.getBytes(bytes), 2 * i);
      bytes[i] = 0xf0;
      assert.equal(pks.getBytes(bytes), 2 * i + 1);
    }
    const ts = torrents();
    for (let i = 0; i < 20; i++) {
      const bytes = Buffer.alloc(20, 0xaa);
      bytes[i] = 0xff; // latin1 'ÿ': the top of a byte
      ts.set(bytes.toString('latin1'), i);
    }
    for (let i = 0; i < 20; i++) {
      const bytes = Buffer.alloc(20, 0xaa);
      bytes[i] = 0xff;
      assert.equal(ts.getBytes(bytes), i);
      assert.equal(ts.getBytes(bytes.subarray(0, 19)), undefined);
    }
    assert.throws(() => ts.set('\u0100'.repeat(20), 1), RangeError); // not a latin1 byte string
  });
});
