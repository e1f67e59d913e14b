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
import type { AnnounceEvent } from '../../bittorrent/types.js';
import type { StatDelta } from './delta.js';

const PREFIX = 'journal-';
const SUFFIX = '.ndjson';

interface Segment {
  firstSeq: number;
  path: string;
}

export class Journal {
  private segments: Segment[] = [];
  private fd: number | undefined;
  private currentHasRecords = false;

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
      const text = readFileSync(seg.path, 'utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        try {
          out.push(decodeRecord(line));
        } catch {
          // A torn write at the very end of a segment (power loss): nothing after it exists.
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
    writeSync(this.fd, encodeRecord(delta));
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

export function encodeRecord(d: StatDelta): string {
  const b = d.baseline;
  return `{"s":${d.seq},"u":"${d.user.toString('hex')}","h":"${d.infoHash.toString('hex')}","p":"${d.peerId.toString('hex')}",`
    + `"ip":${JSON.stringify(d.ip)},"po":${d.port},"e":"${d.event}","up":${d.uploaded},"dn":${d.downloaded},"l":${d.left},`
    + `"du":${d.deltaUp},"dd":${d.deltaDown},"st":${d.seedTime},"lt":${d.leechTime},"sn":${d.snatch ? 1 : 0},"f":${d.flags},`
    + `"t":${d.timeMs},"b":${b === null ? 'null' : `[${b.uploaded},${b.downloaded},${b.left},${b.lastMs}]`}}\n`;
}

interface RawRecord {
  s: number; u: string; h: string; p: string; ip: string; po: number; e: AnnounceEvent;
  up: number; dn: number; l: number; du: number; dd: number; st: number; lt: number; sn: number; f: number; t: number;
  b: [number, number, number, number] | null;
}

export function decodeRecord(line: string): StatDelta {
  const r = JSON.parse(line) as RawRecord;
  if (typeof r.s !== 'number' || r.u.length !== 32 || r.h.length !== 40 || r.p.length !== 40) throw new Error('bad journal record');
  return {
    seq: r.s,
    user: Buffer.from(r.u, 'hex'),
    infoHash: Buffer.from(r.h, 'hex'),
    peerId: Buffer.from(r.p, 'hex'),
    ip: r.ip,
    port: r.po,
    event: r.e,
    uploaded: r.up,
    downloaded: r.dn,
    left: r.l,
    deltaUp: r.du,
    deltaDown: r.dd,
    seedTime: r.st,
    leechTime: r.lt,
    snatch: r.sn === 1,
    flags: r.f,
    timeMs: r.t,
    baseline: r.b === null ? null : { uploaded: r.b[0], downloaded: r.b[1], left: r.b[2], lastMs: r.b[3] },
  };
}
