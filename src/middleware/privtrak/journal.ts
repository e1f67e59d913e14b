/**
 * The append-only delta journal: every counted announce is written here BEFORE the client
 * gets its response, so a crash at any moment — even `kill -9` right after a `stopped` —
 * loses nothing: at start-up every journalled delta the sink has not applied is replayed,
 * and every baseline newer than the last checkpoint is restored from it.
 *
 * Group commit: `append` only encodes into memory; `commit` stores everything appended since
 * the last commit at once: a memory copy into a mapped segment, or one write(2)
 * (journal-segment.ts). The privtrak hook commits once per event-loop turn (or once per announce
 * when turns hold one) and holds the replies until the commit has returned.
 *
 * Durability: either way the records are in the kernel's page cache when commit returns, which
 * survives the process dying (SIGKILL, OOM, crash) but not the machine losing power;
 * `fsync: true` makes each flush to the sink fsync the journal first, and checkpoints fsync too.
 *
 * Segments are files named by the first seq they may hold. The hook starts a new segment
 * at each checkpoint, the journal when a mapped segment is full; segments that both the sink
 * and a checkpoint cover are deleted.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { StatDelta } from '../../accounting/delta.js';
import { RECORD_SIZE, decodeRecord, encodeRecordInto, isRecordAt, legacyRecordOffsets, scanRecords } from '../../accounting/delta-record.js';
import { LegacyDataError } from '../../accounting/legacy-data.js';
import { MappedSegment, WrittenSegment, type JournalSegment } from './journal-segment.js';
import { loadMmap, mmapUnavailableReason, type MmapAddon } from '../../native/mmap.js';
import { nodeFs, type DurableFs } from '../../durable-fs.js';
import type { Progress } from '../../progress/progress.js';

/** How committed records reach the segment file: `auto` is `mmap` where the native addon is built. */
export type JournalIo = 'auto' | 'mmap' | 'write';

export interface JournalOptions {
  /** fsync on sync() (before each flush to the sink), before a segment is closed (roll, shutdown), and the directory when a segment is created. */
  fsync?: boolean;
  io?: JournalIo;
  /** The mmap addon (tests wrap it); default: the one npm install built, if any. */
  mm?: MmapAddon;
  fs?: DurableFs;
  /** Called when the journal switches from mmap to write at run time (e.g. a file system without fallocate). */
  onIoFallback?: (reason: string) => void;
  /** Capacity of a mapped segment (the journal moves to a new segment when a commit does not fit). */
  segmentBytes?: number;
  /** Disk blocks reserved ahead in a mapped segment. */
  reserveBytes?: number;
}

const PREFIX = 'journal-';
const EMPTY = Buffer.alloc(0);
const SUFFIX = '.bin';

interface Segment {
  firstSeq: number;
  path: string;
}

/** The journal segments in `dir`, oldest first (none if the directory does not exist). */
export function segmentFiles(dir: string): Segment[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith(PREFIX) && f.endsWith(SUFFIX))
    .map((f) => ({ firstSeq: Number(f.slice(PREFIX.length, -SUFFIX.length)), path: join(dir, f) }))
    .filter((s) => Number.isSafeInteger(s.firstSeq))
    .sort((a, b) => a.firstSeq - b.firstSeq);
}

/** The bytes of every segment in `dir`: the total a replay's progress is measured against (a stat per file). */
export function journalBytes(dir: string): number {
  let bytes = 0;
  for (const seg of segmentFiles(dir)) bytes += statSync(seg.path, { throwIfNoEntry: false })?.size ?? 0;
  return bytes;
}

/** Records between two progress reports in a replay: the bar moves within a large segment, at a clock read per 4,096 records. */
const PROGRESS_EVERY = 4096;

export class Journal {
  private segments: Segment[] = [];
  private deleting: Promise<void> = Promise.resolve();
  private current: JournalSegment | undefined;
  /** Records appended and not yet committed, encoded back to back. */
  private pending: Buffer = Buffer.allocUnsafe(64 * RECORD_SIZE);
  private pendingBytes = 0;
  /** The first record of `pending` as a view of its own: commits of one record allocate no view. */
  private first: Buffer = this.pending.subarray(0, RECORD_SIZE);
  private readonly fsync: boolean;
  private mm: MmapAddon | undefined;
  /** Why records are written with write(2) rather than mapped ('' while mmap is in use), and whether that is a fallback from `auto`. */
  ioReason = '';
  ioFallback = false;
  private readonly fs: DurableFs;
  private readonly onIoFallback: (reason: string) => void;
  private readonly segmentBytes: number;
  private readonly reserveBytes: number;

  constructor(private readonly dir: string, options: JournalOptions = {}) {
    this.fsync = options.fsync ?? false;
    this.fs = options.fs ?? nodeFs;
    this.onIoFallback = options.onIoFallback ?? (() => undefined);
    const io = options.io ?? 'auto';
    this.mm = io === 'write' ? undefined : options.mm ?? loadMmap();
    if (io === 'mmap' && this.mm === undefined) {
      throw new Error(`journal_io: mmap needs the native addon (build/Release/privtrak_native.node), which is not loadable (${mmapUnavailableReason()}): run npm install with python3, make and a C compiler, or set journal_io: write`);
    }
    if (io === 'write') this.ioReason = 'journal_io: write';
    else if (this.mm === undefined) {
      this.ioReason = `the native mmap addon is not loadable (${mmapUnavailableReason()})`;
      this.ioFallback = true;
    }
    // 4 MiB (~20,000 records): the written pages of the open segment count in the process RSS until it is unmapped.
    this.segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.reserveBytes = options.reserveBytes ?? 1024 * 1024;
  }

  /** `mmap` or `write`: how this journal stores records. */
  get io(): 'mmap' | 'write' {
    return this.mm === undefined ? 'write' : 'mmap';
  }

  /**
   * Reads every record left by earlier runs, in seq order. Damage is skipped, not fatal: a
   * torn last record (power loss mid-write) is ignored, and after a damaged stretch reading
   * resumes at the next whole record. If a seq appears twice (a failed write that reached the
   * disk in part, then the same seq written again), the later one is the one that counted.
   * Records from before user keys are not read: LegacyDataError (legacy-data.ts).
   * `progress` (unit bytes, total journalBytes) counts records read and damaged stretches skipped.
   */
  replay(progress?: Progress): StatDelta[] {
    mkdirSync(this.dir, { recursive: true });
    this.segments = segmentFiles(this.dir);
    const bySeq = new Map<number, StatDelta>();
    this.damaged = 0;
    let base = 0;
    for (const seg of this.segments) {
      const data = readFileSync(seg.path);
      // A segment is written by one version: one that starts with a current record is current
      // (the full walk is only for a segment that does not: legacy, or damaged at its start).
      if (!isRecordAt(data, 0) && legacyRecordOffsets(data).length > 0) throw new LegacyDataError(seg.path);
      let unreported = 0;
      const { damaged } = scanRecords(data, (off) => {
        const d = decodeRecord(data, off);
        bySeq.delete(d.seq); // re-insert: the later occurrence wins
        bySeq.set(d.seq, d);
        if (progress !== undefined && ++unreported === PROGRESS_EVERY) {
          progress.add(unreported, base + off + RECORD_SIZE);
          unreported = 0;
        }
      });
      this.damaged += damaged;
      base += data.length;
      progress?.add(unreported, base);
      if (damaged > 0) progress?.reject(damaged);
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Damaged stretches skipped by the last replay (not counting a torn last record). */
  damaged = 0;

  /** Starts a new segment for records from `nextSeq` on. Uncommitted records must be committed first. */
  roll(nextSeq: number): void {
    if (this.pendingBytes > 0) throw new Error('journal: roll with uncommitted records');
    if (this.current !== undefined && !this.current.hasRecords) return;
    this.closeCurrent();
    this.open(nextSeq, 0);
  }

  /** Opens the segment for records from `firstSeq` on, with room for at least `bytes`. */
  private open(firstSeq: number, bytes: number): void {
    const path = join(this.dir, `${PREFIX}${String(firstSeq).padStart(16, '0')}${SUFFIX}`);
    if (this.mm !== undefined) {
      try {
        this.current = new MappedSegment(path, this.mm, Math.max(this.segmentBytes, bytes), this.reserveBytes, this.fs);
      } catch (err) {
        if (!mmapUnsupported(err)) throw err;
        this.fallBackToWrite(err);
      }
    }
    if (this.mm === undefined) this.current = new WrittenSegment(path, this.fs);
    // The new file's directory entry must reach the disk as well as its records.
    if (this.fsync) this.fs.fsyncDirSync(this.dir);
    // Reopened after an empty segment of the same name was closed: listed once.
    if (this.segments.at(-1)?.path !== path) this.segments.push({ firstSeq, path });
  }

  /**
   * Mapping or reserving blocks is not supported where the journal lives (a file system without
   * fallocate or shared mappings): write records with write(2) from now on, instead of refusing
   * every announce. A full disk is not this: it stays an error the caller answers.
   */
  private fallBackToWrite(err: unknown): void {
    this.mm = undefined;
    this.ioReason = `mmap journal not supported here (${(err as Error).message}): switched to write(2)`;
    this.ioFallback = true;
    this.onIoFallback(this.ioReason);
  }

  /** Encodes a record into memory; it reaches the file at the next `commit`. */
  append(delta: StatDelta): void {
    if (this.pendingBytes + RECORD_SIZE > this.pending.length) {
      const bigger = Buffer.allocUnsafe(this.pending.length * 2);
      this.pending.copy(bigger, 0, 0, this.pendingBytes);
      this.setPending(bigger);
    }
    encodeRecordInto(delta, this.pending, this.pendingBytes);
    this.pendingBytes += RECORD_SIZE;
  }

  /** Records appended since the last commit. */
  get uncommitted(): number {
    return this.pendingBytes / RECORD_SIZE;
  }

  /**
   * Stores the appended records. On failure (disk full, I/O error) they are dropped, none of
   * them stays in the journal, and the error is thrown: the caller undoes what they recorded.
   * `firstSeq` (the seq of the first appended record) names a segment started on the way.
   * Returns the records stored (a view, valid until the next append).
   */
  commit(firstSeq: number): Buffer {
    if (this.pendingBytes === 0) return EMPTY;
    const bytes = this.pendingBytes;
    this.pendingBytes = 0;
    try {
      if (this.current === undefined) this.open(firstSeq, bytes);
      else if (!this.current.fits(bytes)) {
        this.closeCurrent();
        this.open(firstSeq, bytes);
      }
      const records = bytes === RECORD_SIZE ? this.first : this.pending.subarray(0, bytes);
      try {
        this.current!.append(records);
      } catch (err) {
        if (this.mm === undefined || !mmapUnsupported(err)) throw err;
        // Nothing of this commit was stored: continue in a written segment from its first seq.
        this.fallBackToWrite(err);
        this.closeCurrent();
        this.open(firstSeq, bytes);
        this.current!.append(records);
      }
      if (this.pending.length > 1 << 20) this.setPending(Buffer.allocUnsafe(64 * RECORD_SIZE));
      return records;
    } catch (err) {
      if (this.current?.broken === true) this.abandon(firstSeq);
      throw err;
    }
  }

  /** The segment could not cut a failed write back: continue in a new segment from `firstSeq`. */
  private abandon(firstSeq: number): void {
    try {
      this.closeCurrent();
    } catch {
      this.current = undefined;
    }
    try {
      this.open(firstSeq, 0);
    } catch {
      // The next commit tries again.
    }
  }

  private setPending(buf: Buffer): void {
    this.pending = buf;
    this.first = buf.subarray(0, RECORD_SIZE);
  }

  /** Drops records appended since the last commit (the caller undid them). */
  discard(): void {
    this.pendingBytes = 0;
  }

  /** Makes appended records durable against power loss (only when configured). */
  sync(): void {
    if (this.fsync) this.current?.sync();
  }

  /** Deletes segments whose every record has seq ≤ appliedThrough. The open segment is kept. */
  prune(appliedThrough: number): number {
    const doomed: string[] = [];
    while (this.segments.length > 1 && this.segments[1]!.firstSeq - 1 <= appliedThrough) doomed.push(this.segments.shift()!.path);
    if (doomed.length > 0) this.deleting = this.deleteInOrder(this.deleting, doomed);
    return doomed.length;
  }

  /** Settles when every segment prune() gave up is deleted from disk (shutdown and tests wait for it). */
  get deleted(): Promise<void> {
    return this.deleting;
  }

  /**
   * Deletes segments off the event loop (libuv's thread pool): a checkpoint's prune unlinked dozens
   * of segments in one go, and unlinkSync held every announce for ~60 ms (bench/open-loop.sh,
   * PROFILE=1). Oldest first and one at a time, so a crash leaves the newest segments, without a gap;
   * a leftover older segment is what a crash between checkpoint and prune leaves too, and replay skips
   * records the checkpoint and the sink cover. A failed delete is left for the next start's prune.
   */
  private async deleteInOrder(before: Promise<void>, paths: readonly string[]): Promise<void> {
    await before;
    for (const path of paths) {
      try {
        await unlink(path);
      } catch {
        // Gone already, or not deletable now: nothing to keep track of.
      }
    }
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  close(): void {
    if (this.pendingBytes > 0) throw new Error('journal: close with uncommitted records');
    this.closeCurrent(); // fsyncs the segment first when configured
  }

  private closeCurrent(): void {
    const segment = this.current;
    this.current = undefined;
    segment?.close(this.fsync);
  }
}

/** Errors that say mapping or fallocate is not supported here (as opposed to a full disk or an I/O error). */
const UNSUPPORTED = new Set(['EOPNOTSUPP', 'ENOTSUP', 'ENOSYS', 'ENODEV', 'EINVAL']);

function mmapUnsupported(err: unknown): boolean {
  return UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '');
}
