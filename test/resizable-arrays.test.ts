import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resized, resizableBuffersLeft, zeroed } from '../src/resizable-arrays.js';

const resizable = (a: { buffer: ArrayBufferLike }) => (a.buffer as ArrayBuffer & { resizable?: boolean }).resizable === true;

describe('resizable arrays', () => {
  it('keeps small arrays plain and moves big ones to a resizable buffer, contents kept, new elements zero', () => {
    const small = Int32Array.from([1, 2, 3]);
    const a = resized(small, 8);
    assert.equal(resizable(a), false);
    assert.deepEqual([...a], [1, 2, 3, 0, 0, 0, 0, 0]);
    const big = resized(a, 4096);
    assert.equal(resizable(big), true);
    assert.equal(big.length, 4096);
    assert.deepEqual([...big.subarray(0, 4)], [1, 2, 3, 0]);
    assert.ok(big.subarray(3).every((x) => x === 0));
  });

  it('grows and shrinks in place within the reservation, and moves past it', () => {
    let a = zeroed(new Float64Array(0), 1024);
    assert.equal(resizable(a), true);
    a.fill(7);
    const same = resized(a, 4096);
    assert.equal(same, a, 'grown in place');
    assert.equal(same.length, 4096);
    assert.equal(same[1023], 7);
    assert.equal(same[1024], 0, 'the added elements are zero');
    a = resized(same, 512, 512);
    assert.equal(a, same, 'shrunk in place');
    assert.equal(a.length, 512);
    // Past the reservation (64 times the first size): a new buffer with the kept prefix.
    const far = resized(a, 1024 * 64 + 1);
    assert.notEqual(far, a);
    assert.equal(far.length, 1024 * 64 + 1);
    assert.equal(far[511], 7);
    assert.equal(far[512], 0);
    // Shrunk below a page: a plain array again.
    const back = resized(far, 100, 100);
    assert.equal(resizable(back), false);
    assert.ok(back instanceof Float64Array);
    assert.equal(back[99], 7);
  });

  it('keeps the element type', () => {
    assert.ok(resized(new Uint8Array(10), 10_000) instanceof Uint8Array);
    assert.ok(zeroed(new Int32Array(0), 10_000) instanceof Int32Array);
  });

  it('falls back to plain arrays past the cap on resizable buffers (each is a mapping)', () => {
    const held: Int32Array[] = [];
    const left = resizableBuffersLeft();
    held.push(zeroed(new Int32Array(0), 1024));
    assert.equal(resizableBuffersLeft(), left - 1);
    for (let i = 0; i < 10_000 && resizableBuffersLeft() > 0; i++) held.push(zeroed(new Int32Array(0), 1024));
    assert.equal(resizableBuffersLeft(), 0);
    const plain = zeroed(new Int32Array(0), 1024);
    assert.equal(resizable(plain), false);
    assert.equal(plain.length, 1024);
    const grown = resized(plain, 4096);
    assert.equal(resizable(grown), false);
    assert.equal(grown.length, 4096);
  });
});
