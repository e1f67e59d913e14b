import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayPeerList, NO_PEERS, PackedPeerList, packedStride } from '../../src/bittorrent/peer-list.js';
import { makePeer } from '../../src/bittorrent/ip.js';
import type { AddressFamily, Peer } from '../../src/bittorrent/types.js';

const ADDRS: Record<AddressFamily, string[]> = {
  4: ['10.0.0.1', '192.0.2.254', '255.255.255.255', '1.2.3.4'],
  6: ['2001:db8::1', '2001:db8:ffff:1:2:3:4:5', '::1', 'fe80::abcd'],
};

function peersOf(family: AddressFamily): Peer[] {
  return ADDRS[family].map((ip, i) => makePeer(Buffer.from(`-PT0001-${String(i).padStart(12, '0')}`), ip, [1, 6881, 65535, 0x1ae1][i]!));
}

/** <peer_id><compact> records, as a store copies its rows out. */
function pack(peers: Peer[]): Buffer {
  return Buffer.concat(peers.flatMap((p) => [p.id, p.compact]));
}

describe('peer lists', () => {
  for (const family of [4, 6] as const) {
    it(`a packed IPv${family} list gives back each peer and writes the compact forms in order`, () => {
      const want = peersOf(family);
      const list = new PackedPeerList(pack(want), family);
      assert.equal(list.length, want.length);
      assert.equal(list.compactLength, want.length * (family === 4 ? 6 : 18));
      const got = [...list];
      assert.equal(got.length, want.length);
      for (let i = 0; i < want.length; i++) {
        for (const p of [got[i]!, list.at(i)!]) {
          assert.deepEqual(p.id, want[i]!.id);
          // The same address, maybe spelled out in full (IPv6 text is not compressed).
          assert.deepEqual(makePeer(p.id, p.ip, p.port).compact, want[i]!.compact);
          assert.equal(p.port, want[i]!.port);
          assert.equal(p.family, family);
          assert.equal(p.ipv4, want[i]!.ipv4);
          assert.deepEqual(p.compact, want[i]!.compact);
        }
      }
      assert.equal(list.at(want.length), undefined);
      assert.equal(list.at(-1), undefined);
      const out = Buffer.alloc(3 + list.compactLength + 2, 0xee);
      assert.equal(list.writeCompact(out, 3), 3 + list.compactLength);
      assert.deepEqual(out.subarray(3, 3 + list.compactLength), Buffer.concat(want.map((p) => p.compact)));
      assert.deepEqual([...out.subarray(0, 3), ...out.subarray(3 + list.compactLength)], [0xee, 0xee, 0xee, 0xee, 0xee], 'nothing written outside');
      // An array of the same peers writes the same bytes.
      const fromArray = Buffer.alloc(list.compactLength);
      new ArrayPeerList(want).writeCompact(fromArray, 0);
      assert.deepEqual(fromArray, out.subarray(3, 3 + list.compactLength));
    });
  }

  it('a packed list counts whole records only', () => {
    const bytes = Buffer.concat([pack(peersOf(4)), Buffer.alloc(packedStride(4) - 1)]);
    assert.equal(new PackedPeerList(bytes, 4).length, 4);
    assert.equal(new PackedPeerList(Buffer.alloc(0), 6).length, 0);
  });

  it('the packed list owns its bytes: a peer read later still reads the bytes it was given', () => {
    const bytes = pack(peersOf(4));
    const list = new PackedPeerList(bytes, 4);
    const first = list.at(0)!;
    assert.equal(first.ip, '10.0.0.1');
    assert.deepEqual(first.id, peersOf(4)[0]!.id);
  });

  it('an array list of mixed families sizes and writes each peer by its family', () => {
    const mixed = [peersOf(4)[0]!, peersOf(6)[0]!, peersOf(4)[1]!];
    const list = new ArrayPeerList(mixed);
    assert.equal(list.compactLength, 6 + 18 + 6);
    const out = Buffer.alloc(list.compactLength);
    assert.equal(list.writeCompact(out, 0), 30);
    assert.deepEqual(out, Buffer.concat(mixed.map((p) => p.compact)));
    assert.deepEqual([...list], mixed);
    assert.equal(list.at(2), mixed[2]);
    assert.equal(list.at(3), undefined);
  });

  it('the empty list has nothing to write and nothing to give', () => {
    assert.equal(NO_PEERS.length, 0);
    assert.equal(NO_PEERS.compactLength, 0);
    assert.equal(NO_PEERS.writeCompact(Buffer.alloc(0), 0), 0);
    assert.deepEqual([...NO_PEERS], []);
  });
});
