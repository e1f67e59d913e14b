/*
 * Open-loop tracker load generator: announces are SCHEDULED at a fixed rate (evenly spaced, or a
 * seeded Poisson process) whatever the tracker does, and each one's latency is measured from its
 * scheduled time, not from when it could be sent. A closed-loop generator (wrk, udp-load) waits for
 * a reply before it sends the next request, so a tracker that stalls for 100 ms is simply sent less
 * during those 100 ms and the stall hides in a handful of slow samples ("coordinated omission").
 * Here every request scheduled during a stall waits for it, and its latency says so.
 *
 * Same pools and announces as udp-load.c and http-announce.lua: info_hash i (1..IH_POOL) is
 * ih_of(i), peer p (1..PEER_POOL) is "-BE0001-%012u" on port 1024 + p % 60000, a seeder if p is even.
 *
 * usage: open-loop MODE HOST PORT RATE DURATION_S [option value]...
 *   MODE: udp | http-close (one TCP connection per announce, "Connection: close") |
 *         http-keepalive (CONNS persistent HTTP/1.1 connections, one request in flight on each, no pipelining)
 *   RATE: announces per second offered (1..1000000); DURATION_S: measured seconds (at most 600)
 * options:
 *   conns C            HTTP: connections (keep-alive) or concurrent connections (close) (default 64)
 *   max-outstanding N  requests in flight plus waiting for a free connection (default 10000; UDP at most
 *                      65535); a request scheduled while N are outstanding is dropped and counted
 *   poisson SEED       exponential gaps with this seed instead of even spacing
 *   passkeys FILE      one passkey per line: peer p announces with passkey number p % lines, on
 *                      PATH (HTTP) or as BEP 41 URL data (UDP)
 *   path FMT           announce path, %s = the passkey (default /%s/announce with passkeys, else /announce)
 *   ih-pool N          info_hashes (default 1000)    peer-pool N  peers (default 100000)
 *   numwant N          (default 50)                  timeout S    a request unanswered this long is a timeout (default 5)
 *   warmup S           send at RATE for S seconds first, counting nothing (default 0, at most 60)
 *   interval S         one line of statistics every S seconds (default 10)
 *
 * A request waiting for a free connection at its scheduled time is a "late start"; the wait is in
 * its latency. A timeout enters the histogram at the timeout (a lower bound), so lost replies cannot
 * make the tail look better; connection errors are counted but not in the histogram.
 * Output: one line per interval (t= ... by completion time) and a final line, key=value:
 *   scheduled= sent= ok= errors= (failed= error replies, neterr= connection/protocol errors)
 *   timeouts= dropped= late= rate= (answered per second) p50_us= p90_us= p99_us= p999_us= max_us=
 *   slip_max_us= (the generator's own lateness when a connection was free: should stay small)
 * Counts add up: scheduled = ok + errors + timeouts + dropped; sent = those that got onto a socket
 * (a request still waiting for a connection after `timeout` is a timeout that was never sent).
 * Bounded: refuses DURATION_S > 600; everything outstanding ends within `timeout` after the last
 * scheduled request. Loopback use only (it is a benchmark tool).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "load-pools.h"

enum mode { MODE_UDP, MODE_HTTP_CLOSE, MODE_HTTP_KEEPALIVE };

#define MAX_PASSKEY 64
#define MAX_PASSKEYS 1000000
#define UDP_SLOT_BITS 16
#define UDP_MAX_SLOTS 65535u                   /* slot 0xffff is the connect request's */
#define UDP_CONNECT_SLOT 0xffffu
#define CID_REFRESH_NS 50000000000ull          /* BEP 15: a connection ID is good for a minute */
#define RESP_BUF 4096                          /* response bytes kept per connection (headers + body start) */
#define SCAN_NS 100000000ull                   /* timeouts are looked for every 100 ms */
#define TAG_UDP (1ull << 32)
#define TAG_TIMER (2ull << 32)

/* ---- time ---- */
static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- log-linear latency histogram (µs): exact below 1024 µs, then 128 sub-buckets per power of two (< 0.8%) ---- */
#define HIST_LINEAR 1024
#define HIST_SUB 128
#define HIST_MAX_EXP 40
#define HIST_BUCKETS (HIST_LINEAR + (HIST_MAX_EXP - 10 + 1) * HIST_SUB)

struct hist { uint64_t n[HIST_BUCKETS]; uint64_t count, max_us; };

static int bucket_of(uint64_t us) {
  if (us < HIST_LINEAR) return (int)us;
  int e = 63 - __builtin_clzll(us);
  if (e > HIST_MAX_EXP) { e = HIST_MAX_EXP; us = (2ull << HIST_MAX_EXP) - 1; }
  return HIST_LINEAR + (e - 10) * HIST_SUB + (int)((us >> (e - 7)) & (HIST_SUB - 1));
}
/* The highest value a bucket holds: percentiles are reported as "at most". */
static uint64_t bucket_top(int b) {
  if (b < HIST_LINEAR) return (uint64_t)b;
  int e = 10 + (b - HIST_LINEAR) / HIST_SUB, sub = (b - HIST_LINEAR) % HIST_SUB;
  return (((uint64_t)(HIST_SUB + sub)) << (e - 7)) + (1ull << (e - 7)) - 1;
}
static void hist_add(struct hist *h, uint64_t ns) {
  uint64_t us = ns / 1000;
  h->n[bucket_of(us)]++;
  h->count++;
  if (us > h->max_us) h->max_us = us;
}
static uint64_t hist_pct(const struct hist *h, double q) {
  if (h->count == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999999);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int b = 0; b < HIST_BUCKETS; b++) {
    seen += h->n[b];
    if (seen >= rank) { uint64_t t = bucket_top(b); return t < h->max_us ? t : h->max_us; }
  }
  return h->max_us;
}

/* ---- counters: one set for the whole run, one per interval ---- */
struct stats {
  uint64_t scheduled, sent, ok, failed, neterr, timeouts, dropped, late;
  struct hist h;
};
static struct stats total, interval_stats;

/* ---- pools: load-pools.h (the same as udp-load.c / http-announce.lua / hashes.mjs) ---- */

/* Natural log without libm (the build line is plain `cc -O2`): x = m·2^e, ln m by the atanh series. */
static double ln(double x) {
  int e = 0;
  while (x >= 2.0) { x /= 2.0; e++; }
  while (x < 1.0) { x *= 2.0; e--; }
  double s = (x - 1.0) / (x + 1.0), s2 = s * s, term = s, sum = 0;
  for (int k = 1; k < 40; k += 2) { sum += term / k; term *= s2; }
  return 2.0 * sum + e * 0.69314718055994530942;
}

/* ---- settings ---- */
static enum mode mode;
static const char *host;
static int port;
static double rate, duration_s, warmup_s, interval_s = 10, timeout_s = 5;
static int conns = 64, poisson;
static uint32_t max_outstanding = 10000, ih_pool = 1000, peer_pool = 100000;
/* fixed-ih 1: peer p always announces info_hash (p % IH_POOL) + 1 (http-announce.lua's FIXED_IH), so the
 * tracker holds at most PEER_POOL peer/torrent pairs; otherwise each announce draws both at random and
 * the pairs (peers, baselines) grow with every announce for the whole run. */
static int fixed_ih = 0;
static uint32_t pick_ih(uint32_t peer) { return fixed_ih ? 1 + peer % ih_pool : 1 + rnd() % ih_pool; }
static int32_t numwant = 50;
static char (*passkeys)[MAX_PASSKEY + 1];
static uint32_t passkey_count;
static const char *path_fmt;
static struct sockaddr_in target;

static uint64_t t0, measure_from, schedule_end, timeout_ns;

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s udp|http-close|http-keepalive HOST PORT RATE DURATION_S [conns C] [max-outstanding N] [fixed-ih 0|1]"
                  " [poisson SEED] [passkeys FILE] [path FMT] [ih-pool N] [peer-pool N] [numwant N] [timeout S]"
                  " [warmup S] [interval S]\n", argv0);
  exit(2);
}
static void die(const char *msg) { fprintf(stderr, "open-loop: %s\n", msg); exit(2); }

static void load_passkeys(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) { perror(file); exit(2); }
  passkeys = calloc(MAX_PASSKEYS, sizeof *passkeys);
  if (!passkeys) die("out of memory");
  char line[512];
  while (fgets(line, sizeof line, f)) {
    size_t n = strcspn(line, "\r\n \t");
    if (n == 0) continue;
    if (n > MAX_PASSKEY) die("a passkey is longer than 64 characters");
    if (passkey_count == MAX_PASSKEYS) die("more than 1,000,000 passkeys");
    memcpy(passkeys[passkey_count], line, n);
    passkeys[passkey_count][n] = 0;
    passkey_count++;
  }
  fclose(f);
  if (passkey_count == 0) die("the passkeys file is empty");
}

/* The path format must hold exactly one %s (with passkeys) or none (without), and no other %. */
static void check_path(void) {
  int s = 0;
  for (const char *p = path_fmt; *p; p++) {
    if (*p != '%') continue;
    if (p[1] != 's') die("path: only %s may follow a %");
    s++; p++;
  }
  if (s != (passkeys ? 1 : 0)) die(passkeys ? "path must contain %s (the passkey)" : "path must not contain %s without passkeys");
  if (path_fmt[0] != '/') die("path must start with /");
  /* BEP 41 carries the path in one URLData option (at most 255 bytes); HTTP gets the same bound. */
  size_t longest = 0;
  for (uint32_t i = 0; i < passkey_count; i++) { size_t n = strlen(passkeys[i]); if (n > longest) longest = n; }
  if (strlen(path_fmt) - (passkeys ? 2 : 0) + longest > 255) die("the announce path would be longer than 255 bytes");
}

static void announce_path(uint32_t peer, char *out, size_t cap) {
  if (passkeys) snprintf(out, cap, path_fmt, passkeys[peer % passkey_count]);
  else snprintf(out, cap, "%s", path_fmt);
}

/* ---- the schedule and the queue of requests waiting for a free slot ---- */
static uint64_t next_at;           /* scheduled time of the next request */
static uint64_t *queue;            /* scheduled times, oldest first (ring) */
static uint32_t q_head, q_len, q_counted_late;
static uint32_t in_flight;

static void advance_schedule(void) {
  if (poisson) {
    double u = (double)(rnd64() >> 11) / 9007199254740992.0; /* [0, 1) */
    next_at += (uint64_t)(-ln(1.0 - u) / rate * 1e9);
  } else {
    /* From the start, not from the previous time: no rounding drift over millions of requests. */
    static uint64_t k;
    k++;
    next_at = t0 + (uint64_t)((double)k * 1e9 / rate);
  }
}

/* Requests scheduled during the warm-up are sent and answered but not counted. */
static int measured(uint64_t sched) { return sched >= measure_from; }
#define COUNT(sched, field) do { if (measured(sched)) { total.field++; interval_stats.field++; } } while (0)

static void record_latency(uint64_t sched, uint64_t ns) {
  if (!measured(sched)) return;
  hist_add(&total.h, ns);
  hist_add(&interval_stats.h, ns);
}

/* ---- UDP (BEP 15 + BEP 41) ---- */
static int udp_fd;
static uint8_t cid[8];
static uint64_t cid_at;
static uint64_t *udp_sched;        /* per slot: scheduled time of the request in flight, 0 = free */
static uint32_t *udp_tid;
static uint32_t *free_slots, free_count, slot_count, high_water;
static uint16_t generation;

static void udp_send_connect(uint32_t tid) {
  uint8_t c[16];
  put64(c, 0x41727101980ull); put32(c + 8, 0); put32(c + 12, tid);
  send(udp_fd, c, 16, 0);
}

static void udp_setup(void) {
  udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (udp_fd < 0 || connect(udp_fd, (struct sockaddr *)&target, sizeof target) != 0) { perror("udp connect"); exit(1); }
  int buf = 4 << 20;
  setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(udp_fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  /* BEP 15 connect, retried for up to 5 s, before the schedule starts. */
  uint32_t tid = (0xc0ffu << UDP_SLOT_BITS) | UDP_CONNECT_SLOT;
  for (int attempt = 0; attempt < 50; attempt++) {
    udp_send_connect(tid);
    uint64_t until = now_ns() + 100000000ull;
    while (now_ns() < until) {
      uint8_t r[64];
      ssize_t n = recv(udp_fd, r, sizeof r, 0);
      if (n >= 16 && get32(r) == 0 && get32(r + 4) == tid) { memcpy(cid, r + 8, 8); cid_at = now_ns(); goto connected; }
      if (n < 0) usleep(2000);
    }
  }
  fprintf(stderr, "open-loop: no connect reply from %s:%d\n", host, port);
  exit(1);
connected:;
}

static int udp_dispatch(uint64_t sched) {
  uint32_t s = free_slots[--free_count];
  if (s + 1 > high_water) high_water = s + 1;
  uint32_t peer = 1 + rnd() % peer_pool, ih = pick_ih(peer);
  uint8_t pkt[98 + 300];
  generation++;
  uint32_t tid = ((uint32_t)generation << UDP_SLOT_BITS) | s;
  memcpy(pkt, cid, 8); put32(pkt + 8, 1); put32(pkt + 12, tid);
  ih_of(ih, pkt + 16);
  char pid[21];
  snprintf(pid, sizeof pid, "-BE0001-%012u", peer);
  memcpy(pkt + 36, pid, 20);
  put64(pkt + 56, 0); put64(pkt + 64, (peer % 2) ? 1000 : 0); put64(pkt + 72, 0);
  put32(pkt + 80, 0); put32(pkt + 84, 0); put32(pkt + 88, peer); put32(pkt + 92, (uint32_t)numwant);
  pkt[96] = (uint8_t)((1024 + peer % 60000) >> 8); pkt[97] = (uint8_t)(1024 + peer % 60000);
  size_t len = 98;
  if (passkeys) {
    char p[256];
    announce_path(peer, p, sizeof p);
    size_t n = strlen(p);
    pkt[98] = 2; pkt[99] = (uint8_t)n; memcpy(pkt + 100, p, n);
    len += 2 + n;
  }
  if (send(udp_fd, pkt, len, 0) < 0) {
    free_slots[free_count++] = s;
    return -1;
  }
  udp_tid[s] = tid;
  udp_sched[s] = sched;
  in_flight++;
  return 0;
}

static void udp_readable(uint64_t t) {
  uint8_t r[2048];
  for (;;) {
    ssize_t n = recv(udp_fd, r, sizeof r, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      continue; /* ECONNREFUSED from an ICMP error: the requests it belongs to time out */
    }
    if (n < 8) continue;
    uint32_t tid = get32(r + 4), s = tid & 0xffffu;
    if (s == UDP_CONNECT_SLOT) {
      if (n >= 16 && get32(r) == 0) { memcpy(cid, r + 8, 8); cid_at = t; }
      continue;
    }
    if (s >= slot_count || udp_sched[s] == 0 || udp_tid[s] != tid) continue; /* late reply to a timed-out request */
    uint64_t sched = udp_sched[s];
    udp_sched[s] = 0;
    free_slots[free_count++] = s;
    in_flight--;
    record_latency(sched, t - sched);
    if (get32(r) == 1 && n >= 20) COUNT(sched, ok); else COUNT(sched, failed);
  }
}

static void udp_scan(uint64_t t) {
  for (uint32_t s = 0; s < high_water; s++) {
    if (udp_sched[s] == 0 || t - udp_sched[s] < timeout_ns) continue;
    uint64_t sched = udp_sched[s];
    udp_sched[s] = 0;
    free_slots[free_count++] = s;
    in_flight--;
    record_latency(sched, timeout_ns);
    COUNT(sched, timeouts);
  }
  if (t - cid_at >= CID_REFRESH_NS) { /* a new connection ID; the reply is taken in udp_readable */
    udp_send_connect((0xc0ffu << UDP_SLOT_BITS) | UDP_CONNECT_SLOT);
    cid_at = t - CID_REFRESH_NS + 1000000000ull; /* again in 1 s unless the reply comes */
  }
}

/* ---- HTTP ---- */
enum conn_state { C_CLOSED, C_IDLE, C_CONNECTING, C_WAITING, C_DRAINING };
struct conn {
  int fd;
  uint32_t events; /* what epoll watches for on fd */
  enum conn_state state;
  uint64_t sched, deadline;
  uint32_t req_len, req_off, len;
  int header_len, status, server_closes;
  int64_t content_length;
  uint64_t body_seen;
  char req[1024];
  char buf[RESP_BUF];
};
static struct conn *cs;
static int epfd;

static void ep_set(struct conn *c, uint32_t events, int op) {
  if (op == EPOLL_CTL_MOD && c->events == events) return;
  struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)(c - cs) };
  epoll_ctl(epfd, op, c->fd, &ev);
  c->events = events;
}

static void conn_close(struct conn *c) {
  if (c->fd >= 0) close(c->fd); /* close() drops the fd from epoll */
  c->fd = -1;
  c->state = C_CLOSED;
}

/* The slot is free again: keep-alive connections that the server keeps open go back idle. */
static void conn_release(struct conn *c, int keep) {
  if (!keep) conn_close(c);
  else c->state = C_IDLE;
  in_flight--;
  free_slots[free_count++] = (uint32_t)(c - cs);
}

static void conn_fail(struct conn *c) {
  COUNT(c->sched, neterr);
  conn_release(c, 0);
}

static void build_request(struct conn *c) {
  uint32_t peer = 1 + rnd() % peer_pool, ih = pick_ih(peer);
  uint8_t raw[20];
  ih_of(ih, raw);
  char ihq[61], path[300];
  for (int i = 0; i < 20; i++) snprintf(ihq + 3 * i, 4, "%%%02x", raw[i]);
  announce_path(peer, path, sizeof path);
  int n = snprintf(c->req, sizeof c->req,
                   "GET %s?info_hash=%s&peer_id=-BE0001-%012u&port=%u&uploaded=0&downloaded=0&left=%s&numwant=%d&compact=1 HTTP/1.1\r\n"
                   "Host: %s:%d\r\n%s\r\n",
                   path, ihq, peer, 1024 + peer % 60000, (peer % 2) ? "1000" : "0", numwant, host, port,
                   mode == MODE_HTTP_CLOSE ? "Connection: close\r\n" : "");
  c->req_len = (uint32_t)n;
  c->req_off = 0;
}

static void conn_write(struct conn *c) {
  while (c->req_off < c->req_len) {
    ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) { ep_set(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD); return; }
      conn_fail(c); return;
    }
    c->req_off += (uint32_t)n;
  }
  c->state = C_WAITING;
  ep_set(c, EPOLLIN, EPOLL_CTL_MOD);
}

static int conn_open(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&target, sizeof target) != 0 && errno != EINPROGRESS) { close(c->fd); c->fd = -1; return -1; }
  c->state = C_CONNECTING;
  ep_set(c, EPOLLOUT, EPOLL_CTL_ADD);
  return 0;
}

static int http_dispatch(uint64_t sched) {
  uint32_t s = free_slots[--free_count];
  struct conn *c = &cs[s];
  c->sched = sched;
  c->deadline = sched + timeout_ns;
  c->len = 0; c->header_len = -1; c->status = 0; c->content_length = -1; c->body_seen = 0; c->server_closes = 0;
  build_request(c);
  in_flight++;
  if (c->state == C_IDLE) { c->state = C_WAITING; conn_write(c); return 0; }
  if (conn_open(c) != 0) { conn_fail(c); return 0; }
  return 0;
}

/* Parses the status line and the headers we need once "\r\n\r\n" is in the buffer. */
static int parse_headers(struct conn *c) {
  char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!end) return c->len >= RESP_BUF ? -1 : 0;
  c->header_len = (int)(end - c->buf) + 4;
  if (c->len < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0) return -1;
  c->status = atoi(c->buf + 9);
  for (char *line = memchr(c->buf, '\n', (size_t)c->header_len); line && line < end; line = memchr(line, '\n', (size_t)(end - line))) {
    line++;
    if (strncasecmp(line, "content-length:", 15) == 0) c->content_length = strtoll(line + 15, NULL, 10);
    else if (strncasecmp(line, "connection:", 11) == 0) {
      const char *v = line + 11;
      while (*v == ' ') v++;
      if (strncasecmp(v, "close", 5) == 0) c->server_closes = 1;
    }
    else if (strncasecmp(line, "transfer-encoding:", 18) == 0) return -1; /* trackers send Content-Length */
  }
  return 1;
}

/* A whole response: counted once; then, if either side closes, wait for the server's FIN so the
 * server (the active closer) keeps the TIME_WAIT, not our ephemeral ports. */
static void response_done(struct conn *c, uint64_t t) {
  record_latency(c->sched, t - c->sched);
  const char *body = c->buf + c->header_len;
  size_t stored = c->len - (size_t)c->header_len;
  int ok = c->status == 200 && stored > 0 && body[0] == 'd' && !memmem(body, stored, "14:failure reason", 17);
  if (ok) COUNT(c->sched, ok); else COUNT(c->sched, failed);
  if (mode == MODE_HTTP_KEEPALIVE && !c->server_closes) { conn_release(c, 1); return; }
  c->state = C_DRAINING;
  c->deadline = t + 1000000000ull;
}

static void conn_readable(struct conn *c, uint64_t t) {
  for (;;) {
    char scratch[RESP_BUF];
    char *into = c->len < RESP_BUF ? c->buf + c->len : scratch;
    size_t room = c->len < RESP_BUF ? RESP_BUF - c->len : sizeof scratch;
    ssize_t n = recv(c->fd, into, room, 0);
    if (n == 0) { /* the server closed */
      if (c->state == C_DRAINING) { conn_release(c, 0); return; }
      if (c->state == C_IDLE) { conn_close(c); return; }
      if (c->state == C_WAITING && c->header_len > 0 && c->content_length < 0) { response_done(c, t); conn_release(c, 0); return; }
      conn_fail(c); return; /* closed before a whole response */
    }
    if (n < 0) {
      if (errno == EAGAIN) return;
      if (c->state == C_IDLE) { conn_close(c); return; }
      if (c->state == C_DRAINING) { conn_release(c, 0); return; }
      conn_fail(c); return;
    }
    if (c->state == C_IDLE) { conn_close(c); return; } /* bytes nobody asked for: a broken server */
    if (c->state == C_DRAINING) continue;
    if (into == c->buf + c->len) c->len += (uint32_t)n;
    if (c->header_len < 0) {
      int h = parse_headers(c);
      if (h < 0) { conn_fail(c); return; }
      if (h == 0) continue;
      c->body_seen = c->len - (uint32_t)c->header_len;
    } else {
      c->body_seen += (uint64_t)n;
    }
    if (c->content_length >= 0 && c->body_seen >= (uint64_t)c->content_length) {
      if (c->body_seen > (uint64_t)c->content_length) { conn_fail(c); return; } /* more than asked: no pipelining here */
      response_done(c, t);
      if (c->state != C_DRAINING) return;
    }
  }
}

static void conn_event(struct conn *c, uint32_t events, uint64_t t) {
  if (c->state == C_CONNECTING) {
    int err = 0; socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) { conn_fail(c); return; }
    c->state = C_WAITING;
    conn_write(c);
    return;
  }
  if ((events & EPOLLOUT) && c->state == C_WAITING && c->req_off < c->req_len) { conn_write(c); return; }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn_readable(c, t);
}

static void http_scan(uint64_t t) {
  for (uint32_t s = 0; s < slot_count; s++) {
    struct conn *c = &cs[s];
    if (c->state == C_DRAINING && t >= c->deadline) { conn_release(c, 0); continue; } /* the server did not close: we do */
    if ((c->state == C_CONNECTING || c->state == C_WAITING) && t >= c->deadline) {
      record_latency(c->sched, timeout_ns);
      COUNT(c->sched, timeouts);
      conn_release(c, 0);
    }
  }
}

/* ---- the loop ---- */
static int dispatch(uint64_t sched) { return mode == MODE_UDP ? udp_dispatch(sched) : http_dispatch(sched); }

static void print_line(const char *prefix, const struct stats *s, double secs) {
  uint64_t answered = s->ok + s->failed;
  printf("%s scheduled=%llu sent=%llu ok=%llu errors=%llu failed=%llu neterr=%llu timeouts=%llu dropped=%llu late=%llu"
         " rate=%.0f p50_us=%llu p90_us=%llu p99_us=%llu p999_us=%llu max_us=%llu",
         prefix, (unsigned long long)s->scheduled, (unsigned long long)s->sent, (unsigned long long)s->ok,
         (unsigned long long)(s->failed + s->neterr), (unsigned long long)s->failed, (unsigned long long)s->neterr,
         (unsigned long long)s->timeouts, (unsigned long long)s->dropped, (unsigned long long)s->late,
         secs > 0 ? (double)answered / secs : 0.0,
         (unsigned long long)hist_pct(&s->h, 0.50), (unsigned long long)hist_pct(&s->h, 0.90),
         (unsigned long long)hist_pct(&s->h, 0.99), (unsigned long long)hist_pct(&s->h, 0.999),
         (unsigned long long)s->h.max_us);
}

int main(int argc, char **argv) {
  if (argc < 6 || (argc - 6) % 2 != 0) usage(argv[0]);
  if (strcmp(argv[1], "udp") == 0) mode = MODE_UDP;
  else if (strcmp(argv[1], "http-close") == 0) mode = MODE_HTTP_CLOSE;
  else if (strcmp(argv[1], "http-keepalive") == 0) mode = MODE_HTTP_KEEPALIVE;
  else usage(argv[0]);
  host = argv[2];
  port = atoi(argv[3]);
  rate = atof(argv[4]);
  duration_s = atof(argv[5]);
  const char *passkey_file = NULL;
  for (int i = 6; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "conns") == 0) conns = atoi(v);
    else if (strcmp(k, "max-outstanding") == 0) max_outstanding = (uint32_t)strtoul(v, NULL, 10);
    else if (strcmp(k, "poisson") == 0) { poisson = 1; rng_state ^= strtoull(v, NULL, 10) * 0x9e3779b97f4a7c15ull; if (!rng_state) rng_state = 1; }
    else if (strcmp(k, "passkeys") == 0) passkey_file = v;
    else if (strcmp(k, "path") == 0) path_fmt = v;
    else if (strcmp(k, "ih-pool") == 0) ih_pool = (uint32_t)strtoul(v, NULL, 10);
    else if (strcmp(k, "peer-pool") == 0) peer_pool = (uint32_t)strtoul(v, NULL, 10);
    else if (strcmp(k, "fixed-ih") == 0) fixed_ih = atoi(v) != 0;
    else if (strcmp(k, "numwant") == 0) numwant = atoi(v);
    else if (strcmp(k, "timeout") == 0) timeout_s = atof(v);
    else if (strcmp(k, "warmup") == 0) warmup_s = atof(v);
    else if (strcmp(k, "interval") == 0) interval_s = atof(v);
    else { fprintf(stderr, "open-loop: unknown option %s\n", k); usage(argv[0]); }
  }
  if (!(duration_s > 0) || duration_s > 600) die("DURATION_S must be more than 0 and at most 600");
  if (!(warmup_s >= 0) || warmup_s > 60) die("warmup must be 0..60 s");
  if (!(rate >= 1) || rate > 1000000) die("RATE must be 1..1000000 per second");
  if (!(timeout_s >= 0.01) || timeout_s > 60) die("timeout must be 0.01..60 s");
  if (!(interval_s >= 0.1)) die("interval must be at least 0.1 s");
  if (ih_pool < 1 || peer_pool < 1) die("ih-pool and peer-pool must be at least 1");
  if (port < 1 || port > 65535) die("PORT must be 1..65535");
  if (max_outstanding < 1 || max_outstanding > 1000000) die("max-outstanding must be 1..1000000");
  if (mode == MODE_UDP && max_outstanding > UDP_MAX_SLOTS) die("max-outstanding must be at most 65535 over UDP");
  if (mode != MODE_UDP && (conns < 1 || conns > 60000)) die("conns must be 1..60000");
  if (mode != MODE_UDP && (uint32_t)conns > max_outstanding) die("conns must not exceed max-outstanding");
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &target.sin_addr) != 1) die("HOST must be an IPv4 address");
  if ((ntohl(target.sin_addr.s_addr) >> 24) != 127) die("HOST must be a loopback address (127.x.x.x)");
  if (passkey_file) load_passkeys(passkey_file);
  if (!path_fmt) path_fmt = passkeys ? "/%s/announce" : "/announce";
  check_path();
  timeout_ns = (uint64_t)(timeout_s * 1e9);

  slot_count = mode == MODE_UDP ? max_outstanding : (uint32_t)conns;
  struct rlimit rl;
  if (mode != MODE_UDP && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)slot_count + 32) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)slot_count + 32 ? rl.rlim_max : (rlim_t)slot_count + 32;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)slot_count + 32) die("too few file descriptors for conns (ulimit -n)");
  }
  free_slots = malloc(sizeof *free_slots * slot_count);
  queue = malloc(sizeof *queue * max_outstanding);
  if (!free_slots || !queue) die("out of memory");
  /* Lowest slot on top: a light load keeps reusing the same few connections (and UDP slots). */
  for (uint32_t s = 0; s < slot_count; s++) free_slots[s] = slot_count - 1 - s;
  free_count = slot_count;

  epfd = epoll_create1(0);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  if (epfd < 0 || tfd < 0) { perror("epoll/timerfd"); return 1; }
  struct epoll_event tev = { .events = EPOLLIN, .data.u64 = TAG_TIMER };
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);
  if (mode == MODE_UDP) {
    udp_sched = calloc(slot_count, sizeof *udp_sched);
    udp_tid = calloc(slot_count, sizeof *udp_tid);
    if (!udp_sched || !udp_tid) die("out of memory");
    udp_setup();
    struct epoll_event uev = { .events = EPOLLIN, .data.u64 = TAG_UDP };
    epoll_ctl(epfd, EPOLL_CTL_ADD, udp_fd, &uev);
  } else {
    cs = calloc(slot_count, sizeof *cs);
    if (!cs) die("out of memory");
    for (uint32_t s = 0; s < slot_count; s++) { cs[s].fd = -1; cs[s].state = C_CLOSED; }
  }

  t0 = now_ns() + 1000000ull; /* the first request 1 ms from now */
  next_at = t0;
  measure_from = t0 + (uint64_t)(warmup_s * 1e9);
  schedule_end = measure_from + (uint64_t)(duration_s * 1e9);
  uint64_t interval_ns = (uint64_t)(interval_s * 1e9), next_print = measure_from + interval_ns, next_scan = t0 + SCAN_NS;
  uint64_t interval_start = measure_from, slip_max = 0, armed = 0, hard_stop = schedule_end + timeout_ns + 2000000000ull;
  int warm_reported = warmup_s == 0;
  struct epoll_event evs[256];
  fprintf(stderr, "open-loop: %s %s:%d, %.0f/s %s for %.0f s%s\n", argv[1], host, port, rate, poisson ? "(Poisson)" : "(even)",
          duration_s, warmup_s > 0 ? " after a warm-up" : "");

  for (;;) {
    uint64_t t = now_ns();
    /* 1. Every request due by now joins the queue (or is dropped over the cap). */
    while (next_at <= t && next_at < schedule_end) {
      COUNT(next_at, scheduled);
      if (in_flight + q_len >= max_outstanding) COUNT(next_at, dropped);
      else { queue[(q_head + q_len) % max_outstanding] = next_at; q_len++; }
      advance_schedule();
    }
    /* 2. Oldest first, onto free connections/slots. */
    while (q_len > 0 && free_count > 0) {
      uint64_t sched = queue[q_head];
      q_head = (q_head + 1) % max_outstanding; q_len--;
      if (q_counted_late > 0) q_counted_late--;
      else if (measured(sched) && t - sched > slip_max) slip_max = t - sched;
      if (dispatch(sched) != 0) { COUNT(sched, sent); COUNT(sched, neterr); continue; }
      COUNT(sched, sent);
    }
    /* Whatever still waits found no free slot when it was due: a late start (counted once). */
    for (uint32_t i = q_counted_late; i < q_len; i++) COUNT(queue[(q_head + i) % max_outstanding], late);
    q_counted_late = q_len;
    /* 3. Timeouts, also of requests still waiting for a slot (oldest first). */
    if (t >= next_scan) {
      if (mode == MODE_UDP) udp_scan(t); else http_scan(t);
      while (q_len > 0 && t - queue[q_head] >= timeout_ns) {
        uint64_t sched = queue[q_head];
        q_head = (q_head + 1) % max_outstanding; q_len--;
        if (q_counted_late > 0) q_counted_late--;
        /* Never got a free connection within the timeout: a timeout too (never sent). */
        record_latency(sched, timeout_ns);
        COUNT(sched, timeouts);
      }
      next_scan = t + SCAN_NS;
    }
    if (!warm_reported && t >= measure_from) { fprintf(stderr, "open-loop: warm-up done, measuring\n"); warm_reported = 1; }
    /* 4. Interval lines, by completion time. */
    if (t >= next_print && next_print <= schedule_end) {
      char prefix[32];
      snprintf(prefix, sizeof prefix, "t=%g", (double)(next_print - measure_from) / 1e9);
      print_line(prefix, &interval_stats, (double)(t - interval_start) / 1e9);
      printf("\n");
      fflush(stdout);
      memset(&interval_stats, 0, sizeof interval_stats);
      interval_start = t;
      next_print += interval_ns;
    }
    /* 5. Done when the schedule is over (its last interval line printed) and nothing is outstanding
     *    (bounded by the timeouts). */
    if (t >= schedule_end && next_print > schedule_end && q_len == 0 && in_flight == 0) break;
    if (t >= hard_stop) break;
    /* 6. Sleep until the next due request, scan or line, or until a socket is ready. */
    uint64_t wake = next_scan;
    if (next_at < schedule_end && next_at < wake) wake = next_at;
    if (next_print <= schedule_end && next_print < wake) wake = next_print;
    if (wake != armed) {
      struct itimerspec its = { .it_value = { .tv_sec = (time_t)(wake / 1000000000ull), .tv_nsec = (long)(wake % 1000000000ull) } };
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
      armed = wake;
    }
    int n = epoll_wait(epfd, evs, 256, 1000);
    t = now_ns();
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == TAG_TIMER) { uint64_t x; if (read(tfd, &x, sizeof x) < 0) {} armed = 0; }
      else if (tag == TAG_UDP) udp_readable(t);
      else conn_event(&cs[tag], evs[i].events, t);
    }
  }
  /* Anything left at the hard stop is a timeout (it had at least `timeout` already). */
  if (mode != MODE_UDP) for (uint32_t s = 0; s < slot_count; s++) {
    struct conn *c = &cs[s];
    if (c->state == C_CONNECTING || c->state == C_WAITING) { record_latency(c->sched, timeout_ns); COUNT(c->sched, timeouts); }
  }
  if (mode == MODE_UDP) for (uint32_t s = 0; s < high_water; s++)
    if (udp_sched[s]) { record_latency(udp_sched[s], timeout_ns); COUNT(udp_sched[s], timeouts); }
  while (q_len > 0) { uint64_t sched = queue[q_head]; q_head = (q_head + 1) % max_outstanding; q_len--; record_latency(sched, timeout_ns); COUNT(sched, timeouts); }

  char prefix[64];
  snprintf(prefix, sizeof prefix, "open-loop mode=%s offered=%.0f seconds=%.2f", argv[1], rate, duration_s);
  print_line(prefix, &total, duration_s);
  printf(" slip_max_us=%llu\n", (unsigned long long)(slip_max / 1000));
  return 0;
}
