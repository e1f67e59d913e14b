/**
 * Small Int32Arrays for peer tables, carved from shared 64 KiB slabs and reused by size.
 *
 * Why: a typed array of its own costs ≈ 250 bytes beyond its data (the view, the ArrayBuffer, V8's
 * backing store and a malloc chunk), which is most of what a swarm of a few peers costs, and small
 * arrays freed as tables grow stay behind as malloc holes. Here a table's small array is a view on
 * a slab: no ArrayBuffer or backing store of its own, and a freed view waits in a free list for the
 * next table that needs that many words. Slabs are never returned (their blocks are reused); arrays
 * of a page or more come from resizable-arrays.ts instead.
 */
const SLAB_WORDS = 16_384; // 64 KiB

export class BlockPool {
  /** Free views by length in words. */
  private readonly free = new Map<number, Int32Array[]>();
  private slab = new Int32Array(SLAB_WORDS);
  private used = 0;
  /** Words handed out and not freed, for tests. */
  live = 0;

  /** A view of `words` words (at most SLAB_WORDS), contents unspecified. */
  alloc(words: number): Int32Array {
    this.live += words;
    const reused = this.free.get(words)?.pop();
    if (reused !== undefined) return reused;
    if (this.used + words > SLAB_WORDS) {
      this.slab = new Int32Array(SLAB_WORDS);
      this.used = 0;
    }
    const view = this.slab.subarray(this.used, this.used + words);
    this.used += words;
    return view;
  }

  /** Gives back a view from alloc; the caller keeps no reference to it. */
  release(view: Int32Array): void {
    this.live -= view.length;
    let list = this.free.get(view.length);
    if (list === undefined) {
      list = [];
      this.free.set(view.length, list);
    }
    list.push(view);
  }
}
