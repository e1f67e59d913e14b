import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ByteKeyIndex } from '../src/byte-key-index.js';

/** A key of `words` words derived from n (several words differ between keys, not just one). */
function keyOf(n: number, words: number): Int32Array {
  const k = new Int32Array(words);
  for (let i = 0; i < words; i++) k[i] = Math.imul(n + 1, 0x9e3779b1 + i) ^ (i === 0 ? n : 0);
  return k;
}

describe('byte-key index', () => {
  it('matches a Map model through inserts and removals in every order, with stable, reused slots', () => {
    const idx = new ByteKeyIndex(56, 16);
    const model = new Map<number, number>(); // key number -> slot
    let seed = 11;
    const rnd = (n: number) => { seed = (seed * 48271) % 2147483647; return seed % n; };
    for (let step = 0; step < 60_000; step++) {
      const n = rnd(8000);
      const k = keyOf(n, 14);
      const slot = idx.find(k);
      assert.equal(slot, model.get(n) ?? -1);
      if (slot >= 0 && rnd(3) === 0) {
        idx.remove(slot);
        model.delete(n);
      } else if (slot < 0) {
        const s = idx.insert(k);
        assert.ok(s >= 0 && s < idx.capacity);
        model.set(n, s);
      }
    }
    assert.equal(idx.size, model.size);
    const slots = new Set(model.values());
    assert.equal(slots.size, model.size, 'no slot holds two keys');
    for (const [n, s] of model) {
      assert.equal(idx.find(keyOf(n, 14)), s);
      assert.ok(idx.inUse(s));
      const bytes = new Uint8Array(56);
      idx.copyKey(s, bytes, 0);
      const view = new DataView(bytes.buffer);
      assert.deepEqual(Int32Array.from({ length: 14 }, (_, i) => view.getInt32(i * 4, true)), keyOf(n, 14), 'the key back, little-endian words');
      // Part of the key: words 2..13 only, at an offset; nothing written outside them.
      const part = new Uint8Array(52).fill(0xee);
      idx.copyKey(s, part, 4, 2);
      assert.deepEqual(part.subarray(4), bytes.subarray(8), 'words from the second on');
      assert.ok(part.subarray(0, 4).every((b) => b === 0xee));
      assert.equal(idx.keyWord(s, 13), keyOf(n, 14)[13]);
    }
    // Every slot below the limit is either a live key's or free (reused before new ones are taken).
    let free = 0;
    for (let s = 0; s < idx.slotLimit; s++) if (!idx.inUse(s)) free++;
    assert.equal(free + model.size, idx.slotLimit);
  });

  it('finds a key at an offset in a larger array, and keys that share a hash cell stay apart', () => {
    const idx = new ByteKeyIndex(16);
    const a = Int32Array.of(9, 1, 2, 3, 4);
    const slot = idx.insert(a, 1);
    assert.equal(idx.find(Int32Array.of(1, 2, 3, 4)), slot);
    assert.equal(idx.find(Int32Array.of(1, 2, 3, 5)), -1);
    // Many keys in a small table force long probe runs; removing from the middle of a run keeps the rest findable.
    const keys = Array.from({ length: 2000 }, (_, i) => Int32Array.of(i, 0, 0, 0));
    const slots = keys.map((k) => idx.insert(k));
    for (let i = 0; i < keys.length; i += 2) idx.remove(slots[i]!);
    for (let i = 0; i < keys.length; i++) assert.equal(idx.find(keys[i]!), i % 2 === 0 ? -1 : slots[i], `key ${i}`);
    assert.throws(() => idx.remove(slots[0]!), /holds no key/, 'removing a free slot is refused, not a hang');
  });

  it('keys its hash per index: the same key hashes differently in two indexes', () => {
    const a = new ByteKeyIndex(20);
    const b = new ByteKeyIndex(20);
    const k = keyOf(1, 5);
    // Equal by chance with probability 2^-32 per try; eight different keys all equal would mean no secret.
    let same = 0;
    for (let n = 0; n < 8; n++) if (a.hash(keyOf(n, 5)) === b.hash(keyOf(n, 5))) same++;
    assert.ok(same < 8);
    assert.equal(a.hash(k), a.hash(Int32Array.from(k)), 'deterministic within one index');
    assert.throws(() => new ByteKeyIndex(18), /multiple of 4/);
  });
});
