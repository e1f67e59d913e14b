import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsvLineMemo, RegistryFileError, parseTorrentsFile, parseTorrentsFileInTurns, parseUsersFile, parseUsersFileInTurns } from '../../src/access/file-format.js';
import type { UserRecord } from '../../src/access/records.js';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

const pk = (i: number) => `a${i.toString(16).padStart(31, '0')}`;

/** A seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('CSV line memo (reloads parse only new lines)', () => {
  it('gives the same records as a parse without it, through random edits, reusing the record of every unchanged line', async () => {
    const rand = rng(7);
    const memo = new CsvLineMemo<UserRecord>();
    let lines = Array.from({ length: 3000 }, (_, i) => `${pk(i)},${i},${i % 7 !== 0},${i % 5 !== 0}`);
    let previous = new Map<string, UserRecord>();
    for (let round = 0; round < 6; round++) {
      const text = `passkey,site_id,enabled,can_leech\n${lines.join('\n')}\n`;
      const got = await parseUsersFileInTurns(text, 'csv', 'users.csv', memo);
      assert.deepEqual(got, parseUsersFile(text, 'csv', 'users.csv'), `round ${round}`);
      // Records come from the lines that hold something, in order.
      const data = lines.filter((l) => l.trim() !== '' && !l.startsWith('#'));
      assert.equal(got.length, data.length);
      let reused = 0;
      for (let i = 0; i < data.length; i++) {
        const before = previous.get(data[i]!);
        if (before !== undefined) {
          assert.equal(got[i], before, 'an unchanged line keeps its record object');
          reused++;
        }
      }
      if (round > 0) assert.ok(reused > data.length * 0.8 && reused < data.length, `round ${round}: ${reused} of ${data.length} reused`);
      // What the memo says changed turns the last file's records into this one's.
      if (round === 0) assert.equal(memo.lastChanges, undefined, 'nothing to compare the first parse with');
      else {
        const changes = memo.lastChanges!;
        const kept = new Set(previous.values());
        for (const r of changes.removed) assert.ok(kept.delete(r), 'a removed record was one of the last file\'s');
        for (const r of changes.added) kept.add(r);
        assert.deepEqual(new Set(got), kept, `round ${round}: the last records, less the removed, plus the added`);
        assert.equal(changes.lines, new Set(data).size);
        assert.ok(changes.added.length > 0 && changes.added.length < data.length / 5, `round ${round}: ${changes.added.length} added`);
      }
      previous = new Map(data.map((l, i) => [l, got[i]!]));
      // Edit: flip some users, remove some, add some, duplicate one, a comment and a blank line.
      lines = lines.filter(() => rand() > 0.03).map((l) => {
        if (rand() > 0.05 || l === '' || l.startsWith('#')) return l;
        const [p, id, en, cl] = l.split(',');
        return `${p},${id},${en === 'true' ? 'false' : 'true'},${cl}`;
      });
      for (let k = 0; k < 50; k++) lines.push(`${pk(10_000 + round * 100 + k)},,true,true`);
      lines.splice(5, 0, lines[9]!, '# a comment', '');
    }
  });

  it('parses every line again under another header, where the same text means another record', async () => {
    const memo = new CsvLineMemo<UserRecord>();
    const a = await parseUsersFileInTurns(`passkey,enabled,can_leech\n${pk(1)},true,false\n`, 'csv', 'u.csv', memo);
    const b = await parseUsersFileInTurns(`passkey,can_leech,enabled\n${pk(1)},true,false\n`, 'csv', 'u.csv', memo);
    assert.deepEqual([a[0]!.enabled, a[0]!.canLeech], [true, false]);
    assert.deepEqual([b[0]!.enabled, b[0]!.canLeech], [false, true]);
    assert.equal(memo.lastChanges, undefined, 'a new header: no changes to report, every line is new');
    assert.equal(memo.byLine.size, 1);
  });

  it('says which lines came and went, once per distinct line, and a bad file in between changes nothing', async () => {
    const memo = new CsvLineMemo<UserRecord>();
    const head = 'passkey,site_id,enabled\n';
    const first = await parseUsersFileInTurns(`${head}${pk(1)},1,true\n${pk(2)},2,true\n${pk(3)},3,true\n`, 'csv', 'u.csv', memo);
    await assert.rejects(parseUsersFileInTurns(`${head}${pk(1)},1,true\nbad,2,true\n`, 'csv', 'u.csv', memo), RegistryFileError);
    // User 2 changed (its old line goes, a new one comes), user 3 left, user 4 came, and user 1's line is there twice.
    const text = `${head}${pk(1)},1,true\n${pk(2)},2,false\n${pk(4)},4,true\n${pk(1)},1,true\n${pk(4)},4,true\n`;
    const got = await parseUsersFileInTurns(text, 'csv', 'u.csv', memo);
    assert.deepEqual(got, parseUsersFile(text, 'csv', 'u.csv'));
    const changes = memo.lastChanges!;
    assert.deepEqual(changes.added.map((u) => u.passkey), [pk(2), pk(4)], 'each new line once, in file order');
    assert.deepEqual(changes.removed, [first[1], first[2]], 'the records of the lines gone');
    assert.equal(changes.lines, 3);
    assert.equal(got[0], first[0]);
    assert.equal(got[3], first[0]);
    assert.equal(got[2], got[4], 'the same new line twice is one record');
    // Nothing changed: nothing to report.
    await parseUsersFileInTurns(text, 'csv', 'u.csv', memo);
    assert.deepEqual([memo.lastChanges!.added.length, memo.lastChanges!.removed.length, memo.lastChanges!.lines], [0, 0, 3]);
  });

  it('reads a file\'s bytes as its text: CRLF, blank and comment lines, UTF-8 and ASCII files alike', async () => {
    for (const comment of ['# ascii only', '# naïve, ünïcödé']) {
      const text = `passkey,site_id,enabled\r\n${comment}\r\n${pk(1)},1,true\r\n\r\n${pk(2)},2,false\r\n   \n${pk(3)},3,true`;
      const memo = new CsvLineMemo<UserRecord>();
      const got = await parseUsersFileInTurns(Buffer.from(text, 'utf8'), 'csv', 'u.csv', memo);
      assert.deepEqual(got, parseUsersFile(text, 'csv', 'u.csv'), comment);
      assert.equal(got.length, 3);
      const again = await parseUsersFileInTurns(Buffer.from(text.replace(`${pk(2)},2,false`, `${pk(2)},2,true`), 'utf8'), 'csv', 'u.csv', memo);
      assert.deepEqual(memo.lastChanges!.added.map((u) => [u.passkey, u.enabled]), [[pk(2), true]]);
      assert.equal(again[0], got[0], 'an unchanged line keeps its record');
    }
    await assert.rejects(parseUsersFileInTurns(Buffer.from('passkey,site_id\n\nnope,1\n'), 'csv', 'u.csv', new CsvLineMemo<UserRecord>()),
      (err: unknown) => err instanceof RegistryFileError && /line 3/.test(err.message), 'line numbers count every line');
  });

  it('keeps a new line as a string of its own: reloads do not keep their whole file text alive', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const memo = new CsvLineMemo<UserRecord>();
    const body = Array.from({ length: 20_000 }, (_, i) => `${pk(i)},${i}`).join('\n');
    await parseUsersFileInTurns(`passkey,site_id\n${body}\n`, 'csv', 'u.csv', memo);
    gc();
    const start = process.memoryUsage().heapUsed;
    // Twenty reloads of a ~0.8 MB file, each with one new line: a line kept as a view of its
    // text would keep all twenty texts (16 MB).
    let added = '';
    for (let round = 0; round < 20; round++) {
      added += `${pk(100_000 + round)},${round}\n`;
      await parseUsersFileInTurns(`passkey,site_id\n${body}\n${added}`, 'csv', 'u.csv', memo);
    }
    gc();
    const grown = (process.memoryUsage().heapUsed - start) / 2 ** 20;
    assert.equal(memo.byLine.size, 20_020);
    assert.ok(grown < 6, `the heap grew ${grown.toFixed(1)} MB over twenty reloads`);
  });

  it('a bad file is refused whole, naming its line, and leaves the memo as it was; the torrents file takes the same path', async () => {
    const memo = new CsvLineMemo<UserRecord>();
    const good = `passkey,enabled\n${pk(1)},true\n${pk(2)},false\n`;
    const first = await parseUsersFileInTurns(good, 'csv', 'u.csv', memo);
    await assert.rejects(parseUsersFileInTurns(`passkey,enabled\n${pk(1)},true\nnot-a-passkey,true\n`, 'csv', 'u.csv', memo),
      (err: unknown) => err instanceof RegistryFileError && /line 3/.test(err.message));
    const again = await parseUsersFileInTurns(good, 'csv', 'u.csv', memo);
    assert.equal(again[0], first[0]);
    assert.equal(again[1], first[1]);
    // Torrents take the same path.
    const tmemo = new CsvLineMemo<ReturnType<typeof parseTorrentsFile>[number]>();
    const ih = 'ab'.repeat(20);
    const t1 = await parseTorrentsFileInTurns(`info_hash,banned\n${ih},false\n`, 'csv', 't.csv', tmemo);
    const t2 = await parseTorrentsFileInTurns(`info_hash,banned\n${ih},false\n${'cd'.repeat(20)},true\n`, 'csv', 't.csv', tmemo);
    assert.equal(t2[0], t1[0]);
    assert.deepEqual(t2, parseTorrentsFile(`info_hash,banned\n${ih},false\n${'cd'.repeat(20)},true\n`, 'csv', 't.csv'));
  });
});
