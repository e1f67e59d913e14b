/**
 * One journal segment file, and the two ways records reach it.
 *
 * - `MappedSegment` (the default where the native addon is built): the file is memory-mapped
 *   (MAP_SHARED) and a commit is a memory copy into the page cache, no system call. Records in the
 *   page cache survive the process being killed exactly like records handed to write(2): the
 *   kernel owns those pages. Under HTTP with connection close every announce is its own commit,
 *   and the write(2) per announce was most of the privtrak hook's cost there (BENCHMARKS.md).
 *   Disk blocks are reserved ahead with fallocate in steps, so a full disk is an error at commit
 *   (the group is refused, nothing counted) and never a SIGBUS on first touch of a page. A segment
 *   has a fixed capacity; the journal starts the next one when a commit does not fit.
 * - `WrittenSegment`: one write(2) per commit, appended to the file (`journal_io: write`, or when
 *   the addon is missing).
 *
 * Both guarantee that a failed commit leaves no partial record behind, and that a reader never
 * takes a half-copied record for a whole one (the trailer of each record is written last).
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { MmapAddon } from '../../native/mmap.js';
import type { DurableFs } from '../../durable-fs.js';
import { clearTrailers, scanRecords, writeTrailers } from '../../accounting/delta-record.js';

export interface JournalSegment {
  readonly path: string;
  /** Whether the segment holds at least one record. */
  readonly hasRecords: boolean;
  /** A failed append could not be undone: the segment may end in a partial record and takes no more. */
  readonly broken: boolean;
  /** Whether `bytes` more can be appended (a mapped segment has a fixed capacity). */
  fits(bytes: number): boolean;
  /** Appends `records` (whole records). Throws if they cannot all be stored, leaving none of them. */
  append(records: Buffer): void;
  /** Makes the stored records durable against power loss (fsync). */
  sync(): void;
  /** Closes the file; with `sync`, fsyncs it first (what a roll or a shutdown with journal_fsync does). */
  close(sync: boolean): void;
}

const PAGE = 4096;
const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/** Appends with write(2). */
export class WrittenSegment implements JournalSegment {
  private readonly fd: number;
  /** Bytes known written: a failed write is cut back to this. */
  private size: number;
  hasRecords = false;
  broken = false;

  constructor(readonly path: string, private readonly fs: DurableFs) {
    this.fd = openSync(path, 'a');
    this.size = fstatSync(this.fd).size;
  }

  fits(): boolean {
    return true;
  }

  append(records: Buffer): void {
    if (this.broken) throw new Error('journal segment abandoned after a failed write');
    const bytes = records.length;
    let done = 0;
    try {
      while (done < bytes) done += writeSync(this.fd, records, done, bytes - done);
    } catch (err) {
      // No partial record may stay, or every later record would be misread. If the cut fails too,
      // the journal abandons this segment (it throws on).
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        this.broken = true;
      }
      throw err;
    }
    this.size += bytes;
    this.hasRecords = true;
  }

  sync(): void {
    this.fs.fsyncSync(this.fd, this.path);
  }

  close(sync: boolean): void {
    try {
      if (sync) this.sync();
    } finally {
      this.fs.closeSync(this.fd, this.path);
    }
  }
}

/** Copies into a shared memory mapping of the file. */
export class MappedSegment implements JournalSegment {
  private readonly fd: number;
  private readonly mapping: ArrayBuffer;
  private readonly map: Buffer;
  /** Where the next record goes. */
  private pos: number;
  /** Bytes of the file with disk blocks reserved (the file's size). */
  private allocated: number;
  hasRecords = false;
  /** A copy into memory cannot half-fail: a failed commit (no disk blocks) stores nothing. */
  readonly broken = false;

  /**
   * `capacity`: the bytes mapped (address space; pages count in memory only once written).
   * `step`: how far ahead disk blocks are reserved.
   */
  constructor(readonly path: string, private readonly mm: MmapAddon, readonly capacity: number, private readonly step: number, private readonly fs: DurableFs) {
    this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      this.allocated = fstatSync(this.fd).size;
      // A segment left by a crash (records, then reserved zeros) is continued after its last whole record.
      this.pos = this.allocated === 0 ? 0 : scanRecords(readFileSync(path)).end;
      this.hasRecords = this.pos > 0;
      this.capacity = Math.max(capacity, roundUp(this.allocated, PAGE));
      this.mapping = mm.map(this.fd, this.capacity);
      this.map = Buffer.from(this.mapping);
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  fits(bytes: number): boolean {
    return this.pos + bytes <= this.capacity;
  }

  append(records: Buffer): void {
    const bytes = records.length;
    const at = this.pos;
    const end = at + bytes;
    if (end > this.capacity) throw new Error('journal segment full');
    if (end > this.allocated) this.reserve(end);
    clearTrailers(records, 0, bytes);
    this.map.set(records, at);
    writeTrailers(this.map, at, bytes);
    writeTrailers(records, 0, bytes);
    this.pos = end;
    this.hasRecords = true;
  }

  /** Reserves blocks up to at least `end`: a step ahead if the disk has room, else just enough. */
  private reserve(end: number): void {
    const from = this.allocated;
    const wanted = Math.min(this.capacity, Math.max(roundUp(end, PAGE), from + this.step));
    try {
      this.mm.allocate(this.fd, from, wanted - from);
      this.allocated = wanted;
    } catch (err) {
      if (wanted <= roundUp(end, PAGE)) throw err;
      const just = roundUp(end, PAGE);
      this.mm.allocate(this.fd, from, just - from);
      this.allocated = just;
    }
    // One call maps the reserved pages, instead of a page fault on every 20th announce's copy.
    this.mm.populate(this.mapping, from, this.allocated - from);
  }

  sync(): void {
    // On Linux fsync writes back the file's dirty page-cache pages, those written through the mapping included.
    this.fs.fsyncSync(this.fd, this.path);
  }

  close(sync: boolean): void {
    this.mm.unmap(this.mapping);
    try {
      // The reserved tail holds no records: trim it (replay would skip it, but it is wasted disk).
      ftruncateSync(this.fd, this.pos);
      if (sync) this.sync();
    } finally {
      this.fs.closeSync(this.fd, this.path);
    }
  }
}
