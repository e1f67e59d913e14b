/**
 * The Redis keys the stream drainer reads and writes, named as design-shared.md's key layout
 * says (the same names src/storage/redis/keys.ts builds for the store): `P{drain}:lease`,
 * `P{drain}:fence`, each group's stream `{Pg<g>}:d`, and the sink instance of group g,
 * `Pg<g>` (the stream's applied mark).
 */
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

export function drainKeys(prefix: string): DrainKeys {
  return {
    lease: `${prefix}{drain}:lease`,
    fence: `${prefix}{drain}:fence`,
    fenceName: `${prefix}drain`,
    stream: (g) => Buffer.from(`{${prefix}g${g}}:d`, 'latin1'),
    instance: (g) => `${prefix}g${g}`,
  };
}
