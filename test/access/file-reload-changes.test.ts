/**
 * A reload of a CSV file where a few lines changed is applied in place and handed to the registry
 * as those changes only (file-source.ts ListFile, file-format.ts CsvLineMemo), and must always
 * leave the registry exactly as a fresh load of the file would: checked through random edits,
 * duplicate keys, admin writes and bad files.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { FileSource } from '../../src/access/file-source.js';
import { AccessRegistry } from '../../src/access/registry.js';
import { parseUsersFile } from '../../src/access/file-format.js';
import type { UserRecord } from '../../src/access/records.js';

const pk = (i: number) => `b${i.toString(16).padStart(31, '0')}`;
const HEADER = 'passkey,site_id,enabled,can_leech';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function open() {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-reload-'));
  dirs.push(dir);
  const users = join(dir, 'users.csv');
  let n = 0;
  // A new file renamed into place, as an export job writes it (a new inode: always a new stamp).
  const write = (lines: string[]) => {
    const tmp = `${users}.${n++}`;
    writeFileSync(tmp, `${HEADER}\n${lines.join('\n')}\n`);
    renameSync(tmp, users);
  };
  const source = new FileSource({ users, torrents: '', pollIntervalMs: 3_600_000 });
  const metrics = new Registry();
  const registry = new AccessRegistry(source, { logger: pino({ level: process.env.DEBUG_RELOAD ? 'warn' : 'silent' }), prometheus: metrics });
  const refreshes = async (kind: string) =>
    (await metrics.getSingleMetric('privtrak_registry_refreshes_total')!.get()).values.find((v) => v.labels['kind'] === kind)?.value ?? 0;
  return { users, write, source, registry, refreshes };
}

/** Whether two different lines of `lines` name one passkey (then a reload goes whole: the order decides). */
function hasDuplicateKeys(lines: string[]): boolean {
  const data = new Set(lines.filter((l) => l.startsWith('b')));
  return new Set([...data].map((l) => l.slice(0, 32))).size !== data.size;
}

/** The registry's users against a fresh parse of `lines` (the last line of a passkey wins). */
function assertSame(registry: AccessRegistry, lines: string[], universe: number, what: string): void {
  const expected = new Map<string, UserRecord>();
  for (const u of parseUsersFile(`${HEADER}\n${lines.join('\n')}\n`, 'csv', 'users.csv')) expected.set(u.passkey, u);
  for (let i = 0; i < universe; i++) assert.deepEqual(registry.user(pk(i)), expected.get(pk(i)), `${what}: user ${i}`);
  assert.equal(registry.status().users, expected.size, what);
}

describe('file registry: reloads applied as changes', () => {
  it('random edits leave the registry exactly as a fresh load would, most of them applied as changes', async () => {
    const { write, registry, refreshes } = await open();
    const rand = rng(11);
    const universe = 400;
    const line = (i: number) => `${pk(i)},${1 + Math.floor(rand() * 5)},${rand() > 0.2},${rand() > 0.3}`;
    let lines = Array.from({ length: 300 }, (_, i) => line(i));
    write(lines);
    await registry.start();
    await registry.stop(); // refresh() by hand from here
    try {
      assertSame(registry, lines, universe, 'start');
      let duplicate = '';
      // Reloads between two files without a passkey on two different lines must go as changes.
      let exactRounds = 0;
      let hadDuplicates = false;
      for (let round = 0; round < 40; round++) {
        // The line doubled in round 3 goes back to one before an edit can make its copies differ.
        if (round % 10 === 4) lines = lines.filter((l, i) => !l.startsWith('b') || lines.indexOf(l) === i);
        lines = lines.filter(() => rand() > 0.02).map((l) => (l.startsWith('b') && rand() < 0.03 ? line(Number.parseInt(l.slice(1, 32), 16)) : l));
        const present = new Set(lines.map((l) => l.slice(0, 32)));
        for (let k = 0; k < 3; k++) {
          const i = Math.floor(rand() * universe);
          if (!present.has(pk(i))) lines.push(line(i));
        }
        if (round % 10 === 3) lines.push(lines[7]!); // the same line twice: still one record
        if (round % 10 === 5) lines.push((duplicate = line(Number.parseInt(lines[9]!.slice(1, 32), 16)))); // another line for a passkey
        if (round % 10 === 6) {
          lines = lines.filter((l) => l !== duplicate); // and gone again
          lines.push('# a comment', '');
        }
        write(lines);
        assert.equal(await registry.refresh(), true);
        assertSame(registry, lines, universe, `round ${round}`);
        const dups = hasDuplicateKeys(lines);
        if (!dups && !hadDuplicates) exactRounds++;
        hadDuplicates = dups;
      }
      // The random adds bring duplicate passkeys (different lines, one key): those rounds reload whole.
      const incremental = await refreshes('incremental');
      const full = await refreshes('full');
      assert.equal(incremental, exactRounds, `${incremental} reloads applied as changes, ${full} whole`);
      assert.ok(exactRounds >= 25 && full >= 2, `${exactRounds} rounds without duplicate passkeys`);
    } finally {
      await registry.stop();
    }
  });

  it('a changed line, a removed and an added user reach the registry as changes only; duplicate keys reload whole', async () => {
    const { write, source, registry } = await open();
    const base = Array.from({ length: 50 }, (_, i) => `${pk(i)},${i},true,true`);
    write(base);
    await registry.start();
    await registry.stop();
    try {
      // The source by itself: what a poll hands over.
      const edited = base.filter((l) => !l.startsWith(pk(3))).map((l) => (l.startsWith(pk(5)) ? `${pk(5)},5,false,true` : l));
      edited.push(`${pk(60)},60,true,false`);
      write(edited);
      const update = await source.refresh();
      assert.equal(update.allUsers, undefined, 'not the whole list');
      assert.deepEqual(update.users?.map((u) => [u.passkey, u.enabled]), [[pk(5), false], [pk(60), true]]);
      assert.deepEqual(update.removedUsers, [pk(3)], 'user 5 changed, it was not removed');
      // Nothing new: nothing handed over.
      assert.deepEqual(await source.refresh(), {});
      // Two lines for one passkey: the order decides, so the whole list goes (the last line wins).
      const dup = [...edited, `${pk(7)},7,false,false`];
      write(dup);
      const whole = await source.refresh();
      assert.equal(whole.allUsers?.length, 50);
      assert.equal(whole.allUsers?.find((u) => u.passkey === pk(7))?.enabled, false);
      // And back to one line each: changes again, exact.
      write(edited);
      assert.equal(await registry.refresh(), true);
      assertSame(registry, edited, 70, 'after the duplicate went');
    } finally {
      await registry.stop();
    }
  });

  it('an admin write and a bad file in between: the next reload is still exact', async () => {
    const { write, registry } = await open();
    let lines = Array.from({ length: 20 }, (_, i) => `${pk(i)},${i},true,true`);
    write(lines);
    await registry.start();
    await registry.stop();
    try {
      // An admin change rewrites the file (the registry holds it at once).
      await registry.setUserEnabled(pk(2), false);
      assert.equal(registry.user(pk(2))?.enabled, false);
      // The site's export then replaces the file without it.
      lines = [...lines.slice(1), `${pk(30)},30,true,true`];
      write(lines);
      assert.equal(await registry.refresh(), true);
      assertSame(registry, lines, 40, 'after the admin write');
      // A bad file is refused whole; the next good one applies against what is in use.
      write([...lines, 'not-a-passkey,1,true,true']);
      assert.equal(await registry.refresh(), false);
      assertSame(registry, lines, 40, 'the bad file refused');
      lines = lines.filter((l) => !l.startsWith(pk(4)));
      write(lines);
      assert.equal(await registry.refresh(), true);
      assertSame(registry, lines, 40, 'after the bad file');
    } finally {
      await registry.stop();
    }
  });
});
