/**
 * A keyed murmur3-style hash of 32-bit words, shared by the typed-array hash tables (the swarm
 * store's peer_id index, the privtrak hook's baselines). Keyed with a random secret per table so
 * a client cannot choose peer_ids or passkeys that collide into one long probe chain.
 */

/** The hash of `words` words of `key` from word `at`, keyed by `secret` (words + 1 entries). */
export function keyedHash(key: Int32Array, at: number, words: number, secret: Int32Array): number {
  let h = secret[words]!;
  for (let i = 0; i < words; i++) {
    // murmur3's word step over the key word mixed with a secret word.
    let k = Math.imul(key[at + i]! ^ secret[i]!, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // murmur3's finaliser.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
