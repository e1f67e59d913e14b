/**
 * Progress of long operator work (a million-row `users import`, journal replay, `recover`,
 * `migrate`): a bar redrawn in place when a terminal is watching, a line every few seconds in
 * the logs otherwise, and always a one-line summary at the end (rows, time, rejects).
 *
 * The work calls `add` as it goes, often from a synchronous loop: `add` only counts and reads the
 * clock, and writes nothing until `redrawMs` (bar) or `logEveryMs` (lines) has passed since the
 * last output, so a million calls draw ~10 frames a second or one line every 5 s, never a flood.
 * Work shorter than that shows only its summary. The clock and both outputs are injected: tests
 * drive it with a ManualClock and read what it wrote.
 */
import type { Clock } from '../clock.js';
import { formatBar, formatBytes, formatCount, formatDuration } from './format.js';

/** What a progress line says, as fields (pino logs them next to the line). */
export interface ProgressFields {
  readonly task: string;
  readonly rows: number;
  readonly rejects: number;
  readonly elapsedMs: number;
  /** Rows per second since the start. */
  readonly rate: number;
  /** Where the work stands, in the unit of `total` (rows, or bytes of input). */
  readonly done: number;
  readonly total?: number;
  readonly etaMs?: number;
}

/** A terminal: the bar is redrawn over itself with \r, so it must never be wider than a line. */
export interface TtyOutput {
  write(text: string): unknown;
  readonly columns?: number;
}

export interface ProgressOptions {
  /** What is being done, first on every line: "users import", "journal replay". */
  readonly task: string;
  /** What `total` and positions count: rows (default), or bytes of input (rows are then counted apart). */
  readonly unit?: 'rows' | 'bytes';
  /** Rows, or bytes with unit 'bytes'; left out when counting it would cost real work: rows and rate only. */
  readonly total?: number;
  /** The rows' name on every line ("users", "records"); default "rows". */
  readonly rowsName?: string;
  /** What a reject is called in the summary ("rejected", "damaged"); default "rejected". */
  readonly rejectsName?: string;
  /** Where periodic lines (without a terminal) and the summary go. */
  readonly log: (line: string, fields: ProgressFields) => void;
  /** The terminal to draw the bar on; undefined: periodic lines in `log` instead. */
  readonly tty?: TtyOutput;
  /** Default: performance.now() (monotonic: a clock step must not make a negative rate). */
  readonly clock?: Clock;
  /** Least time between two frames of the bar (default 100 ms: ~10 a second). */
  readonly redrawMs?: number;
  /** Least time between two periodic lines (default 5 s). */
  readonly logEveryMs?: number;
}

const MONOTONIC: Clock = { nowMs: () => performance.now() };
const BAR_CELLS = 20;
/** Erases from the cursor to the end of the line (ECMA-48 EL). */
const CLEAR_EOL = '\x1b[K';

export class Progress {
  private rows = 0;
  private rejects = 0;
  private position = 0;
  private readonly clock: Clock;
  private readonly startMs: number;
  private lastShownMs: number;
  private readonly everyMs: number;
  private drawn = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly rowsName: string;
  private total: number | undefined;

  constructor(private readonly o: ProgressOptions) {
    this.total = o.total;
    this.clock = o.clock ?? MONOTONIC;
    this.startMs = this.clock.nowMs();
    this.lastShownMs = this.startMs;
    this.everyMs = o.tty !== undefined ? o.redrawMs ?? 100 : o.logEveryMs ?? 5000;
    this.rowsName = o.rowsName ?? 'rows';
  }

  /** The total, once known (e.g. rows, after a file was read). */
  setTotal(total: number): void {
    this.total = total;
  }

  /** `rows` more done; with unit 'bytes', `position` is how far into the input the work now is. */
  add(rows = 1, position?: number): void {
    this.rows += rows;
    if (position !== undefined) this.position = position;
    this.tick();
  }

  /** `n` rows refused (malformed, damaged): counted in the summary, not in the rows. */
  reject(n = 1): void {
    this.rejects += n;
    this.tick();
  }

  /** Shows where the work stands if it is time to. */
  tick(): void {
    if (this.finished) return;
    const now = this.clock.nowMs();
    if (now - this.lastShownMs < this.everyMs) return;
    this.lastShownMs = now;
    const f = this.fields(now);
    if (this.o.tty !== undefined) {
      this.o.tty.write(`\r${this.barLine(f)}${CLEAR_EOL}`);
      this.drawn = true;
    } else {
      this.o.log(this.periodicLine(f), f);
    }
  }

  /**
   * Keeps the output moving while the work waits on I/O (a database query, a transaction) and so
   * calls nothing: a timer that does not hold the process open, stopped by `finish`.
   */
  heartbeat(): this {
    this.timer ??= setInterval(() => this.tick(), this.everyMs).unref();
    return this;
  }

  /** The work failed (its error says so): clears the bar and stops, with no summary. */
  abandon(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.drawn) this.o.tty?.write(`\r${CLEAR_EOL}`);
  }

  /** Clears the bar and writes the summary (once); returns its fields. */
  finish(): ProgressFields {
    const f = this.fields(this.clock.nowMs());
    if (this.finished) return f;
    this.finished = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.drawn) this.o.tty?.write(`\r${CLEAR_EOL}`);
    this.o.log(this.summaryLine(f), f);
    return f;
  }

  private fields(now: number): ProgressFields {
    const elapsedMs = now - this.startMs;
    const done = this.o.unit === 'bytes' ? this.position : this.rows;
    const rate = elapsedMs > 0 ? (this.rows * 1000) / elapsedMs : 0;
    const total = this.total;
    const etaMs = total !== undefined && done > 0 && elapsedMs > 0 ? (Math.max(0, total - done) * elapsedMs) / done : undefined;
    return { task: this.o.task, rows: this.rows, rejects: this.rejects, elapsedMs, rate, done, total, etaMs };
  }

  private amount(n: number): string {
    return this.o.unit === 'bytes' ? formatBytes(n) : formatCount(n);
  }

  /** `journal replay [#####---------------]  25% 1.0 MiB/4.0 MiB  5,000 records  2,500/s  ETA 6.0 s`, cut to the terminal's width. */
  private barLine(f: ProgressFields): string {
    const parts = [f.task];
    if (f.total !== undefined && f.total > 0) {
      const frac = Math.min(1, f.done / f.total);
      parts.push(formatBar(frac, BAR_CELLS), `${String(Math.floor(frac * 100)).padStart(3)}%`);
      if (this.o.unit === 'bytes') parts.push(`${formatBytes(f.done)}/${formatBytes(f.total)}`);
    }
    parts.push(`${formatCount(f.rows)} ${this.rowsName}`, `${formatCount(f.rate)}/s`);
    if (f.rejects > 0) parts.push(`${formatCount(f.rejects)} ${this.o.rejectsName ?? 'rejected'}`);
    parts.push(f.etaMs !== undefined ? `ETA ${formatDuration(f.etaMs)}` : formatDuration(f.elapsedMs));
    // One cell short of the width: a line that fills the last column wraps on some terminals, and \r then redraws only its tail.
    // A terminal that reports no width (0: a pty nobody sized) counts as the classic 80.
    const columns = this.o.tty?.columns || 80;
    return parts.join('  ').slice(0, Math.max(20, columns - 1));
  }

  /** `journal replay: 25% (1.0 MiB of 4.0 MiB), 5,000 records, 2,500 records/s, ETA 6.0 s`. */
  private periodicLine(f: ProgressFields): string {
    const where = f.total !== undefined && f.total > 0
      ? `${Math.floor(Math.min(1, f.done / f.total) * 100)}% (${this.amount(f.done)} of ${this.amount(f.total)}), ` : '';
    const rejects = f.rejects > 0 ? `, ${formatCount(f.rejects)} ${this.o.rejectsName ?? 'rejected'}` : '';
    const when = f.etaMs !== undefined ? `ETA ${formatDuration(f.etaMs)}` : `${formatDuration(f.elapsedMs)} so far`;
    return `${f.task}: ${where}${formatCount(f.rows)} ${this.rowsName}, ${formatCount(f.rate)} ${this.rowsName}/s${rejects}, ${when}`;
  }

  /** `users import: 3,000 users in 0.4 s (7,500 users/s), 7 rejected`. */
  private summaryLine(f: ProgressFields): string {
    const rate = f.elapsedMs > 0 ? ` (${formatCount(f.rate)} ${this.rowsName}/s)` : '';
    return `${f.task}: ${formatCount(f.rows)} ${this.rowsName} in ${formatDuration(f.elapsedMs)}${rate}, ${formatCount(f.rejects)} ${this.o.rejectsName ?? 'rejected'}`;
  }
}
