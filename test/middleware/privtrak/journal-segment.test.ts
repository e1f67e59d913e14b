import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../../src/middleware/privtrak/journal.js';
import { MappedSegment } from '../../../src/middleware/privtrak/journal-segment.js';
import { RECORD_SIZE, clearTrailers, encodeRecord, isRecordAt, scanRecords, writeTrailers } from '../../../src/accounting/delta-record.js';
import type { StatDelta } from '../../../src/accounting/delta.js';
import { mmapOrSkip } from '../../support/native.js';
import { nodeFs } from '../../../src/durable-fs.js';

function delta(seq: number): StatDelta {
  return {
    seq, user: Buffer.alloc(16, 0xab), infoHash: Buffer.alloc(20, seq & 0xff), peerId: Buffer.from('-qB4520-kQyTIjZChReA'),
    ip: '10.0.0.1', port: 51413, event: 'none', uploaded: seq * 1000, downloaded: 7, left: 0, deltaUp: seq, deltaDown: 0,
    creditUp: seq, creditDown: 0, siteTorrentId: null, seedTime: 60, leechTime: 0, snatch: false, flags: 0,
    timeMs: 1_700_000_000_000 + seq, baseline: { uploaded: seq * 1000, downloaded: 7, left: 0, lastMs: 1 },
  };
}

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-segment-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('journal records: trailers written last', () => {
  it('a record without its trailer is not a record; the trailer makes it one', () => {
    const buf = Buffer.concat([encodeRecord(delta(1)), encodeRecord(delta(2)), Buffer.alloc(4096)]);
    assert.equal(scanRecords(buf).end, 2 * RECORD_SIZE, 'zeros after the records are not records');
    clearTrailers(buf, 0, 2 * RECORD_SIZE);
    assert.ok(!isRecordAt(buf, 0) && !isRecordAt(buf, RECORD_SIZE), 'a copy cut short before its trailer is invisible');
    assert.equal(scanRecords(buf).end, 0);
    writeTrailers(buf, 0, 2 * RECORD_SIZE);
    assert.ok(isRecordAt(buf, 0) && isRecordAt(buf, RECORD_SIZE));
  });
});

describe('journal without the native addon', () => {
  it('falls back to write(2) under journal_io: auto, and refuses journal_io: mmap with a reason', () => {
    withDir((dir) => {
      const journalUrl = JSON.stringify(new URL('../../../src/middleware/privtrak/journal.js', import.meta.url).href);
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
        const { Journal } = await import(${journalUrl});
        console.log(new Journal(${JSON.stringify(dir)}).io);
        try { new Journal(${JSON.stringify(dir)}, { io: 'mmap' }); } catch (err) { console.log(err.message); }
      `], { env: { ...process.env, PRIVTRAK_NO_NATIVE: '1' } });
      const [io, refusal] = child.stdout.toString().trim().split('\n');
      assert.equal(io, 'write', child.stderr.toString());
      assert.match(refusal ?? '', /journal_io: mmap needs the native addon .* not loadable \(PRIVTRAK_NO_NATIVE=1\)/);
    });
  });
});

describe('mapped journal segments', () => {
  it('records committed through the mapping survive kill -9 of the process (page cache), a reserved zero tail is skipped', (t) => {
    if (mmapOrSkip(t) === undefined) return;
    withDir((dir) => {
      // A child commits 500 records in 50 groups, then is killed without closing anything.
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
        const { Journal } = await import(${JSON.stringify(new URL('../../../src/middleware/privtrak/journal.js', import.meta.url).href)});
        const j = new Journal(${JSON.stringify(dir)}, { io: 'mmap' });
        j.replay();
        j.roll(1);
        const d = (seq) => ({ seq, user: Buffer.alloc(16, 1), infoHash: Buffer.alloc(20, 2), peerId: Buffer.alloc(20, 3), ip: '10.0.0.1',
          port: 1, event: 'none', uploaded: seq, downloaded: 0, left: 0, deltaUp: 1, deltaDown: 0, creditUp: 1, creditDown: 0,
          siteTorrentId: null, seedTime: 0, leechTime: 0, snatch: false, flags: 0, timeMs: 1, baseline: null });
        for (let g = 0; g < 50; g++) { for (let i = 1; i <= 10; i++) j.append(d(g * 10 + i)); j.commit(g * 10 + 1); }
        process.kill(process.pid, 'SIGKILL');
      `]);
      assert.equal(child.signal, 'SIGKILL', child.stderr.toString());
      const files = readdirSync(dir);
      assert.equal(files.length, 1);
      assert.ok(statSync(join(dir, files[0]!)).size >= 1024 * 1024, 'blocks reserved ahead: the file ends in zeros');
      const j = new Journal(dir, { io: 'mmap' });
      const seqs = j.replay().map((d) => d.seq);
      assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i + 1));
      assert.equal(j.damaged, 0, 'the zero tail is not damage');
    });
  });

  it('starts a new segment, named by the first seq of the group, when a group does not fit; a group larger than a segment gets one of its size', (t) => {
    if (mmapOrSkip(t) === undefined) return;
    withDir((dir) => {
      const j = new Journal(dir, { io: 'mmap', segmentBytes: 4096, reserveBytes: 4096 }); // 19 records a segment
      j.replay();
      j.roll(1);
      let seq = 0;
      for (const size of [7, 7, 7, 3, 40, 1]) {
        const first = seq + 1;
        for (let i = 0; i < size; i++) j.append(delta(++seq));
        assert.equal(j.commit(first).length, size * RECORD_SIZE);
      }
      j.close();
      // 7+7 | 7+3 | 40 | 1 (the 40 did not fit after 10 and needed 8,320 bytes)
      assert.deepEqual(readdirSync(dir).sort().map((f) => Number(f.slice(8, -4))), [1, 15, 25, 65]);
      for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).size % RECORD_SIZE, 0, 'closed segments are trimmed to their records');
      const again = new Journal(dir, { io: 'mmap' });
      assert.deepEqual(again.replay().map((d) => d.seq), Array.from({ length: seq }, (_, i) => i + 1));
      assert.equal(again.damaged, 0);
    });
  });

  it('a segment reopened after a crash continues after its last whole record, overwriting a torn one', (t) => {
    const mm = mmapOrSkip(t);
    if (mm === undefined) return;
    withDir((dir) => {
      const path = join(dir, 'journal-0000000000000001.bin');
      const torn = encodeRecord(delta(3)).subarray(0, 150);
      writeFileSync(path, Buffer.concat([encodeRecord(delta(1)), encodeRecord(delta(2)), torn, Buffer.alloc(8192 - 2 * RECORD_SIZE - 150)]));
      const seg = new MappedSegment(path, mm, 16384, 4096, nodeFs);
      assert.ok(seg.hasRecords);
      const rec = encodeRecord(delta(3));
      seg.append(rec);
      seg.close(false);
      const data = readFileSync(path);
      assert.equal(data.length, 3 * RECORD_SIZE, 'trimmed after the third record');
      assert.deepEqual(new Journal(dir).replay().map((d) => d.seq), [1, 2, 3]);
    });
  });

  it('unmapping detaches the buffer: a later access reads nothing instead of faulting', (t) => {
    const mm = mmapOrSkip(t);
    if (mm === undefined) return;
    withDir((dir) => {
      const path = join(dir, 'm.bin');
      writeFileSync(path, Buffer.alloc(4096, 7));
      const handle = openSync(path, 'r+');
      const ab = mm.map(handle, 4096);
      const view = Buffer.from(ab);
      const [major, minor] = release().split('.').map(Number);
      // MADV_POPULATE_WRITE exists since Linux 5.14; before, populate is a no-op that says so.
      assert.equal(mm.populate(ab, 0, 4096), major! > 5 || (major === 5 && minor! >= 14));
      assert.throws(() => mm.populate(ab, 0, 8192), /a range of the mapping/);
      assert.equal(view[100], 7);
      view[100] = 9;
      mm.unmap(ab);
      assert.equal(view.length, 0);
      assert.equal(view[100], undefined);
      mm.unmap(ab); // twice: a no-op
      closeSync(handle);
      assert.equal(readFileSync(path)[100], 9, 'the store went to the file');
      assert.throws(() => mm.allocate(handle, 0, 4096), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
    });
  });
});
