/**
 * A DeltaBatch made of delta records (delta-record.ts) back to back: what the privtrak hook's
 * flusher hands to a sink, and what the SQLite worker rebuilds on its side of the thread.
 */
import type { BatchFence, DeltaBatch, StatDelta } from './delta.js';
import { RECORD, RECORD_SIZE, decodeRecord, get64 } from './delta-record.js';

export function decodeRecords(records: Buffer): StatDelta[] {
  const out: StatDelta[] = new Array(records.length / RECORD_SIZE);
  for (let i = 0; i < out.length; i++) out[i] = decodeRecord(records, i * RECORD_SIZE);
  return out;
}

/** A batch for the sink straight from the queue: records, with objects only if a sink asks. */
export class RecordBatch implements DeltaBatch {
  private decoded: StatDelta[] | undefined;
  readonly id: number;
  readonly size: number;

  /** `fence`: see DeltaBatch.fence (the shared mode's stream drainer sets it). */
  constructor(readonly instance: string, readonly records: Buffer, readonly fence?: BatchFence) {
    this.size = records.length / RECORD_SIZE;
    this.id = get64(records, records.length - RECORD_SIZE + RECORD.seq);
  }

  get deltas(): readonly StatDelta[] {
    this.decoded ??= decodeRecords(this.records);
    return this.decoded;
  }
}
