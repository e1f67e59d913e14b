/*
 * udp_batch: a UDP socket read and written in batches, for the UDP frontend
 * (src/frontend/udp/batch-socket.ts).
 *
 * Why by hand: node:dgram hands every datagram to JavaScript on its own (a Buffer with its own
 * backing store, a rinfo object built property by property, the address printed by inet_ntop, a
 * callback through the async-hooks machinery) and sends every reply on its own (a send request
 * object, an address lookup, a completion callback). At saturation on this project's bench machine
 * a dgram server that only echoes a fixed reply cost 8.6 µs of CPU per datagram, opentracker 4.9 µs
 * per whole announce; batched, the bare tracker's UDP announce went from 15.7 to 9.7 µs
 * (BENCHMARKS.md). At low rates, where a wake-up finds one datagram, both cost the same: the wake-up
 * dominates. No npm package does batched UDP for Node (recvmmsg/sendmmsg): libuv has recvmmsg, but
 * node:dgram does not enable it.
 *
 * What it does: one non-blocking socket, watched by a uv_poll handle on Node's own event loop.
 * When it is readable, recvmmsg takes up to BATCH datagrams into slots of a Buffer the caller gave
 * (`in`), with each one's length, family, port and address in an Int32Array (`meta`, 8 words per
 * datagram), and ONE call into JavaScript handles them all. The callback writes its replies into
 * another Buffer (`out`) and lists them in `outMeta` (offset, length, index of the datagram
 * answered, 3 words each; their count in the word after them); sendmmsg sends them to the
 * addresses they came from in one system call. The batch stays open for replies until the call
 * returns, and napi_make_callback returns only after the microtasks it queued have run: a reply
 * that waited for a promise settled during the batch (the privtrak hook's journal commit, made at
 * the batch's end: src/turn-end.ts) still leaves with the batch. Then the open word after the count
 * is cleared, and replies that come later (an asynchronous hook) go out with sendTo().
 * A reply the kernel cannot take now (EAGAIN: the send buffer is full) is dropped and counted, as
 * UDP may drop it on the way anyway; the client asks again.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "napi_util.h"
#include <uv.h>
#ifdef __linux__ /* recvmmsg and sendmmsg are Linux's: elsewhere the addon has no udp* functions */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define BATCH 64
#define META_WORDS 8
#define OUT_WORDS 3
/* outMeta's two control words after the replies' words: how many are staged; 1 while the batch is
 * open for replies (JavaScript sets it, this file clears it once the callback has returned). */
#define CTL_COUNT (BATCH * OUT_WORDS)
#define CTL_OPEN (CTL_COUNT + 1)
#define OUT_META_WORDS (CTL_COUNT + 2)
/* Reads per readable event before the loop gets its turn back (timers, HTTP): one batch, about
 * 0.6 ms of announces at most; libuv reads 32 datagrams per event for node:dgram. */
#define MAX_ROUNDS 1
/* A read of this many datagrams or more is not followed by a pause: the per-read costs are already
 * spread thin, and near saturation (or under a closed-loop load, whose clients wait for replies
 * before sending more) a pause would only idle the core. */
#define COALESCE_BELOW 16

struct udp_batch {
  uv_poll_t poll;
  /* Read coalescing (coalesce()): when datagrams keep arriving faster than the loop can be ready
   * for them, a batch that drained the socket is followed by a pause of coalesce_ns before the next
   * read, timed by a timerfd watched by pause_poll, so the next batch finds several datagrams
   * waiting instead of one. At moderate rates a wake-up, a call into JavaScript, a journal commit
   * and a sendmmsg per one or two datagrams cost more than the datagrams themselves (BENCHMARKS.md).
   * The loop stays free meanwhile (HTTP, timers); a sleep would block it. */
  uv_poll_t pause_poll;
  int pause_fd;         /* the timerfd; -1 until coalescing is first turned on */
  uint64_t coalesce_ns; /* 0: never pause */
  uint64_t ready_ns;    /* when the socket was last ready to be read again (uv_hrtime) */
  int paused;
  int fd;
  int family; /* of the socket: AF_INET or AF_INET6 */
  int polling;
  int closed;        /* close() was called: no more reads, no more calls into JavaScript */
  int handles_open;  /* libuv handles not yet closed (the socket's poll; pause_poll once it exists) */
  int handle_closed; /* libuv is done with every handle (on_close ran for each) */
  int finalized;     /* the JavaScript handle was collected */
  napi_env env;
  napi_ref callback;
  napi_ref buffers; /* an array holding in, meta, out, outMeta: kept alive while the socket is */
  napi_async_context async;
  unsigned char *in;
  size_t slot;
  int32_t *meta;
  unsigned char *out;
  size_t out_len;
  int32_t *out_meta;
  double dropped;
  double send_errors;
  double sent_batched; /* replies sent by sendmmsg with their batch */
  double sent_alone;   /* replies sent by sendTo (after their batch) */
  double reads;        /* recvmmsg calls that returned datagrams: datagrams per read = received / reads */
  double pauses;       /* reads followed by a coalescing pause */
  struct mmsghdr rx[BATCH];
  struct iovec rx_iov[BATCH];
  struct sockaddr_storage from[BATCH];
  struct mmsghdr tx[BATCH];
  struct iovec tx_iov[BATCH];
};

/* Reads `want` arguments, the first an open socket, which it returns; NULL (an exception pending) otherwise. */
static struct udp_batch *socket_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  void *p = NULL;
  if (!args(env, info, want, argv)) return NULL;
  if (napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL || ((struct udp_batch *)p)->closed) {
    napi_throw_type_error(env, NULL, "not an open udp batch socket");
    return NULL;
  }
  return p;
}

/* [a, b] as a JavaScript array. */
static napi_value pair(napi_env env, napi_value a, napi_value b) {
  napi_value result;
  napi_create_array_with_length(env, 2, &result);
  napi_set_element(env, result, 0, a);
  napi_set_element(env, result, 1, b);
  return result;
}

/* `n` numbers as a JavaScript array. */
static napi_value numbers(napi_env env, const double *v, uint32_t n) {
  napi_value result, x;
  napi_create_array_with_length(env, n, &result);
  for (uint32_t i = 0; i < n; i++) {
    napi_create_double(env, v[i], &x);
    napi_set_element(env, result, i, x);
  }
  return result;
}

/* `ss`'s address as inet_ntop writes it (node:dgram's form) into `text`; returns its port. */
static int address_text(const struct sockaddr_storage *ss, char text[INET6_ADDRSTRLEN]) {
  text[0] = '\0';
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, INET6_ADDRSTRLEN);
    return ntohs(a->sin6_port);
  }
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, text, INET6_ADDRSTRLEN);
    return ntohs(a->sin_port);
  }
  return 0;
}

/* Parses `host` (a literal IPv4 or IPv6 address) and `port` into `ss`; 0 if `host` is no address. */
static int to_sockaddr(const char *host, int port, int socket_family, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct in_addr v4;
  if (inet_pton(AF_INET, host, &v4) == 1) {
    if (socket_family == AF_INET6) { /* an IPv4 client of a dual-stack socket: ::ffff:a.b.c.d */
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
      a->sin6_family = AF_INET6;
      a->sin6_port = htons((uint16_t)port);
      a->sin6_addr.s6_addr[10] = 0xff;
      a->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&a->sin6_addr.s6_addr[12], &v4, 4);
      *len = sizeof *a;
    } else {
      struct sockaddr_in *a = (struct sockaddr_in *)ss;
      a->sin_family = AF_INET;
      a->sin_port = htons((uint16_t)port);
      a->sin_addr = v4;
      *len = sizeof *a;
    }
    return 1;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  if (socket_family == AF_INET6 && inet_pton(AF_INET6, host, &a->sin6_addr) == 1) {
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    *len = sizeof *a;
    return 1;
  }
  return 0;
}

/* Fills the datagram's meta words: length (-1: larger than a slot), family 4|6, port, address bytes. */
static void describe(struct udp_batch *s, int i) {
  int32_t *m = s->meta + i * META_WORDS;
  memset(m, 0, META_WORDS * sizeof *m);
  m[0] = (s->rx[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)s->rx[i].msg_len;
  unsigned char *addr = (unsigned char *)(m + 3);
  const struct sockaddr_storage *ss = &s->from[i];
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    m[1] = 4;
    m[2] = ntohs(a->sin_port);
    memcpy(addr, &a->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    m[2] = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      m[1] = 4;
      memcpy(addr, &a->sin6_addr.s6_addr[12], 4);
    } else {
      m[1] = 6;
      memcpy(addr, &a->sin6_addr, 16);
    }
  }
}

/* Sends the callback's `count` staged replies; a reply that cannot go now is dropped and counted. */
static void send_staged(struct udp_batch *s, int received, int count) {
  int n = 0;
  for (int j = 0; j < count && j < BATCH; j++) {
    int32_t off = s->out_meta[j * OUT_WORDS], len = s->out_meta[j * OUT_WORDS + 1], idx = s->out_meta[j * OUT_WORDS + 2];
    if (off < 0 || len <= 0 || (size_t)off + (size_t)len > s->out_len || idx < 0 || idx >= received) {
      s->send_errors++;
      continue;
    }
    s->tx_iov[n].iov_base = s->out + off;
    s->tx_iov[n].iov_len = (size_t)len;
    memset(&s->tx[n].msg_hdr, 0, sizeof s->tx[n].msg_hdr);
    s->tx[n].msg_hdr.msg_iov = &s->tx_iov[n];
    s->tx[n].msg_hdr.msg_iovlen = 1;
    s->tx[n].msg_hdr.msg_name = &s->from[idx];
    s->tx[n].msg_hdr.msg_namelen = s->rx[idx].msg_hdr.msg_namelen;
    n++;
  }
  int k = 0;
  while (k < n) {
    int sent = sendmmsg(s->fd, s->tx + k, (unsigned)(n - k), MSG_DONTWAIT);
    if (sent > 0) {
      k += sent;
      s->sent_batched += sent;
    } else if (sent < 0 && errno == EINTR) {
      continue;
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      s->dropped += n - k; /* the send buffer is full: these replies are lost, as on the wire */
      return;
    } else {
      s->send_errors++; /* this reply's address was refused (e.g. EPERM by a firewall): skip it */
      k++;
    }
  }
}

/* Calls the JavaScript callback with the number of datagrams received. */
static void call_js(struct udp_batch *s, int received) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[1], result;
  napi_get_reference_value(env, s->callback, &cb);
  napi_get_global(env, &recv); /* make_callback needs an object as `this` */
  napi_create_int32(env, received, &argv[0]);
  /* make_callback: as a callback from the event loop. Called from libuv (no callback scope around
   * it), it runs the nextTicks and microtasks the callback queued before it returns. */
  napi_status st = napi_make_callback(env, s->async, recv, cb, 1, argv, &result);
  if (st != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err); /* as any callback's throw: process 'uncaughtException' */
    }
  }
  napi_close_handle_scope(env, scope);
}

/* Stops reading for coalesce_ns: the timerfd's expiry (on_pause_end) starts it again. */
static void pause_reads(struct udp_batch *s) {
  struct itimerspec t;
  memset(&t, 0, sizeof t);
  t.it_value.tv_sec = (time_t)(s->coalesce_ns / 1000000000u);
  t.it_value.tv_nsec = (long)(s->coalesce_ns % 1000000000u);
  if (timerfd_settime(s->pause_fd, 0, &t, NULL) != 0) return; /* no pause: read on as before */
  uv_poll_stop(&s->poll);
  uv_ref((uv_handle_t *)&s->pause_poll); /* the pause keeps the loop alive, as the stopped socket handle did */
  s->paused = 1;
  s->pauses++;
}

static void on_readable(uv_poll_t *handle, int status, int events);

static void on_pause_end(uv_poll_t *handle, int status, int events) {
  struct udp_batch *s = handle->data;
  uint64_t expirations;
  (void)status;
  (void)events;
  if (read(s->pause_fd, &expirations, sizeof expirations) < 0) { /* EAGAIN: not expired (spurious) */ }
  if (s->closed || !s->paused) return;
  s->paused = 0;
  uv_unref((uv_handle_t *)&s->pause_poll);
  s->ready_ns = uv_hrtime();
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  struct udp_batch *s = handle->data;
  (void)events;
  if (status < 0 || s->closed) return;
  /* Busy: this read came within coalesce_ns of the socket being ready (a datagram was waiting or
   * came soon). Only then does a drained batch pause: an idle tracker answers at once. */
  int busy = s->coalesce_ns > 0 && uv_hrtime() - s->ready_ns < s->coalesce_ns;
  for (int round = 0; round < MAX_ROUNDS && !s->closed; round++) {
    for (int i = 0; i < BATCH; i++) {
      s->rx_iov[i].iov_base = s->in + (size_t)i * s->slot;
      s->rx_iov[i].iov_len = s->slot;
      memset(&s->rx[i].msg_hdr, 0, sizeof s->rx[i].msg_hdr);
      s->rx[i].msg_hdr.msg_iov = &s->rx_iov[i];
      s->rx[i].msg_hdr.msg_iovlen = 1;
      s->rx[i].msg_hdr.msg_name = &s->from[i];
      s->rx[i].msg_hdr.msg_namelen = sizeof s->from[i];
    }
    int n = recvmmsg(s->fd, s->rx, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) break; /* EAGAIN: drained; another error (ICMP-reported) clears with the read */
    s->reads++;
    for (int i = 0; i < n; i++) describe(s, i);
    call_js(s, n);
    /* Closed by the callback: the buffers may be gone with their reference; nothing more is sent. */
    if (s->closed) return;
    s->out_meta[CTL_OPEN] = 0;
    int staged = s->out_meta[CTL_COUNT];
    if (staged > 0) send_staged(s, n, staged);
    if (n < BATCH) {
      if (busy && n < COALESCE_BELOW) {
        pause_reads(s);
        if (s->paused) return;
      }
      break;
    }
  }
  s->ready_ns = uv_hrtime();
}

/* The struct is freed when both libuv (on_close) and the JavaScript handle (finalize) are done with
 * it: a handle used after close() must still find its `closed` flag, not freed memory. */
static void on_close(uv_handle_t *handle) {
  struct udp_batch *s = handle->data;
  if (--s->handles_open > 0) return;
  close(s->fd);
  if (s->pause_fd >= 0) close(s->pause_fd);
  s->handle_closed = 1;
  if (s->finalized) free(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct udp_batch *s = data;
  s->finalized = 1;
  /* Never closed: only at exit (until close() the callback's reference keeps the handle alive). */
  if (s->handle_closed) free(s);
}

/* open(host, port, bufferSize, in, slot, meta, out, outMeta, onBatch): an unbound-to-JS socket,
 * bound to host:port ("::" takes IPv4 clients too). Throws an Error with errno on failure. */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  napi_value argv[9], result;
  if (!args(env, info, 9, argv)) return NULL;
  char host[64];
  size_t host_len;
  int32_t port, bufsize, slot;
  void *in, *meta, *out, *out_meta;
  size_t in_len, meta_len, out_len, out_meta_len;
  napi_valuetype cb_type;
  napi_typedarray_type ta_type;
  napi_value ab;
  size_t ab_off;
  if (napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok || napi_get_value_int32(env, argv[1], &port) != napi_ok ||
      napi_get_value_int32(env, argv[2], &bufsize) != napi_ok || napi_get_buffer_info(env, argv[3], &in, &in_len) != napi_ok ||
      napi_get_value_int32(env, argv[4], &slot) != napi_ok ||
      napi_get_typedarray_info(env, argv[5], &ta_type, &meta_len, &meta, &ab, &ab_off) != napi_ok || ta_type != napi_int32_array ||
      napi_get_buffer_info(env, argv[6], &out, &out_len) != napi_ok ||
      napi_get_typedarray_info(env, argv[7], &ta_type, &out_meta_len, &out_meta, &ab, &ab_off) != napi_ok || ta_type != napi_int32_array ||
      napi_typeof(env, argv[8], &cb_type) != napi_ok || cb_type != napi_function || port < 0 || port > 65535 || slot <= 0 ||
      (size_t)slot * BATCH > in_len || meta_len < BATCH * META_WORDS || out_meta_len < OUT_META_WORDS) {
    napi_throw_type_error(env, NULL, "open(host, port, bufferSize, in, slot, meta: Int32Array, out, outMeta: Int32Array, onBatch)");
    return NULL;
  }
  struct in6_addr probe6;
  int family = inet_pton(AF_INET6, host, &probe6) == 1 ? AF_INET6 : AF_INET;
  struct sockaddr_storage ss;
  socklen_t ss_len;
  if (!to_sockaddr(host, port, family, &ss, &ss_len)) return throw_errno(env, "inet_pton", EINVAL);
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (family == AF_INET6) {
    int off = 0; /* "::" takes IPv4 clients too, as node:dgram's udp6 does */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (bufsize > 0) { /* capped by the kernel (net.core.rmem_max / wmem_max), as with dgram */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
  }
  if (bind(fd, (struct sockaddr *)&ss, ss_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  struct udp_batch *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, "calloc", ENOMEM);
  }
  s->fd = fd;
  s->pause_fd = -1;
  s->family = family;
  s->env = env;
  s->in = in;
  s->slot = (size_t)slot;
  s->meta = meta;
  s->out = out;
  s->out_len = out_len;
  s->out_meta = out_meta;
  uv_loop_t *loop;
  napi_value keep, name;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &s->poll, fd) != 0) {
    close(fd);
    free(s);
    return throw_errno(env, "uv_poll_init", EINVAL);
  }
  s->poll.data = s;
  s->handles_open = 1;
  napi_create_reference(env, argv[8], 1, &s->callback);
  napi_create_array_with_length(env, 4, &keep);
  napi_set_element(env, keep, 0, argv[3]);
  napi_set_element(env, keep, 1, argv[5]);
  napi_set_element(env, keep, 2, argv[6]);
  napi_set_element(env, keep, 3, argv[7]);
  napi_create_reference(env, keep, 1, &s->buffers);
  napi_create_string_utf8(env, "privtrak:udp-batch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, keep, name, &s->async);
  napi_create_external(env, s, finalize, NULL, &result);
  return result;
}

/* start(socket): begins reading (the callback may run from the next turn of the loop on). */
static napi_value udp_start(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct udp_batch *s = socket_args(env, info, 1, argv);
  if (s == NULL) return NULL;
  if (!s->polling) {
    int rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
    if (rc != 0) return throw_errno(env, "uv_poll_start", -rc);
    s->polling = 1;
  }
  return NULL;
}

/* sendTo(socket, buffer, host, port): one datagram now; returns bytes sent, 0 if it would block, or -errno. */
static napi_value udp_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  struct udp_batch *s = socket_args(env, info, 4, argv);
  if (s == NULL) return NULL;
  void *data;
  size_t len;
  char host[64];
  size_t host_len;
  int32_t port;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], host, sizeof host, &host_len) != napi_ok || napi_get_value_int32(env, argv[3], &port) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendTo(socket, buffer, host, port)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t ss_len;
  ssize_t n;
  if (!to_sockaddr(host, port, s->family, &ss, &ss_len)) {
    n = -EINVAL;
  } else {
    do n = sendto(s->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, ss_len);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      n = (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
      if (n == 0) s->dropped++;
      else s->send_errors++;
    } else {
      s->sent_alone++;
    }
  }
  napi_create_int64(env, (int64_t)n, &result);
  return result;
}

/* address(socket): [host, port] the socket is bound to. */
static napi_value udp_address(napi_env env, napi_callback_info info) {
  napi_value argv[1], host_v, port_v;
  struct udp_batch *s = socket_args(env, info, 1, argv);
  if (s == NULL) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0) return throw_errno(env, "getsockname", errno);
  char text[INET6_ADDRSTRLEN];
  int port = address_text(&ss, text);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &host_v);
  napi_create_int32(env, port, &port_v);
  return pair(env, host_v, port_v);
}

/* peerText(socket, i): the IPv6 address datagram i of the batch being handled came from, as text;
 * JavaScript builds IPv4 text from the meta bytes itself. */
static napi_value udp_peer_text(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  struct udp_batch *s = socket_args(env, info, 2, argv);
  if (s == NULL) return NULL;
  int32_t i;
  if (napi_get_value_int32(env, argv[1], &i) != napi_ok || i < 0 || i >= BATCH) {
    napi_throw_range_error(env, NULL, "peerText(socket, i): i is a datagram of the batch");
    return NULL;
  }
  char text[INET6_ADDRSTRLEN];
  address_text(&s->from[i], text);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &result);
  return result;
}

/* coalesce(socket, microseconds): the pause after a drained batch while the socket is busy (0: none;
 * at most 1 s). The timerfd is made the first time it is turned on. */
static napi_value udp_coalesce(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct udp_batch *s = socket_args(env, info, 2, argv);
  if (s == NULL) return NULL;
  int32_t us;
  if (napi_get_value_int32(env, argv[1], &us) != napi_ok || us < 0 || us > 1000000) {
    napi_throw_range_error(env, NULL, "coalesce(socket, microseconds): 0 to 1000000");
    return NULL;
  }
  if (us > 0 && s->pause_fd < 0) {
    uv_loop_t *loop;
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0) return throw_errno(env, "timerfd_create", errno);
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &s->pause_poll, tfd) != 0) {
      close(tfd);
      return throw_errno(env, "uv_poll_init", EINVAL);
    }
    s->pause_fd = tfd;
    s->pause_poll.data = s;
    s->handles_open++;
    int rc = uv_poll_start(&s->pause_poll, UV_READABLE, on_pause_end);
    if (rc != 0) return throw_errno(env, "uv_poll_start", -rc);
    /* It keeps the loop alive only during a pause (pause_reads refs it), when the socket's handle is stopped. */
    uv_unref((uv_handle_t *)&s->pause_poll);
  }
  s->coalesce_ns = (uint64_t)us * 1000u;
  return NULL;
}

/* stats(socket): [replies dropped (the send buffer was full), replies the kernel refused, replies
 * sent with their batch (sendmmsg), replies sent alone (sendTo), reads that returned datagrams,
 * reads followed by a coalescing pause]. */
static napi_value udp_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct udp_batch *s = socket_args(env, info, 1, argv);
  if (s == NULL) return NULL;
  const double v[6] = {s->dropped, s->send_errors, s->sent_batched, s->sent_alone, s->reads, s->pauses};
  return numbers(env, v, 6);
}

/* close(socket): stops reading, releases the callback and buffers; the fd closes with the handle. */
static napi_value udp_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct udp_batch *s = socket_args(env, info, 1, argv);
  if (s == NULL) return NULL;
  s->closed = 1;
  if (s->polling) uv_poll_stop(&s->poll);
  napi_async_destroy(env, s->async);
  napi_delete_reference(env, s->callback);
  napi_delete_reference(env, s->buffers);
  uv_close((uv_handle_t *)&s->poll, on_close);
  if (s->pause_fd >= 0) uv_close((uv_handle_t *)&s->pause_poll, on_close);
  return NULL;
}

void udp_batch_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"udpOpen", NULL, udp_open, NULL, NULL, NULL, napi_default, NULL},
    {"udpStart", NULL, udp_start, NULL, NULL, NULL, napi_default, NULL},
    {"udpSendTo", NULL, udp_send_to, NULL, NULL, NULL, napi_default, NULL},
    {"udpAddress", NULL, udp_address, NULL, NULL, NULL, napi_default, NULL},
    {"udpPeerText", NULL, udp_peer_text, NULL, NULL, NULL, napi_default, NULL},
    {"udpStats", NULL, udp_stats, NULL, NULL, NULL, napi_default, NULL},
    {"udpCoalesce", NULL, udp_coalesce, NULL, NULL, NULL, napi_default, NULL},
    {"udpClose", NULL, udp_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
#else
void udp_batch_define(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
#endif
