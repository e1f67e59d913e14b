import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryPeerStore } from '../../../src/storage/memory/memory-store.js';
import { PeerList } from '../../../src/storage/memory/peer-list.js';
import { runPeerStoreSuite, peer } from '../peer-store-suite.js';

runPeerStoreSuite('memory', (clock) => new MemoryPeerStore(clock));

describe('PeerList', () => {
  it('keeps its index consistent through puts, deletes and collection', () => {
    const list = new PeerList();
    for (let i = 0; i < 50; i++) list.put(PeerList.key(peer(i)), peer(i), i);
    for (let i = 0; i < 50; i += 7) assert.equal(list.delete(PeerList.key(peer(i))), true);
    assert.equal(list.delete(PeerList.key(peer(0))), false);
    assert.equal(list.collect(25), 25 - 4);
    for (let i = 0; i < 50; i++) {
      const expected = i >= 25 && i % 7 !== 0;
      assert.equal(list.has(PeerList.key(peer(i))), expected, `peer ${i}`);
    }
    list.items.forEach((item, at) => assert.equal(list.has(PeerList.key(item.peer)), true, `slot ${at}`));
    assert.equal(list.size, 25 - 4, '25..49 minus the deleted 28, 35, 42, 49');
  });

  it('samples from a random offset, wrapping, without the skipped peer', () => {
    const list = new PeerList();
    for (let i = 0; i < 10; i++) list.put(PeerList.key(peer(i)), peer(i), 0);
    const firsts = new Set<string>();
    for (let k = 0; k < 200; k++) {
      const out: ReturnType<typeof peer>[] = [];
      list.sample(out, 3, PeerList.key(peer(4)));
      assert.equal(out.length, 3);
      assert.ok(!out.some((p) => p.id.equals(peer(4).id)));
      firsts.add(out[0]!.id.toString());
    }
    assert.ok(firsts.size > 3, `random offsets: ${firsts.size} distinct first peers`);
  });
});
