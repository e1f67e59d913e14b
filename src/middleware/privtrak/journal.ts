/**
 * The append-only delta journal: every counted announce is written here (one `writeSync`)
 * BEFORE the client gets its response, so a crash at any moment — even `kill -9` right
 * after a `stopped` — loses nothing: at start-up every journalled delta the sink has not
 * applied is replayed, baselines included.
 *
 * Durability: writeSync puts the record in the kernel's page cache, which survives the
 * process dying (SIGKILL, OOM, crash) but not the machine losing power; `fsync: true`
 * makes each flush of the journal segment durable against that too, at a cost.
 *
 * Segments are files named by the first seq they may hold. A new segment is started when a
 * flush begins, and segments whose records are all applied by the sink are deleted, so the
 * journal holds only what is pending plus one flush.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { StatDelta } from './delta.js';
import { RECORD_SIZE, decodeRecord, encodeRecordInto } from './journal-record.js';

const PREFIX = 'journal-';
const SUFFIX = '.bin';

interface Segment {
  firstSeq: number;
  path: string;
}

export class Journal {
  private segments: Segment[] = [];
  private fd: number | undefined;
  private currentHasRecords = false;
  /** One record buffer, reused: appends allocate nothing. */
  private readonly record = Buffer.alloc(RECORD_SIZE);

  constructor(private readonly dir: string, private readonly fsync = false) {}

  /** Reads every record left by earlier runs, in seq order (a torn last line is ignored). */
  replay(): StatDelta[] {
    mkdirSync(this.dir, { recursive: true });
    this.segments = readdirSync(this.dir)
      .filter((f) => f.startsWith(PREFIX) && f.endsWith(SUFFIX))
      .map((f) => ({ firstSeq: Number(f.slice(PREFIX.length, -SUFFIX.length)), path: join(this.dir, f) }))
      .filter((s) => Number.isSafeInteger(s.firstSeq))
      .sort((a, b) => a.firstSeq - b.firstSeq);
    const out: StatDelta[] = [];
    for (const seg of this.segments) {
      const data = readFileSync(seg.path);
      // A torn write (power loss mid-append) can only be the last, partial record of a segment.
      for (let off = 0; off + RECORD_SIZE <= data.length; off += RECORD_SIZE) {
        try {
          out.push(decodeRecord(data, off));
        } catch {
          break;
        }
      }
    }
    out.sort((a, b) => a.seq - b.seq);
    return out;
  }

  /** Starts a new segment for records from `nextSeq` on. */
  roll(nextSeq: number): void {
    if (this.fd !== undefined && !this.currentHasRecords) return;
    this.closeCurrent();
    const path = join(this.dir, `${PREFIX}${String(nextSeq).padStart(16, '0')}${SUFFIX}`);
    this.fd = openSync(path, 'a');
    this.segments.push({ firstSeq: nextSeq, path });
    this.currentHasRecords = false;
  }

  append(delta: StatDelta): void {
    if (this.fd === undefined) throw new Error('journal is not open');
    writeSync(this.fd, encodeRecordInto(delta, this.record), 0, RECORD_SIZE);
    this.currentHasRecords = true;
  }

  /** Makes appended records durable against power loss (only when configured). */
  sync(): void {
    if (this.fsync && this.fd !== undefined) fsyncSync(this.fd);
  }

  /** Deletes segments whose every record has seq ≤ appliedThrough. The open segment is kept. */
  prune(appliedThrough: number): number {
    let removed = 0;
    while (this.segments.length > 1 && this.segments[1]!.firstSeq - 1 <= appliedThrough) {
      const seg = this.segments.shift()!;
      if (existsSync(seg.path)) unlinkSync(seg.path);
      removed++;
    }
    return removed;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  close(): void {
    this.sync();
    this.closeCurrent();
  }

  private closeCurrent(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
