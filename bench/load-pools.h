/*
 * What the C load generators (udp-load.c, open-loop.c) share: big-endian field writers, the
 * info_hash pool (the same as hashes.mjs and http-announce.lua: 12 zero bytes, "beefbeef", then
 * the index) and the xorshift generator that draws peers and torrents. A header of static
 * functions, so each generator stays one `cc` command.
 */
#ifndef PRIVTRAK_LOAD_POOLS_H
#define PRIVTRAK_LOAD_POOLS_H
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

static void put32(uint8_t *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return ntohl(v); }

static void ih_of(uint32_t i, uint8_t out[20]) {
  memset(out, 0, 20);
  out[12] = 0xbe; out[13] = 0xef; out[14] = 0xbe; out[15] = 0xef;
  put32(out + 16, i);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd64(void) {
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return rng_state;
}
static uint32_t rnd(void) { return (uint32_t)rnd64(); }

#endif
