/*
 * UDP tracker load generator (BEP 15, optional BEP 41 passkey). Keeps WINDOW announces in
 * flight on one socket for DURATION seconds, drawing info_hashes and peer_ids at random from
 * fixed pools (the same pools as http-announce.lua), and reports announces/s and latency
 * percentiles. A small C program because a Node dgram client tops out below what the
 * trackers under test can serve (see BENCHMARKS.md).
 *
 * usage: udp-load HOST PORT DURATION_S WINDOW IH_POOL PEER_POOL NUMWANT [fill N] [from K] [srcip ADDR] [passkey KEY] [passkeys FILE] [fixed-ih 0|1]
 *   fill N: announce peers K..K+N-1 (from K, default 1) once each (to load N distinct peers), then exit.
 *   srcip ADDR: send from this local address (e.g. 127.0.1.1): trackers that key peers by
 *   IP:port (opentracker) see more than 64k distinct peers only from several addresses.
 *   passkeys FILE: one passkey per line; peer p announces with line (p % lines) + 1 as BEP 41 URL data
 *   (/<passkey>/announce), the same mapping as open-loop.c and http-announce.lua's PASSKEY_FILE.
 * Bounded: stops after DURATION_S seconds (at most 600) or N announces, whichever comes first;
 * replies still outstanding get one more second. The connection ID is refreshed every 50 s
 * (BEP 15: a client may use one for a minute), without pausing the announces.
 * Output (one line): announces= ok= errors= lost= seconds= rate= p50_us= p99_us=
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "load-pools.h"

#define MAX_WINDOW 4096
#define CONNECT_TID 0xc0ffefffu /* slot bits 0xfff: never an announce tid (window <= 4095) */
#define CID_REFRESH_US 50000000ull
#define HIST_US 1000000

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000;
}

/* put32/put64/get32, the info_hash pool (ih_of) and rnd: load-pools.h. */

static uint32_t hist[HIST_US + 1];

/* BEP 41 URL data options, one per passkey of a `passkeys FILE` (each: 2, length, "/<passkey>/announce"). */
static uint8_t (*pool_opts)[2 + 255];
static size_t pool_size;
static void load_passkeys(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) { perror(file); exit(1); }
  char line[512];
  size_t cap = 0;
  while (fgets(line, sizeof line, f)) {
    size_t n = strcspn(line, "\r\n \t");
    if (n == 0) continue;
    if (n > 200) { fprintf(stderr, "passkey longer than 200 characters in %s\n", file); exit(1); }
    if (pool_size == cap) {
      cap = cap ? cap * 2 : 1024;
      pool_opts = realloc(pool_opts, cap * sizeof *pool_opts);
      if (!pool_opts) { perror("realloc"); exit(1); }
    }
    line[n] = 0;
    int len = snprintf((char *)pool_opts[pool_size] + 2, 255, "/%s/announce", line);
    pool_opts[pool_size][0] = 2; pool_opts[pool_size][1] = (uint8_t)len;
    pool_size++;
  }
  fclose(f);
  if (pool_size == 0) { fprintf(stderr, "no passkeys in %s\n", file); exit(1); }
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: %s HOST PORT DURATION_S WINDOW IH_POOL PEER_POOL NUMWANT [fill N] [from K] [srcip ADDR] [passkey KEY] [passkeys FILE] [fixed-ih 0|1]\n", argv[0]);
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  double duration = atof(argv[3]);
  int window = atoi(argv[4]);
  uint32_t ih_pool = (uint32_t)atol(argv[5]);
  uint32_t peer_pool = (uint32_t)atol(argv[6]);
  int32_t numwant = atoi(argv[7]);
  long fill = 0, from = 1;
  int fixed_ih = 0; /* fixed-ih 1: peer p announces info_hash (p % IH_POOL) + 1 only (bounded pairs) */
  const char *passkey = NULL, *srcip = NULL;
  for (int i = 8; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "fill") == 0) fill = atol(argv[i + 1]);
    else if (strcmp(argv[i], "from") == 0) from = atol(argv[i + 1]);
    else if (strcmp(argv[i], "srcip") == 0) srcip = argv[i + 1];
    else if (strcmp(argv[i], "passkey") == 0) passkey = argv[i + 1];
    else if (strcmp(argv[i], "passkeys") == 0) load_passkeys(argv[i + 1]);
    else if (strcmp(argv[i], "fixed-ih") == 0) fixed_ih = atoi(argv[i + 1]) != 0;
  }
  if (window < 1 || window >= MAX_WINDOW) window = 64;
  if (!(duration > 0) || duration > 600) duration = 600;

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, host, &sa.sin_addr);
  if (srcip) {
    struct sockaddr_in la = {0};
    la.sin_family = AF_INET;
    if (inet_pton(AF_INET, srcip, &la.sin_addr) != 1 || bind(fd, (struct sockaddr *)&la, sizeof la) != 0) { perror("bind srcip"); return 1; }
  }
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("connect"); return 1; }
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);

  /* BEP 15 connect, retried for up to 5 s. */
  uint8_t pkt[512], reply[2048], cid[8];
  int connected = 0;
  for (int attempt = 0; attempt < 50 && !connected; attempt++) {
    put64(pkt, 0x41727101980ull); put32(pkt + 8, 0); put32(pkt + 12, 0xc0ffee);
    send(fd, pkt, 16, 0);
    struct pollfd pfd = { fd, POLLIN, 0 };
    if (poll(&pfd, 1, 100) > 0) {
      ssize_t n = recv(fd, reply, sizeof reply, 0);
      if (n >= 16 && get32(reply) == 0 && get32(reply + 4) == 0xc0ffee) { memcpy(cid, reply + 8, 8); connected = 1; }
    }
  }
  if (!connected) { fprintf(stderr, "no connect reply from %s:%d\n", host, port); return 1; }

  size_t opt_len = 0;
  uint8_t opts[300];
  if (passkey) {
    char url[256];
    int n = snprintf(url, sizeof url, "/%s/announce", passkey);
    opts[0] = 2; opts[1] = (uint8_t)n; memcpy(opts + 2, url, n); opt_len = 2 + n;
  }

  uint64_t sent_at[MAX_WINDOW];
  uint32_t slot_tid[MAX_WINDOW];
  memset(sent_at, 0, sizeof sent_at);
  uint64_t start = now_us(), deadline = start + (uint64_t)(duration * 1e6);
  long sent = 0, received = 0, lost = 0, errors = 0, next_fill = from, fill_end = from + fill - 1;
  uint32_t generation = 0;
  uint64_t cid_at = start;

  for (;;) {
    uint64_t t = now_us();
    if (t - cid_at >= CID_REFRESH_US) { /* refresh the connection ID; the reply is handled below */
      uint8_t c[16];
      put64(c, 0x41727101980ull); put32(c + 8, 0); put32(c + 12, CONNECT_TID);
      send(fd, c, 16, 0);
      cid_at = t - CID_REFRESH_US + 1000000; /* retry in 1 s unless the reply arrives */
    }
    int stop_sending = t >= deadline || (fill > 0 && next_fill > fill_end);
    /* Fill every free slot; resend slots that waited over a second (lost). */
    for (int s = 0; s < window && !stop_sending; s++) {
      if (sent_at[s] != 0 && t - sent_at[s] < 1000000) continue;
      if (sent_at[s] != 0) lost++;
      if (fill > 0 && next_fill > fill_end) break;
      uint32_t peer = fill > 0 ? (uint32_t)next_fill++ : 1 + rnd() % peer_pool;
      uint32_t ih = fill > 0 || fixed_ih ? 1 + peer % ih_pool : 1 + rnd() % ih_pool;
      generation++;
      slot_tid[s] = ((generation & 0xfffff) << 12) | (uint32_t)s;
      memcpy(pkt, cid, 8); put32(pkt + 8, 1); put32(pkt + 12, slot_tid[s]);
      ih_of(ih, pkt + 16);
      snprintf((char *)pkt + 36, 21, "-BE0001-%012u", peer);
      put64(pkt + 56, 0); put64(pkt + 64, (peer % 2) ? 1000 : 0); put64(pkt + 72, 0);
      put32(pkt + 80, 0); put32(pkt + 84, 0); put32(pkt + 88, peer); put32(pkt + 92, (uint32_t)numwant);
      pkt[96] = (uint8_t)((1024 + peer % 60000) >> 8); pkt[97] = (uint8_t)(1024 + peer % 60000);
      size_t len = 98;
      if (pool_size > 0) { const uint8_t *o = pool_opts[peer % pool_size]; memcpy(pkt + 98, o, 2 + o[1]); len += 2 + o[1]; }
      else { memcpy(pkt + 98, opts, opt_len); len += opt_len; }
      if (send(fd, pkt, len, 0) < 0) { if (errno != EAGAIN && errno != ECONNREFUSED) errors++; sent_at[s] = 0; continue; }
      sent_at[s] = now_us();
      sent++;
    }
    int outstanding = 0;
    for (int s = 0; s < window; s++) if (sent_at[s]) outstanding++;
    if (stop_sending && (outstanding == 0 || t >= deadline + 1000000)) break;
    struct pollfd pfd = { fd, POLLIN, 0 };
    if (poll(&pfd, 1, 10) <= 0) continue;
    for (;;) {
      ssize_t n = recv(fd, reply, sizeof reply, MSG_DONTWAIT);
      if (n < 0) break;
      if (n < 8) continue;
      uint32_t tid = get32(reply + 4);
      if (tid == CONNECT_TID) {
        if (n >= 16 && get32(reply) == 0) { memcpy(cid, reply + 8, 8); cid_at = now_us(); }
        continue;
      }
      int s = (int)(tid & 0xfff);
      if (s >= window || slot_tid[s] != tid || sent_at[s] == 0) continue;
      uint64_t lat = now_us() - sent_at[s];
      hist[lat > HIST_US ? HIST_US : lat]++;
      sent_at[s] = 0;
      if (get32(reply) == 1) received++; else errors++;
    }
  }
  double secs = (now_us() - start) / 1e6;
  long total = 0, p50 = 0, p99 = 0, seen = 0;
  for (int i = 0; i <= HIST_US; i++) total += hist[i];
  for (int i = 0; i <= HIST_US; i++) {
    seen += hist[i];
    if (!p50 && seen * 2 >= total) p50 = i;
    if (!p99 && seen * 100 >= total * 99) { p99 = i; break; }
  }
  printf("udp announces=%ld ok=%ld errors=%ld lost=%ld seconds=%.2f rate=%.0f p50_us=%ld p99_us=%ld\n",
         sent, received, errors, lost, secs, received / secs, p50, p99);
  return 0;
}
