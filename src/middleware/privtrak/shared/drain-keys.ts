/**
 * The Redis keys the stream drainer reads and writes, taken from the store's one key layout
 * (src/storage/redis/keys.ts): `P{drain}:lease`, `P{drain}:fence`, each group's stream
 * `{Pg<g>}:d`, and the sink instance of group g, `Pg<g>` (the stream's applied mark).
 */
import { KeySpace } from '../../../storage/redis/keys.js';

export interface DrainKeys {
  /** `P{drain}:lease`: `<holder id>:<fence token>` with a PX ttl. */
  readonly lease: string;
  /** `P{drain}:fence`: INCR'd on every acquisition. Shares the lease's hash tag: one slot, one script. */
  readonly fence: string;
  /** The fence's name in the sink's privtrak_fences (DeltaBatch.fence). */
  readonly fenceName: string;
  /** Group g's delta stream. */
  stream(g: number): Buffer;
  /** Group g's instance name in the sink (its appliedThrough is the last drained seq). */
  instance(g: number): string;
}

export function drainKeys(prefix: string, groups: number): DrainKeys {
  const space = new KeySpace(prefix, groups);
  return {
    lease: space.drainLease,
    fence: space.drainFence,
    fenceName: `${prefix}drain`,
    stream: (g) => space.group(g).d,
    instance: (g) => space.streamInstance(g),
  };
}
