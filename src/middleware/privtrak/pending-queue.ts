/**
 * Deltas waiting for the sink, kept as journal records (208 bytes each, back to back) rather
 * than objects. A delta waits about a flush_interval, long enough for an object to survive
 * the young generation and be copied into the old one, where it died a second later: the
 * collector's busiest work under load. Bytes in one Buffer are nothing to trace, a third of
 * the memory, and bound what max_pending really costs. Objects are decoded only for the batch
 * being flushed.
 */
import type { StatDelta } from '../../accounting/delta.js';
import { RECORD, RECORD_SIZE, encodeRecordInto, get64 } from '../../accounting/delta-record.js';
import { decodeRecords } from '../../accounting/record-batch.js';

export class PendingQueue {
  private buf = Buffer.allocUnsafe(1024 * RECORD_SIZE);
  /** Byte offsets of the first pending record and of the end. */
  private head = 0;
  private tail = 0;

  get size(): number {
    return (this.tail - this.head) / RECORD_SIZE;
  }

  /** Appends whole encoded records (a multiple of RECORD_SIZE bytes). */
  pushRecords(records: Buffer): void {
    this.reserve(records.length);
    records.copy(this.buf, this.tail);
    this.tail += records.length;
  }

  push(delta: StatDelta): void {
    this.reserve(RECORD_SIZE);
    encodeRecordInto(delta, this.buf, this.tail);
    this.tail += RECORD_SIZE;
  }

  /** Receive time (epoch ms) of the oldest pending delta, or undefined. */
  oldestTimeMs(): number | undefined {
    if (this.tail === this.head) return undefined;
    return get64(this.buf, this.head + RECORD.timeMs);
  }

  /** Decodes (without removing) up to `max` deltas from the front. */
  peek(max: number): StatDelta[] {
    return decodeRecords(this.peekRecords(max));
  }

  /**
   * A copy of up to `max` records from the front (without removing them): in `room` when it is
   * large enough (a view of its start), else in a new buffer of exactly their size.
   */
  peekRecords(max: number, room?: Buffer): Buffer {
    const bytes = Math.min(max, this.size) * RECORD_SIZE;
    // Not pooled (allocUnsafeSlow): a buffer that is reused as `room` must own all of its memory.
    const out = room !== undefined && room.length >= bytes ? room.subarray(0, bytes) : Buffer.allocUnsafeSlow(bytes);
    this.buf.copy(out, 0, this.head, this.head + bytes);
    return out;
  }

  /** Removes `count` deltas from the front. */
  drop(count: number): void {
    this.head = Math.min(this.tail, this.head + count * RECORD_SIZE);
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      // After a backlog (sink outage), give the memory back.
      if (this.buf.length > 64 * 1024 * RECORD_SIZE) this.buf = Buffer.allocUnsafe(1024 * RECORD_SIZE);
    }
  }

  private reserve(bytes: number): void {
    if (this.tail + bytes <= this.buf.length) return;
    const live = this.tail - this.head;
    if (this.head > 0 && live + bytes <= this.buf.length / 2) {
      // Plenty of room once the applied front is gone: move the rest down.
      this.buf.copy(this.buf, 0, this.head, this.tail);
    } else {
      let size = this.buf.length * 2;
      while (size < live + bytes) size *= 2;
      const bigger = Buffer.allocUnsafe(size);
      this.buf.copy(bigger, 0, this.head, this.tail);
      this.buf = bigger;
    }
    this.head = 0;
    this.tail = live;
  }
}
