/**
 * The append-only delta journal: every counted announce is written here BEFORE the client
 * gets its response, so a crash at any moment — even `kill -9` right after a `stopped` —
 * loses nothing: at start-up every journalled delta the sink has not applied is replayed,
 * and every baseline newer than the last checkpoint is restored from it.
 *
 * Group commit: `append` only encodes into memory; `commit` writes everything appended
 * since the last commit with one `writeSync`. The privtrak hook commits once per event-loop
 * turn and holds the replies of that turn's announces until the write has returned, so a
 * syscall is paid per turn (tens of announces under load), not per announce.
 *
 * Durability: writeSync puts the records in the kernel's page cache, which survives the
 * process dying (SIGKILL, OOM, crash) but not the machine losing power; `fsync: true`
 * makes each flush to the sink fsync the journal first, and checkpoints fsync too.
 *
 * Segments are files named by the first seq they may hold. The hook starts a new segment
 * at each checkpoint and deletes the segments that both the sink and a checkpoint cover.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { StatDelta } from './delta.js';
import { RECORD_SIZE, decodeRecord, encodeRecordInto, isRecordAt, nextRecordAt } from './journal-record.js';

const PREFIX = 'journal-';
const EMPTY = Buffer.alloc(0);
const SUFFIX = '.bin';

interface Segment {
  firstSeq: number;
  path: string;
}

export class Journal {
  private segments: Segment[] = [];
  private fd: number | undefined;
  private currentHasRecords = false;
  /** Bytes in the open segment that are known written (a failed write is truncated back to this). */
  private size = 0;
  /** Records appended and not yet committed, encoded back to back. */
  private pending = Buffer.allocUnsafe(64 * RECORD_SIZE);
  private pendingBytes = 0;

  constructor(private readonly dir: string, private readonly fsync = false) {}

  /**
   * Reads every record left by earlier runs, in seq order. Damage is skipped, not fatal: a
   * torn last record (power loss mid-write) is ignored, and after a damaged stretch reading
   * resumes at the next whole record. If a seq appears twice (a failed write that reached the
   * disk in part, then the same seq written again), the later one is the one that counted.
   */
  replay(): StatDelta[] {
    mkdirSync(this.dir, { recursive: true });
    this.segments = readdirSync(this.dir)
      .filter((f) => f.startsWith(PREFIX) && f.endsWith(SUFFIX))
      .map((f) => ({ firstSeq: Number(f.slice(PREFIX.length, -SUFFIX.length)), path: join(this.dir, f) }))
      .filter((s) => Number.isSafeInteger(s.firstSeq))
      .sort((a, b) => a.firstSeq - b.firstSeq);
    const bySeq = new Map<number, StatDelta>();
    this.damaged = 0;
    for (const seg of this.segments) {
      const data = readFileSync(seg.path);
      let off = 0;
      while (off + RECORD_SIZE <= data.length) {
        if (isRecordAt(data, off)) {
          const d = decodeRecord(data, off);
          bySeq.delete(d.seq); // re-insert: the later occurrence wins
          bySeq.set(d.seq, d);
          off += RECORD_SIZE;
        } else {
          // Damage only if a whole record follows; otherwise this is a write torn by a crash: the end.
          off = nextRecordAt(data, off + 1);
          if (off < data.length) this.damaged++;
        }
      }
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Damaged stretches skipped by the last replay (not counting a torn last record). */
  damaged = 0;

  /** Starts a new segment for records from `nextSeq` on. Uncommitted records must be committed first. */
  roll(nextSeq: number): void {
    if (this.pendingBytes > 0) throw new Error('journal: roll with uncommitted records');
    if (this.fd !== undefined && !this.currentHasRecords) return;
    this.closeCurrent();
    this.open(nextSeq);
  }

  private open(firstSeq: number): void {
    const path = join(this.dir, `${PREFIX}${String(firstSeq).padStart(16, '0')}${SUFFIX}`);
    this.fd = openSync(path, 'a');
    this.segments.push({ firstSeq, path });
    this.currentHasRecords = false;
    this.size = 0;
  }

  /** Encodes a record into memory; it reaches the file at the next `commit`. */
  append(delta: StatDelta): void {
    if (this.pendingBytes + RECORD_SIZE > this.pending.length) {
      const bigger = Buffer.allocUnsafe(this.pending.length * 2);
      this.pending.copy(bigger, 0, 0, this.pendingBytes);
      this.pending = bigger;
    }
    encodeRecordInto(delta, this.pending, this.pendingBytes);
    this.pendingBytes += RECORD_SIZE;
  }

  /** Records appended since the last commit. */
  get uncommitted(): number {
    return this.pendingBytes / RECORD_SIZE;
  }

  /**
   * Writes the appended records. On failure (disk full, I/O error) they are dropped, the
   * segment is cut back to its last whole record (or, if that fails too, a new segment from
   * `firstSeq` is started), and the error is thrown: the caller undoes what they recorded.
   * Returns the records written (a view, valid until the next append).
   */
  commit(firstSeq: number): Buffer {
    if (this.pendingBytes === 0) return EMPTY;
    if (this.fd === undefined) throw new Error('journal is not open');
    const bytes = this.pendingBytes;
    this.pendingBytes = 0;
    let done = 0;
    try {
      while (done < bytes) done += writeSync(this.fd, this.pending, done, bytes - done);
    } catch (err) {
      this.recover(firstSeq);
      throw err;
    }
    this.size += bytes;
    this.currentHasRecords = true;
    const written = this.pending.subarray(0, bytes);
    if (this.pending.length > 1 << 20) this.pending = Buffer.allocUnsafe(64 * RECORD_SIZE);
    return written;
  }

  /** After a failed write: no partial record may stay, or every later record would be misread. */
  private recover(firstSeq: number): void {
    try {
      ftruncateSync(this.fd!, this.size);
      return;
    } catch {
      // fall through: abandon this segment
    }
    try {
      this.closeCurrent();
    } catch {
      this.fd = undefined;
    }
    try {
      this.open(firstSeq);
    } catch {
      // The next commit throws "journal is not open" until a roll succeeds.
    }
  }

  /** Drops records appended since the last commit (the caller undid them). */
  discard(): void {
    this.pendingBytes = 0;
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
    if (this.pendingBytes > 0) throw new Error('journal: close with uncommitted records');
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
