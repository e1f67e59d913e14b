/**
 * Start-up restore and `privtrak recover`: a damaged checkpoint stops the start with the file's
 * name and what to do; recovery rebuilds it from the previous checkpoint and the journal with
 * nothing lost; checkpoints are written in an order that survives a power loss; one process per
 * journal directory.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { recoverState } from '../../../src/middleware/privtrak/recovery.js';
import { CHECKPOINT_FILE, CheckpointDamagedError, PREVIOUS_CHECKPOINT_FILE } from '../../../src/middleware/privtrak/checkpoint.js';
import { DirLockedError } from '../../../src/middleware/privtrak/dir-lock.js';
import type { PrivtrakHook } from '../../../src/middleware/privtrak/privtrak-hook.js';
import { MemorySink } from '../../support/memory-sink.js';
import { RecordingFs } from '../../support/recording-fs.js';
import { PASSKEY_A, PASSKEY_B, announce, byHex, makeHook, removeHookDirs, req, settle, totalsOf } from '../../support/hook-driver.js';

afterEach(removeHookDirs);

/** Flips one byte in the middle of a file (an entry of a checkpoint: only the checksum notices). */
function damage(path: string): void {
  const buf = readFileSync(path);
  buf[Math.floor(buf.length / 2)] ^= 0x40;
  writeFileSync(path, buf);
}

/**
 * Three rounds of announces from 40 peers of two users, a checkpoint after each: the journal then
 * reaches back to the second checkpoint, and the third is current; then a round only the journal holds.
 */
async function history(hook: PrivtrakHook, sink: MemorySink): Promise<void> {
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < 40; p++) {
      const passkey = p % 2 === 0 ? PASSKEY_A : PASSKEY_B;
      // Peer 7 stops in round 1 and comes back in round 2: its removal and its return must both be restored.
      const event = round === 0 ? 'started' : p === 7 && round === 1 ? 'stopped' : p === 7 && round === 2 ? 'started' : 'none';
      announce(hook, passkey, req(`-qB4520-${String(p).padStart(4, '0')}`, (round + 1) * 1000 + p, round * 10, 100, event));
    }
    await settle();
    await hook.flusher.flush();
    await hook.checkpoint();
  }
  // A last round the checkpoint has not seen (only the journal holds it).
  for (let p = 0; p < 40; p += 3) announce(hook, PASSKEY_A, req(`-qB4520-${String(p).padStart(4, '0')}`, 9000 + p, 50, 100, 'none'));
  await settle();
  assert.ok(sink.appliedThrough.get('default')! > 0);
}

describe('privtrak state recovery', () => {
  it('a damaged checkpoint stops the start, naming the file and `privtrak recover`; recover rebuilds it from the previous one and the journal, losing nothing', async () => {
    const sink = new MemorySink();
    const first = makeHook(sink, { flush_interval: '1h' });
    const dir = first.options.journal_dir;
    await first.start();
    await history(first, sink);
    const expected = byHex(first.baselines);
    // A crash (the hook is abandoned, not stopped): the last round is in the journal only.
    assert.ok(existsSync(join(dir, PREVIOUS_CHECKPOINT_FILE)), 'the previous checkpoint is kept');
    damage(join(dir, CHECKPOINT_FILE));

    const refused = makeHook(sink, { flush_interval: '1h' }, dir);
    await assert.rejects(refused.start(), (err: Error) => {
      assert.ok(err instanceof CheckpointDamagedError, String(err));
      assert.equal(err.path, join(dir, CHECKPOINT_FILE));
      assert.match(err.message, /checksum mismatch\); run `privtrak recover` with the same --config/);
      return true;
    });

    const report = await recoverState({ dir, cutoffMs: 0, appliedThrough: sink.appliedThrough.get('default')!, shardCount: 16, fsync: false });
    assert.equal(report.outcome, 'rebuilt');
    assert.equal(report.base, 'previous');
    assert.equal(report.missing, undefined, 'the journal reaches back to the previous checkpoint');
    assert.equal(report.movedAside.length, 1);
    assert.match(report.movedAside[0]!.to, /^baselines\.ckpt\.damaged-/);
    assert.ok(existsSync(join(dir, report.movedAside[0]!.to)), 'the damaged file is kept for inspection');

    const again = makeHook(sink, { flush_interval: '1h' }, dir);
    await again.start();
    try {
      assert.deepEqual(byHex(again.baselines), expected, 'every baseline back, byte for byte');
      // The next announces count exactly from those baselines: 9000 + 3 → 9100 + 3 is 100 more.
      const before = await totalsOf(sink, PASSKEY_A);
      await again.flusher.flush(); // the crash's unapplied round first
      const afterReplay = await totalsOf(sink, PASSKEY_A);
      announce(again, PASSKEY_A, req('-qB4520-0003', 9100 + 3, 50, 100, 'none'));
      await settle();
      await again.flusher.flush();
      assert.equal((await totalsOf(sink, PASSKEY_A))!.up - afterReplay!.up, 100n);
      assert.ok(afterReplay!.up > before!.up, 'the journal-only round reached the sink at the restart');
    } finally {
      await again.stop();
    }
    // With the checkpoint sound, recover changes nothing.
    const sound = await recoverState({ dir, cutoffMs: 0, appliedThrough: 0, shardCount: 16, fsync: false });
    assert.equal(sound.outcome, 'sound');
  });

  it('with both checkpoints damaged, rebuilds from the journal alone and says which part of the sequence is gone', async () => {
    const sink = new MemorySink();
    const hook = makeHook(sink, { flush_interval: '1h' });
    const dir = hook.options.journal_dir;
    await hook.start();
    await history(hook, sink);
    await hook.stop();
    damage(join(dir, CHECKPOINT_FILE));
    damage(join(dir, PREVIOUS_CHECKPOINT_FILE));
    const journalFrom = Math.min(...readdirSync(dir).filter((f) => f.startsWith('journal-')).map((f) => Number(f.slice(8, -4))));
    const report = await recoverState({ dir, cutoffMs: 0, appliedThrough: sink.appliedThrough.get('default')!, shardCount: 16, fsync: false });
    assert.equal(report.base, 'journal only');
    assert.equal(report.movedAside.length, 2);
    assert.ok(journalFrom > 1, 'the journal was pruned back to the previous checkpoint');
    assert.deepEqual(report.missing, { fromSeq: 1, toSeq: journalFrom - 1 });
    const again = makeHook(sink, { flush_interval: '1h' }, dir);
    await again.start(); // starts: the operator was told what is missing
    await again.stop();
  });

  it('a crash between moving the checkpoint aside and putting the new one in place restores from the previous one', async () => {
    const sink = new MemorySink();
    const hook = makeHook(sink, { flush_interval: '1h' });
    const dir = hook.options.journal_dir;
    await hook.start();
    await history(hook, sink);
    const expected = byHex(hook.baselines);
    renameSync(join(dir, CHECKPOINT_FILE), join(dir, PREVIOUS_CHECKPOINT_FILE)); // the first rename of a checkpoint write
    const again = makeHook(sink, { flush_interval: '1h' }, dir);
    await again.start();
    try {
      assert.deepEqual(byHex(again.baselines), expected);
    } finally {
      await again.stop();
    }
  });

  it('with fsync on, a checkpoint is fsynced before it is renamed into place, and its directory after', async () => {
    const fs = new RecordingFs();
    const sink = new MemorySink();
    const hook = makeHook(sink, { flush_interval: '1h', journal_fsync: true }, undefined, { internals: { fs } });
    await hook.start();
    try {
      announce(hook, PASSKEY_A, req('-qB4520-a', 1, 0, 0, 'started'));
      await settle();
      await hook.checkpoint();
      announce(hook, PASSKEY_A, req('-qB4520-a', 2, 0, 0, 'none'));
      await settle();
      await hook.checkpoint();
    } finally {
      await hook.stop();
    }
    const dir = basename(hook.options.journal_dir);
    // The second checkpoint, in order: the file, the rotation, the rename, the directory.
    const calls = fs.calls;
    const at = calls.lastIndexOf('rename baselines.ckpt.tmp baselines.ckpt');
    assert.deepEqual(calls.slice(at - 3, at + 2), [
      'fsync baselines.ckpt.tmp', 'close baselines.ckpt.tmp', 'rename baselines.ckpt baselines.ckpt.prev',
      'rename baselines.ckpt.tmp baselines.ckpt', `fsyncdir ${dir}`,
    ]);
    // Each journal segment was fsynced before it was closed.
    for (const c of calls.filter((x) => x.startsWith('close journal-'))) {
      const i = calls.indexOf(c);
      assert.equal(calls[i - 1], c.replace('close', 'fsync'), `${c} after its fsync`);
    }
  });

  it('one process per journal directory: a live owner refuses the start, a dead one (kill -9) is taken over', async () => {
    const sink = new MemorySink();
    const hook = makeHook(sink);
    const dir = hook.options.journal_dir;
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(join(dir, 'privtrak.lock'), `${other.pid}\n`);
      await assert.rejects(hook.start(), (err: Error) => err instanceof DirLockedError && new RegExp(`in use by process ${other.pid}`).test(err.message));
    } finally {
      other.kill('SIGKILL');
    }
    await new Promise((r) => other.once('exit', r));
    const taken = makeHook(sink, {}, dir);
    await taken.start();
    assert.equal(Number(readFileSync(join(dir, 'privtrak.lock'), 'utf8')), process.pid);
    await taken.stop();
    assert.equal(existsSync(join(dir, 'privtrak.lock')), false, 'released at stop');
  });
});
