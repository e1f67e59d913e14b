/**
 * Typed arrays that grow (and shrink) without fragmenting the process heap, for the packed
 * per-peer stores (the swarm tables, the privtrak hook's baselines).
 *
 * Why: plain ArrayBuffers come from malloc. A store that doubles an array frees the old one, and
 * glibc then raises its mmap threshold to that size, so the next arrays come from the heap, where
 * freed ones stay resident as holes too small for the bigger ones that follow. Thousands of swarms
 * growing in step (a tracker filling up) left RSS at 1.7× the live arrays, the baselines at 1.5×
 * (BENCHMARKS.md, memory run). Big arrays therefore live in resizable ArrayBuffers (ES2024; Node
 * 20's V8 has them): V8 reserves address space and commits or releases whole pages as the buffer
 * is resized, so growing copies nothing, shrinking gives pages back, and a dropped buffer is
 * unmapped. Small arrays stay plain (a page each would cost more than the holes); a buffer that
 * outgrows its reservation moves to a new one RESERVE times bigger (address space, not memory).
 * This module imports nothing: any layer may use it.
 */

/** Arrays of at least this many bytes use resizable buffers (one page). */
const RESIZABLE_MIN_BYTES = 4096;
const RESERVE = 64;
const MAX_RESERVED_BYTES = 2 ** 32;
/**
 * Resizable buffers alive at once, at most. Each is its own mapping, two entries in the process's
 * memory map, and Linux allows 65,530 (vm.max_map_count) for everything: V8's heap, malloc's big
 * chunks, thread stacks. Past the cap, arrays are plain again (fragmentation back, not a failed
 * allocation): 8,192 buffers are 8,192 swarms of 128+ peers, ≈ 2M peers or more.
 */
const MAX_RESIZABLE = 8192;
let resizableAlive = 0;
const dropped = new FinalizationRegistry<undefined>(() => {
  resizableAlive--;
});

/** Whether a resizable buffer may be made now (the cap above). */
export function resizableBuffersLeft(): number {
  return MAX_RESIZABLE - resizableAlive;
}

export type PackedArray = Int32Array | Uint8Array | Float64Array;

interface ResizableBuffer extends ArrayBuffer {
  readonly resizable: boolean;
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}
type ResizableBufferConstructor = new (byteLength: number, options: { maxByteLength: number }) => ResizableBuffer;
type ArrayConstructorOf<T> = { new (length: number): T; new (buffer: ArrayBuffer): T; readonly BYTES_PER_ELEMENT: number };

/** A zeroed array of `length` elements of `a`'s type (resizable when big). */
export function zeroed<T extends PackedArray>(like: T, length: number): T {
  const Ctor = like.constructor as ArrayConstructorOf<T>;
  const bytes = length * Ctor.BYTES_PER_ELEMENT;
  if (bytes < RESIZABLE_MIN_BYTES || resizableAlive >= MAX_RESIZABLE) return new Ctor(length);
  const max = Math.max(bytes, Math.min(bytes * RESERVE, MAX_RESERVED_BYTES));
  let buffer: ResizableBuffer;
  try {
    buffer = new (ArrayBuffer as unknown as ResizableBufferConstructor)(bytes, { maxByteLength: max });
  } catch {
    return new Ctor(length); // no address space or mapping left: a plain array still works
  }
  resizableAlive++;
  dropped.register(buffer, undefined);
  return new Ctor(buffer);
}

/**
 * An array of `length` elements that starts with the first `keep` elements of `a`; the rest is
 * zero when the array grew, unspecified when it shrank. May be `a` itself, resized in place
 * (arrays made here track their buffer's length), so callers keep only the returned reference.
 */
export function resized<T extends PackedArray>(a: T, length: number, keep = Math.min(a.length, length)): T {
  const buffer = a.buffer as ResizableBuffer;
  const bytes = length * a.BYTES_PER_ELEMENT;
  if (bytes >= RESIZABLE_MIN_BYTES && buffer.resizable === true && bytes <= buffer.maxByteLength) {
    buffer.resize(bytes); // the bytes it adds are zero (ES2024 ArrayBuffer.prototype.resize)
    return a;
  }
  const out = zeroed(a, length);
  out.set(keep === a.length ? a : a.subarray(0, keep));
  return out;
}
