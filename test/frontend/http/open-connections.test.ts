import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenConnections } from '../../../src/frontend/http/open-connections.js';
import type { Connection } from '../../../src/frontend/http/connection.js';

const conn = (name: string) => ({ name, slot: -1 }) as unknown as Connection & { name: string };
const names = (open: OpenConnections) => {
  const out: string[] = [];
  open.forEach((c) => out.push((c as unknown as { name: string }).name));
  return out.sort();
};

test('connections are added once and removed from any slot, the last one taking its place', () => {
  const open = new OpenConnections();
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(conn);
  for (const x of [a, b, c, d, a]) open.add(x!);
  assert.equal(open.size, 4);
  open.delete(b!);
  assert.deepEqual(names(open), ['a', 'c', 'd']);
  assert.equal(b!.slot, -1);
  assert.equal(d!.slot, 1, 'the last connection moved into the freed slot');
  open.delete(b!); // not listed any more: nothing happens
  open.delete(d!);
  open.delete(a!);
  assert.deepEqual(names(open), ['c']);
  assert.equal(c!.slot, 0);
  open.delete(c!);
  assert.equal(open.size, 0);
});

test('a connection listed elsewhere is not removed by a slot number that happens to match', () => {
  const mine = new OpenConnections();
  const other = new OpenConnections();
  const a = conn('a');
  const b = conn('b');
  mine.add(a);
  other.add(b);
  mine.delete(b); // b.slot is 0, mine's slot 0 is a
  assert.deepEqual(names(mine), ['a']);
});

test('forEach visits every connection once while the callback closes the one it is given', () => {
  const open = new OpenConnections();
  const all = Array.from({ length: 50 }, (_, i) => conn(`c${String(i).padStart(2, '0')}`));
  for (const c of all) open.add(c);
  const seen: string[] = [];
  open.forEach((c) => {
    const name = (c as unknown as { name: string }).name;
    seen.push(name);
    if (Number(name.slice(1)) % 3 !== 0) open.delete(c); // as the sweep closes expired connections
  });
  assert.deepEqual(seen.sort(), all.map((c) => c.name).sort());
  assert.deepEqual(names(open), all.filter((_, i) => i % 3 === 0).map((c) => c.name));
});
