/**
 * The open connections of an HTTP frontend: an array with swap-remove, each connection holding
 * its own index (`Connection.slot`), instead of a Set.
 *
 * Why not a Set: V8 rehashes a Set's table as it grows and shrinks, and when the Set itself is
 * long-lived (old generation) the new table is allocated in the old generation too. With
 * connection close every announce adds and deletes a connection, so the table was rebuilt
 * again and again: a heap profile of allocations that survive scavenges (HTTP close at 9,000
 * announces/s) found 118 of 203 bytes per announce in `Set.prototype.delete`. That old-generation
 * garbage is what brought a full mark-compact every ~40 s, with pauses of up to 40 ms
 * (BENCHMARKS.md, issue 14 point 1). Here adding and removing allocate nothing once the array
 * has grown to the most connections open at once.
 */
import type { Connection } from './connection.js';

export class OpenConnections {
  private items: Connection[] = [];

  get size(): number {
    return this.items.length;
  }

  add(conn: Connection): void {
    if (conn.slot >= 0) return;
    conn.slot = this.items.length;
    this.items.push(conn);
  }

  /** Removes `conn` if it is open here; the last connection takes its slot. */
  delete(conn: Connection): void {
    const at = conn.slot;
    if (at < 0 || this.items[at] !== conn) return;
    const last = this.items.pop()!;
    if (last !== conn) {
      this.items[at] = last;
      last.slot = at;
    }
    conn.slot = -1;
  }

  /**
   * Calls `fn` once for every open connection; `fn` may close the connection it is given. Walks
   * from the end, so that removal, which moves the last connection into the freed slot, only
   * ever moves one already visited.
   */
  forEach(fn: (conn: Connection) => void): void {
    for (let i = this.items.length - 1; i >= 0; i--) {
      if (i < this.items.length) fn(this.items[i]!);
    }
  }
}
