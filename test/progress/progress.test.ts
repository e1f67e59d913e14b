/**
 * The progress reporter with a hand-moved clock and recorded outputs: how often it draws or logs
 * however often the work calls it, what the bar, the periodic lines and the summary say.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { Progress, type ProgressFields, type ProgressOptions } from '../../src/progress/progress.js';
import { formatBytes, formatDuration } from '../../src/progress/format.js';

function recorder(options: Partial<Omit<ProgressOptions, 'tty'>> & { tty?: boolean; columns?: number } = {}) {
  const clock = new ManualClock(1_000);
  const frames: string[] = [];
  const lines: Array<{ line: string; fields: ProgressFields }> = [];
  const { tty, columns, ...rest } = options;
  const progress = new Progress({
    task: 'users import', rowsName: 'users', ...rest, clock,
    log: (line, fields) => lines.push({ line, fields }),
    tty: tty ? { write: (t) => frames.push(t), columns } : undefined,
  });
  return { clock, frames, lines, progress };
}

describe('Progress on a terminal', () => {
  it('redraws one line at most 10 times a second however often the work calls it, then clears it for the summary', () => {
    const { clock, frames, lines, progress } = recorder({ tty: true, total: 10_000 });
    for (let i = 0; i < 10_000; i++) {
      progress.add();
      if (i % 10 === 9) clock.advance(1); // 1,000 rows a second of clock
    }
    // 1 s of work: a frame every 100 ms at most.
    assert.ok(frames.length >= 9 && frames.length <= 10, `${frames.length} frames`);
    for (const f of frames) assert.match(f, /^\r.*\x1b\[K$/);
    assert.equal(lines.length, 0, 'no log lines while a terminal shows the bar');
    // At 500 ms: half the total, 10,000 rows a second, half a second to go.
    assert.equal(frames[4], '\rusers import  [##########----------]   50%  5,001 users  10,002/s  ETA 0.5 s\x1b[K');
    const summary = progress.finish();
    assert.equal(frames.at(-1), '\r\x1b[K', 'the bar is erased before the summary');
    assert.deepEqual(lines.map((l) => l.line), ['users import: 10,000 users in 1.0 s (10,000 users/s), 0 rejected']);
    assert.equal(summary.rows, 10_000);
  });

  it('never draws a line as wide as the terminal (it would wrap and \\r would redraw only its tail)', () => {
    const { clock, frames, progress } = recorder({ tty: true, columns: 40, unit: 'bytes', total: 4 << 20, rowsName: 'records' });
    clock.advance(200);
    progress.add(5_000, 1 << 20);
    assert.equal(frames.length, 1);
    const whole = 'users import  [#####---------------]   25%  1.0 MiB/4.0 MiB  5,000 records  25,000/s  ETA 0.6 s';
    assert.equal(frames[0], `\r${whole.slice(0, 39)}\x1b[K`);
  });

  it('erases the bar and writes no summary when the work fails; a total known late counts from then on', () => {
    const { clock, frames, lines, progress } = recorder({ tty: true, columns: 0 });
    clock.advance(100);
    progress.add(10);
    assert.equal(frames[0], '\rusers import  10 users  100/s  0.1 s\x1b[K', 'no total: rows, rate, time so far');
    progress.setTotal(40);
    clock.advance(100);
    progress.add(10);
    assert.equal(frames[1], '\rusers import  [##########----------]   50%  20 users  100/s  ETA 0.2 s\x1b[K');
    progress.abandon();
    assert.equal(frames.at(-1), '\r\x1b[K');
    progress.finish();
    assert.deepEqual(lines, [], 'the error says why, not a summary');
  });

  it('shows only the summary for work shorter than a frame', () => {
    const { frames, lines, progress } = recorder({ tty: true });
    progress.add(3);
    progress.finish();
    assert.deepEqual(frames, [], 'nothing to erase');
    assert.equal(lines.length, 1);
  });
});

describe('Progress in logs', () => {
  it('logs a line every 5 s of work, not per row, and counts rejects apart from rows', () => {
    const { clock, lines, progress } = recorder();
    // 60 s of work, a row every 10 ms, every 1000th row malformed.
    for (let i = 1; i <= 6_000; i++) {
      clock.advance(10);
      if (i % 1000 === 0) progress.reject();
      else progress.add();
    }
    const periodic = lines.map((l) => l.line);
    assert.equal(periodic.length, 12, periodic.join('\n'));
    assert.equal(periodic[0], 'users import: 500 users, 100 users/s, 5.0 s so far', 'no total: rows, rate and time so far');
    assert.equal(periodic[1], 'users import: 999 users, 100 users/s, 1 rejected, 10 s so far');
    progress.finish();
    assert.equal(lines.at(-1)!.line, 'users import: 5,994 users in 1 min 00 s (100 users/s), 6 rejected');
    assert.deepEqual({ ...lines.at(-1)!.fields, rate: Math.round(lines.at(-1)!.fields.rate) },
      { task: 'users import', rows: 5_994, rejects: 6, elapsedMs: 60_000, rate: 100, done: 5_994, total: undefined, etaMs: undefined });
  });

  it('with a total in bytes: the share of the input read and the time left, rows counted apart', () => {
    const { clock, lines, progress } = recorder({ task: 'journal replay', rowsName: 'records', rejectsName: 'damaged', unit: 'bytes', total: 10 << 20 });
    clock.advance(5_000);
    progress.add(40_000, 2 << 20);
    assert.equal(lines[0]!.line, 'journal replay: 20% (2.0 MiB of 10.0 MiB), 40,000 records, 8,000 records/s, ETA 20 s');
    assert.equal(lines[0]!.fields.etaMs, 20_000);
    progress.reject(2);
    clock.advance(20_000);
    progress.add(160_000, 10 << 20);
    progress.finish();
    assert.equal(lines.at(-1)!.line, 'journal replay: 200,000 records in 25 s (8,000 records/s), 2 damaged');
  });

  it('writes its summary once, and nothing after it', () => {
    const { clock, lines, progress } = recorder();
    progress.finish();
    clock.advance(60_000);
    progress.add();
    progress.finish();
    assert.deepEqual(lines.map((l) => l.line), ['users import: 0 users in 0.0 s, 0 rejected']);
  });

  it('a heartbeat keeps lines coming while the work waits on I/O, and stops with the summary', async () => {
    const lines: string[] = [];
    const progress = new Progress({ task: 'wait', log: (l) => lines.push(l), logEveryMs: 5 }).heartbeat();
    const start = Date.now();
    while (lines.length < 2 && Date.now() - start < 5_000) await new Promise((r) => setTimeout(r, 5));
    assert.ok(lines.length >= 2, 'periodic lines with no call from the work');
    progress.finish();
    const n = lines.length;
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(lines.length, n, 'the heartbeat stopped');
  });
});

describe('progress formats', () => {
  it('bytes and durations', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
    assert.equal(formatDuration(420), '0.4 s');
    assert.equal(formatDuration(185_000), '3 min 05 s');
    assert.equal(formatDuration(2 * 3600_000 + 7 * 60_000), '2 h 07 min');
  });
});
