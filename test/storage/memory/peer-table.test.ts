import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PeerTable, STRIDE4, STRIDE6, packId } from '../../../src/storage/memory/peer-table.js';
import { BlockPool } from '../../../src/storage/memory/block-pool.js';
import { peer } from '../peer-store-suite.js';
import { prng, below } from '../../support/prng.js';

function idWords(n: number): Int32Array {
  const w = new Int32Array(5);
  packId(peer(n).id, w);
  return w;
}

/** Every row findable by its own id, seeders and leechers where the counts say. */
function assertConsistent(t: PeerTable, model: Map<number, boolean>): void {
  assert.equal(t.size, model.size);
  let seeders = 0;
  for (const [n, seeder] of model) {
    const row = t.find(idWords(n));
    assert.ok(row >= 0 && row < t.size, `peer ${n} found`);
    assert.equal(row < t.seeders, seeder, `peer ${n} in the ${seeder ? 'seeder' : 'leecher'} rows`);
    assert.equal(t.portOf(row), 1000 + n, `peer ${n}'s row holds its address`);
    if (seeder) seeders++;
  }
  assert.equal(t.seeders, seeders);
}

describe('PeerTable', () => {
  it('grows by doubling and shrinks when a quarter full, keeping every peer', () => {
    const pool = new BlockPool();
    const t = new PeerTable(STRIDE4, pool);
    const model = new Map<number, boolean>();
    const rowsSeen: number[] = [];
    for (let n = 0; n < 1000; n++) {
      const id = idWords(n);
      t.put(id, t.find(id), peer(n), 0, n % 3 === 0);
      model.set(n, n % 3 === 0);
      if (rowsSeen.at(-1) !== t.rows) rowsSeen.push(t.rows);
    }
    assert.deepEqual(rowsSeen, [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    assertConsistent(t, model);
    for (let n = 0; n < 1000; n++) {
      if (n % 10 === 0) continue;
      t.removeAt(t.find(idWords(n)));
      model.delete(n);
    }
    assert.equal(t.size, 100);
    assert.ok(t.rows === 256 || t.rows === 512, `shrunk to ${t.rows} rows for 100 peers`);
    assertConsistent(t, model);
    for (const n of [...model.keys()]) {
      if (n === 0) continue;
      t.removeAt(t.find(idWords(n)));
      model.delete(n);
    }
    assert.equal(t.rows, 2, 'back to the smallest table');
    assertConsistent(t, model);
    assert.equal(pool.live, 2 * STRIDE4, 'the pool holds only the smallest table now');
    t.release();
    assert.equal(pool.live, 0, 'released');
  });

  it('reuses pooled arrays across tables, IPv6 rows too', () => {
    const pool = new BlockPool();
    const tables = Array.from({ length: 20 }, (_, i) => new PeerTable(i % 2 ? STRIDE6 : STRIDE4, pool));
    const v6 = (n: number) => peer(n, '2001:db8::1', 1000 + n);
    for (let round = 0; round < 3; round++) {
      tables.forEach((t, i) => {
        for (let n = 0; n < 40 + i; n++) {
          const id = idWords(n);
          t.put(id, t.find(id), i % 2 ? v6(n) : peer(n), 0, n % 2 === 0);
        }
      });
      tables.forEach((t, i) => {
        const model = new Map(Array.from({ length: 40 + i }, (_, n) => [n, n % 2 === 0] as const));
        assertConsistent(t, model);
        for (let n = 0; n < 40 + i; n++) t.removeAt(t.find(idWords(n)));
        assert.equal(t.size, 0);
      });
    }
    for (const t of tables) t.release();
    assert.equal(pool.live, 0);
  });

  it('keeps rows dense and the index exact under random puts, role changes and removals (swap-remove)', () => {
    const rand = prng(42);
    const t = new PeerTable(STRIDE4, new BlockPool());
    const model = new Map<number, boolean>();
    for (let step = 0; step < 20_000; step++) {
      const n = below(rand, step < 10_000 ? 400 : 40); // the second half shrinks the table through the unindexed sizes
      const r = rand();
      if (r < 0.55) {
        const seeder = rand() < 0.5;
        const id = idWords(n);
        const row = t.put(id, t.find(id), peer(n), step, seeder);
        assert.equal(t.find(id), row);
        model.set(n, seeder);
      } else if (model.has(n)) {
        t.removeAt(t.find(idWords(n)));
        model.delete(n);
      } else {
        assert.equal(t.find(idWords(n)), -1);
      }
      if (step % 250 === 0) assertConsistent(t, model);
    }
    assertConsistent(t, model);
  });

  it('picks from a random start, wrapping, without the skipped row', () => {
    const t = new PeerTable(STRIDE4, new BlockPool());
    for (let n = 0; n < 10; n++) t.put(idWords(n), -1, peer(n), 0, false);
    const into = new Int32Array(10);
    const firsts = new Set<number>();
    for (let k = 0; k < 200; k++) {
      const count = t.pick(into, 0, 3, 0, 10, 4);
      assert.equal(count, 3);
      const rows = [...into.subarray(0, 3)];
      assert.ok(!rows.includes(4));
      assert.equal(new Set(rows).size, 3);
      firsts.add(rows[0]!);
    }
    assert.ok(firsts.size > 3, `${firsts.size} distinct first rows`);
    assert.equal(t.pick(into, 0, 50, 0, 10, 4), 9, 'all but the skipped row when numwant exceeds the swarm');
  });
});
