/**
 * A full registry reload while the tracker serves (issue 14, point 1: a reload of 100,000 users
 * held every announce for ~350 ms): the file is parsed, and the new list indexed, over many
 * event-loop turns; the old copy answers meanwhile; the new one is swapped in whole; an admin
 * change made while it was being built is not lost.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { formatUsersFile, parseUsersFile, parseUsersFileInTurns } from '../../src/access/file-format.js';
import { AccessRegistry } from '../../src/access/registry.js';
import { FileSource } from '../../src/access/file-source.js';
import { user } from '../support/access.js';
import type { RegistrySource, RegistryUpdate } from '../../src/access/source.js';
import type { RegistryStore } from '../../src/access/store.js';

const passkey = (i: number) => i.toString(16).padStart(32, '0');
const users = (from: number, n: number) => Array.from({ length: n }, (_, i) => user(passkey(from + i), { siteId: from + i }));

/** Counts event-loop turns (setImmediate callbacks) until `work` settles. */
async function turnsDuring<T>(work: Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { value: await work, turns };
  } finally {
    done = true;
  }
}

describe('registry reload in event-loop turns', () => {
  it('parses a large CSV in turns, to the same records as the one-step parse, and names a bad line the same way', async () => {
    const text = formatUsersFile(users(1, 60_017), 'csv');
    const { value, turns } = await turnsDuring(parseUsersFileInTurns(text, 'csv', 'u.csv'));
    assert.deepEqual(value, parseUsersFile(text, 'csv', 'u.csv'));
    // 60,000 rows take well over 2 ms anywhere: the parse gives the loop back several times.
    assert.ok(turns >= 3, `the loop ran ${turns} times during the parse`);
    const bad = text.replace(`${passkey(50_000)},`, `${passkey(50_000)},x,`);
    await assert.rejects(parseUsersFileInTurns(bad, 'csv', 'u.csv'), (err: Error) => {
      assert.throws(() => parseUsersFile(bad, 'csv', 'u.csv'), { message: err.message });
      return /u\.csv: line \d+: 5 fields, the header has 4/.test(err.message);
    });
  });

  it('a file reload leaves the loop free and answers from the old copy until the new one is in, whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-reload-'));
    const path = join(dir, 'users.csv');
    const N = 40_000;
    writeFileSync(path, formatUsersFile(users(1, N), 'csv'));
    const registry = new AccessRegistry(new FileSource({ users: path, torrents: '', pollIntervalMs: 3_600_000 }), { logger: pino({ level: 'silent' }), prometheus: new Registry() });
    await registry.start();
    await registry.stop(); // refresh by hand
    try {
      // The site replaces the file: user 1 is gone, N more arrive.
      writeFileSync(path, formatUsersFile(users(2, 2 * N - 1), 'csv'));
      const refreshed = registry.refresh();
      let midway = 0;
      const probe = () => {
        if (registry.user(passkey(2 * N)) !== undefined) return; // swapped in
        midway++;
        assert.ok(registry.user(passkey(1)), 'the old copy answers during the reload');
        setImmediate(probe);
      };
      setImmediate(probe);
      const { value: ok, turns } = await turnsDuring(refreshed);
      assert.equal(ok, true);
      assert.ok(turns >= 5 && midway >= 5, `the loop ran during the reload (${turns} turns, ${midway} probes)`);
      assert.equal(registry.user(passkey(1)), undefined, 'the new list is in');
      assert.equal(registry.user(passkey(2 * N))?.siteId, 2 * N);
      assert.equal(registry.status().users, 2 * N - 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an admin change made while a full list is being indexed is replayed onto it (a writable source)', async () => {
    const N = 40_000;
    const source = new StoreSource({ allUsers: users(1, 10) });
    const registry = new AccessRegistry(source, { logger: pino({ level: 'silent' }), prometheus: new Registry() });
    await registry.start();
    await registry.stop();
    // The source's next full list was read before the admin change: it does not have the new user.
    source.next = { allUsers: users(1, N) };
    const refreshed = registry.refresh();
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    assert.equal(registry.status().users, 10, 'still indexing the new list');
    await registry.putUser(user(passkey(999_999), { siteId: 7 }));
    await registry.setUserEnabled(passkey(5), false);
    assert.equal(registry.status().users, 11, 'the change is in the copy in use at once, and the new list is still being indexed');
    assert.equal(await refreshed, true);
    assert.equal(registry.status().users, N + 1);
    assert.equal(registry.user(passkey(999_999))?.siteId, 7, 'the added user survives the swap');
    assert.equal(registry.user(passkey(5))?.enabled, false, 'and so does the disabled one');
    assert.deepEqual(source.stored, [passkey(999_999), passkey(5)], 'the source holds both changes');
  });
});

/** A writable source whose next refresh returns what the test queued; its store only records the calls. */
class StoreSource implements RegistrySource {
  readonly name = 'file';
  readonly refreshIntervalMs = 3_600_000;
  next: RegistryUpdate = {};
  readonly stored: string[] = [];
  readonly store: RegistryStore;
  constructor(private readonly initial: RegistryUpdate) {
    const stored = this.stored;
    this.store = {
      async putUsers(list) {
        for (const u of list) stored.push(u.passkey);
        return { added: list.length, replaced: 0 };
      },
      async setUserEnabled(key) {
        stored.push(key);
        return undefined;
      },
      removeUser: async () => true,
      putTorrent: async () => undefined,
      removeTorrent: async () => true,
      listTorrents: async () => [],
      close: async () => undefined,
    };
  }
  async load(): Promise<RegistryUpdate> {
    return this.initial;
  }
  async refresh(): Promise<RegistryUpdate> {
    const n = this.next;
    this.next = {};
    return n;
  }
  async close(): Promise<void> {}
}
