/**
 * Legacy journal data (records of version 2, checkpoints of version 1-2: users are passkeys) is
 * never read as it is: replay, restore and recover refuse it; journal-rekey.ts rewrites it once.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Journal } from '../../../src/middleware/privtrak/journal.js';
import { BaselineStore } from '../../../src/middleware/privtrak/baselines.js';
import { restoreState, recoverState } from '../../../src/middleware/privtrak/recovery.js';
import { findLegacyJournalData, rekeyJournalDir } from '../../../src/middleware/privtrak/journal-rekey.js';
import { LegacyDataError, UnmappedUserKeysError } from '../../../src/accounting/legacy-data.js';
import { encodeRecord, legacyRecordOffsets } from '../../../src/accounting/delta-record.js';
import { siteUserKey } from '../../../src/accounting/user-key.js';
import { legacyDelta, writeLegacyCheckpoint, writeLegacyJournal } from '../../support/legacy-fixtures.js';
import { delta } from '../../support/deltas.js';

const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
let dir: string;
const fresh = () => (dir = mkdtempSync(join(tmpdir(), 'privtrak-rekey-')));
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });
const restore = () => restoreState({ dir, cutoffMs: 0, appliedThrough: 0 }, new BaselineStore(4), new Journal(dir, { io: 'write' }), () => undefined, silent);

describe('legacy journal data', () => {
  it('a legacy segment or checkpoint stops replay, restore and recover with LEGACY_DATA', async () => {
    fresh();
    writeLegacyJournal(dir, [legacyDelta(1, A, 5, 5, 10)]);
    assert.throws(() => new Journal(dir, { io: 'write' }).replay(), (e: LegacyDataError) => e.code === 'LEGACY_DATA' && /journal-0+1\.bin holds accounting data keyed by passkeys/.test(e.message));
    rmSync(dir, { recursive: true, force: true });
    fresh();
    writeLegacyCheckpoint(dir, 'baselines.ckpt.prev', 1, [legacyDelta(1, A, 5, 5, 10)]);
    assert.throws(restore, (e: LegacyDataError) => e.code === 'LEGACY_DATA' && /baselines\.ckpt\.prev/.test(e.message));
    await assert.rejects(recoverState({ dir, cutoffMs: 0, appliedThrough: 0, shardCount: 4, fsync: false }), LegacyDataError);
  });

  it('bytes a client chose (its peer_id) are never taken for a legacy record', () => {
    fresh();
    // A peer_id with the legacy magic and, 204 bytes on in the next record's peer_id, the legacy trailer.
    const peerId = Buffer.alloc(20, 0x41);
    peerId[4] = 0xa2;
    peerId.write('prk2', 0, 'latin1');
    const buf = Buffer.concat([encodeRecord(delta(1, { peerId })), encodeRecord(delta(2, { peerId }))]);
    assert.deepEqual(legacyRecordOffsets(buf), []);
    const legacy = Buffer.concat([Buffer.alloc(3, 0xff), readFileSync(writeLegacyJournal(dir, [legacyDelta(1, A, 1, 1, 1)]))]);
    assert.deepEqual(legacyRecordOffsets(legacy), [3], 'after damage, a legacy record is still found');
  });

  it('rekeys segments and checkpoints in place, keeps the later baseline where two users become one, and refuses unmapped keys first', () => {
    fresh();
    writeLegacyJournal(dir, [legacyDelta(1, A, 5, 5, 10), legacyDelta(2, B, 7, 7, 20), legacyDelta(3, A, 1, 6, 30)]);
    writeLegacyCheckpoint(dir, 'baselines.ckpt', 2, [legacyDelta(1, A, 5, 5, 10), legacyDelta(2, B, 7, 7, 20)]);
    assert.equal(findLegacyJournalData(dir).files.length, 2);
    const before = readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))] as const);
    assert.throws(() => rekeyJournalDir(dir, (k) => (k.toString('hex') === A ? siteUserKey(1) : undefined), false),
      (e: UnmappedUserKeysError) => e.code === 'UNMAPPED_USER_KEYS' && e.keys.length === 1 && e.keys[0]!.toString('hex') === B);
    for (const [f, bytes] of before) assert.deepEqual(readFileSync(join(dir, f)), bytes, `${f} unchanged`);

    assert.equal(rekeyJournalDir(dir, () => siteUserKey(1), false).length, 2);
    assert.deepEqual(findLegacyJournalData(dir), { files: [], keys: [] });
    assert.deepEqual(rekeyJournalDir(dir, () => undefined, false), [], 'nothing legacy left: a second run changes nothing');
    const store = new BaselineStore(4);
    restoreState({ dir, cutoffMs: 0, appliedThrough: 3 }, store, new Journal(dir, { io: 'write' }), () => undefined, silent);
    assert.equal(store.size, 1, 'one site user, one peer');
    assert.equal([...store.entries()][0]![1].uploaded, 6, 'the last record wins');
  });
});
