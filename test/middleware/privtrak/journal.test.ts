import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Journal } from '../../../src/middleware/privtrak/journal.js';
import { mmapOrSkip } from '../../support/native.js';
import { RECORD_SIZE, encodeRecord } from '../../../src/accounting/delta-record.js';
import { delta } from '../../support/deltas.js';
import { RecordingFs } from '../../support/recording-fs.js';


describe('journal', () => {
  it('skips a damaged stretch and resumes at the next whole record; a seq written twice counts once, the later copy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-journal-'));
    try {
      const seg = join(dir, 'journal-0000000000000001.bin');
      // 1, 2, garbage, the first half of a record, 3, then seq 3 again with other content (a retried write).
      writeFileSync(seg, Buffer.concat([
        encodeRecord(delta(1)), encodeRecord(delta(2)), Buffer.from('garbage!'), encodeRecord(delta(9)).subarray(0, 90),
        encodeRecord(delta(3, { deltaUp: 1 })), encodeRecord(delta(3, { deltaUp: 2 })),
      ]));
      const j = new Journal(dir);
      const out = j.replay();
      assert.deepEqual(out.map((d) => d.seq), [1, 2, 3]);
      assert.equal(out[2]!.deltaUp, 2, 'the later copy of seq 3');
      assert.equal(j.damaged, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

for (const io of ['write', 'mmap'] as const) {
  describe(`journal segments, journal_io: ${io}`, () => {
    it(`replays records across segments in seq order, ignores a torn last line, prunes applied segments (${io})`, async (t) => {
      if (io === 'mmap' && mmapOrSkip(t) === undefined) return;
      const dir = mkdtempSync(join(tmpdir(), 'privtrak-journal-'));
      try {
        const j = new Journal(dir, { io });
        assert.deepEqual(j.replay(), []);
        j.roll(1);
        j.append(delta(1));
        j.append(delta(2));
        assert.equal(j.uncommitted, 2);
        assert.throws(() => j.roll(3), /uncommitted/, 'records are never split from their group by a roll');
        j.commit(1);
        assert.equal(j.uncommitted, 0);
        j.roll(3);
        j.roll(3); // nothing written yet: no empty segment piles up
        j.append(delta(3));
        j.commit(3);
        j.close();
        assert.equal(readdirSync(dir).length, 2);
        appendFileSync(join(dir, readdirSync(dir).sort()[1]!), encodeRecord(delta(4)).subarray(0, 100));
        const again = new Journal(dir, { io });
        assert.deepEqual(again.replay().map((d) => d.seq), [1, 2, 3]);
        assert.equal(again.damaged, 0, 'a torn tail is not damage');
        again.roll(4);
        again.append(delta(4));
        again.commit(4);
        assert.equal(again.prune(1), 0, 'segment 1-2 still holds seq 2');
        assert.equal(again.prune(2), 1);
        assert.equal(again.prune(4), 1, 'the open segment is kept');
        assert.equal(again.segmentCount, 1);
        await again.deleted;
        assert.equal(readdirSync(dir).length, 1, 'the pruned segments are deleted from disk');
        again.close();
        assert.deepEqual(new Journal(dir, { io }).replay().map((d) => d.seq), [4]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`writes nothing before commit, and drops what discard() drops (${io})`, (t) => {
      if (io === 'mmap' && mmapOrSkip(t) === undefined) return;
      const dir = mkdtempSync(join(tmpdir(), 'privtrak-journal-'));
      try {
        const j = new Journal(dir, { io });
        j.replay();
        j.roll(1);
        for (let s = 1; s <= 100; s++) j.append(delta(s)); // grows its buffer past the initial 64 records
        // Read by a second journal while the first is open: what a restart after kill -9 would see.
        assert.equal(new Journal(dir, { io }).replay().length, 0, 'appends stay in memory');
        j.commit(1);
        assert.equal(new Journal(dir, { io }).replay().length, 100, 'committed: in the file (page cache)');
        j.append(delta(101));
        j.discard();
        j.close();
        const seqs = new Journal(dir, { io }).replay().map((d) => d.seq);
        assert.equal(seqs.length, 100);
        assert.equal(seqs[99], 100);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('journal durability', () => {
  for (const io of ['write', 'mmap'] as const) {
    it(`with fsync on, fsyncs each segment before it is closed (roll, close) and the directory when one is created (${io})`, (t) => {
      if (io === 'mmap' && mmapOrSkip(t) === undefined) return;
      const dir = mkdtempSync(join(tmpdir(), 'privtrak-journal-'));
      try {
        const fs = new RecordingFs();
        const j = new Journal(dir, { io, fsync: true, fs });
        j.replay();
        j.roll(1);
        j.append(delta(1));
        j.commit(1);
        j.sync(); // what the flusher does before each batch
        j.roll(2);
        j.append(delta(2));
        j.commit(2);
        j.close();
        const first = 'journal-0000000000000001.bin';
        const second = 'journal-0000000000000002.bin';
        assert.deepEqual(fs.calls, [
          `fsyncdir ${basename(dir)}`, // segment 1 created
          `fsync ${first}`, // before a flush
          `fsync ${first}`, `close ${first}`, // rolled
          `fsyncdir ${basename(dir)}`, // segment 2 created
          `fsync ${second}`, `close ${second}`, // closed at shutdown
        ]);
        // Without fsync: closes only.
        const quiet = new RecordingFs();
        const k = new Journal(dir, { io, fs: quiet });
        k.replay();
        k.roll(3);
        k.append(delta(3));
        k.commit(3);
        k.sync();
        k.close();
        assert.deepEqual(quiet.calls, ['close journal-0000000000000003.bin']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('switches to write(2) when the file system cannot reserve blocks (fallocate unsupported), refusing nothing and losing nothing', (t) => {
    const real = mmapOrSkip(t);
    if (real === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-journal-'));
    try {
      let allocations = 0;
      const fallocateFails = {
        ...real,
        allocate(fd: number, offset: number, length: number) {
          // The first reservation works; then the file system says it cannot (as some network and FUSE file systems do).
          if (++allocations > 1) throw Object.assign(new Error('fallocate failed (errno -95)'), { code: 'EOPNOTSUPP' });
          real.allocate(fd, offset, length);
        },
      };
      const reasons: string[] = [];
      const j = new Journal(dir, { io: 'mmap', mm: fallocateFails, reserveBytes: 4096, onIoFallback: (r) => reasons.push(r) });
      j.replay();
      j.roll(1);
      assert.equal(j.io, 'mmap');
      let seq = 0;
      for (let group = 0; group < 10; group++) {
        const first = seq + 1;
        for (let i = 0; i < 7; i++) j.append(delta(++seq));
        j.commit(first); // 7 records: the second 4 KiB reservation comes in the 3rd group
      }
      assert.equal(j.io, 'write');
      assert.equal(reasons.length, 1);
      assert.match(reasons[0]!, /fallocate failed.*switched to write/);
      assert.match(j.ioReason, /switched to write/);
      j.close();
      const again = new Journal(dir, { io: 'write' });
      assert.deepEqual(again.replay().map((d) => d.seq), Array.from({ length: seq }, (_, i) => i + 1), 'every record, before and after the switch');
      assert.equal(again.damaged, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
