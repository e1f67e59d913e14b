/*
 * privtrak_native: the system calls privtrak needs and Node does not expose. For the memory-mapped
 * journal: mmap (MAP_SHARED, read/write) as an ArrayBuffer, munmap, posix_fallocate, and
 * madvise(MADV_POPULATE_WRITE) to map reserved pages ahead of the stores that fill them. For the
 * HTTP frontend: sendLast, a reply and FIN in one segment. For the UDP frontend: batched reads and
 * writes (udp_batch.c).
 *
 * Why by hand: the npm mmap packages either no longer build on Node 20 (mmap-io) or bring ~150
 * packages (node-gyp, node-pre-gyp) at run time and unmap only when the garbage collector gets to
 * the Buffer (@riaskov/mmap-io); the journal must unmap a segment at a known moment (before it is
 * trimmed and closed) and must reserve disk blocks up front, so that a full disk is an error it can
 * refuse announces on, not a SIGBUS when a page is first touched. N-API: built once, works on
 * every Node version that has it.
 */
#include "napi_util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* One per map() call. The ArrayBuffer's finalizer gets this (not the address: after an explicit
 * unmap the kernel may hand the same address to a later mapping, which must not be touched). The
 * live list finds a mapping by address for unmap(); addresses of live mappings are unique. */
struct mapping {
  void *addr; /* NULL once unmapped */
  size_t len;
  struct mapping *next;
};
static struct mapping *live = NULL;

static struct mapping *find(void *addr) {
  for (struct mapping *m = live; m != NULL; m = m->next)
    if (m->addr == addr) return m;
  return NULL;
}

static void release(struct mapping *m) {
  for (struct mapping **p = &live; *p != NULL; p = &(*p)->next) {
    if (*p == m) {
      *p = m->next;
      break;
    }
  }
  munmap(m->addr, m->len);
  m->addr = NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  struct mapping *m = hint;
  if (m->addr != NULL) release(m);
  free(m);
}

napi_value throw_errno(napi_env env, const char *what, int err) {
  napi_value code, msg, error;
  char text[96];
  snprintf(text, sizeof text, "%s failed (errno %d)", what, err);
  napi_create_int32(env, -err, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_set_named_property(env, error, "errno", code);
  napi_throw(env, error);
  return NULL;
}

int args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return 0;
  }
  return 1;
}

/* map(fd, length): the first `length` bytes of the file, shared with the page cache. */
static napi_value map(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int32_t fd;
  int64_t len;
  if (!args(env, info, 2, argv)) return NULL;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &len) != napi_ok || len <= 0) {
    napi_throw_type_error(env, NULL, "map(fd, length): a file descriptor and a positive length");
    return NULL;
  }
  void *addr = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  struct mapping *m = malloc(sizeof *m);
  if (m == NULL) {
    munmap(addr, (size_t)len);
    return throw_errno(env, "malloc", ENOMEM);
  }
  m->addr = addr;
  m->len = (size_t)len;
  m->next = live;
  live = m;
  if (napi_create_external_arraybuffer(env, addr, (size_t)len, finalize, m, &result) != napi_ok) {
    release(m);
    free(m);
    napi_throw_error(env, NULL, "cannot create an external ArrayBuffer");
    return NULL;
  }
  return result;
}

/* unmap(arrayBuffer): detaches it (every view becomes empty, so no access can fault) and unmaps. */
static napi_value unmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void *data;
  size_t len;
  if (!args(env, info, 1, argv)) return NULL;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "unmap(arrayBuffer): not an ArrayBuffer");
    return NULL;
  }
  struct mapping *m = find(data);
  if (m == NULL) return NULL; /* not ours, or already unmapped */
  /* If it cannot be detached, views of it stay usable: leave the unmapping to the finalizer. */
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) return NULL;
  release(m); /* the finalizer frees the struct */
  return NULL;
}

/* allocate(fd, offset, length): reserves disk blocks (and grows the file) or throws with errno. */
static napi_value allocate(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  int64_t off, len;
  if (!args(env, info, 3, argv)) return NULL;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &off) != napi_ok ||
      napi_get_value_int64(env, argv[2], &len) != napi_ok || off < 0 || len <= 0) {
    napi_throw_type_error(env, NULL, "allocate(fd, offset, length)");
    return NULL;
  }
  int err = posix_fallocate(fd, (off_t)off, (off_t)len);
  if (err != 0) return throw_errno(env, "fallocate", err);
  return NULL;
}

/* populate(arrayBuffer, offset, length): maps the pages writable now, in one call, so the stores
 * that fill them later do not each take a page fault on the announce path. Best effort: returns
 * false where the kernel cannot (before Linux 5.14) or the range is not mapped. */
static napi_value populate(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  void *data;
  size_t len;
  int64_t off, n;
  if (!args(env, info, 3, argv)) return NULL;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok || napi_get_value_int64(env, argv[1], &off) != napi_ok ||
      napi_get_value_int64(env, argv[2], &n) != napi_ok || off < 0 || n <= 0 || (uint64_t)(off + n) > len) {
    napi_throw_type_error(env, NULL, "populate(arrayBuffer, offset, length): a range of the mapping");
    return NULL;
  }
  int ok = 0;
#ifdef MADV_POPULATE_WRITE
  if (data != NULL && find(data) != NULL) ok = madvise((char *)data + off, (size_t)n, MADV_POPULATE_WRITE) == 0;
#endif
  napi_get_boolean(env, ok, &result);
  return result;
}

/* sendLast(fd, buffer): the last bytes of a connection, with FIN in the same segment. send() with
 * MSG_MORE holds the bytes in the socket; shutdown(SHUT_WR) then sets FIN on that held segment and
 * pushes it: one packet instead of data then FIN, so the peer is woken once and ACKs once. Only if
 * the kernel took every byte does it shut down; returns the bytes taken (0 if it would block) or
 * -errno. The caller writes what is left (which pushes the held bytes) and shuts down itself. */
static napi_value send_last(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int32_t fd;
  void *data;
  size_t len;
  if (!args(env, info, 2, argv)) return NULL;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendLast(fd, buffer)");
    return NULL;
  }
  ssize_t n = send(fd, data, len, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) n = (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  else if ((size_t)n == len && shutdown(fd, SHUT_WR) != 0) n = -errno;
  napi_create_int64(env, (int64_t)n, &result);
  return result;
}

void udp_batch_define(napi_env env, napi_value exports); /* udp_batch.c */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"map", NULL, map, NULL, NULL, NULL, napi_default, NULL},
    {"unmap", NULL, unmap, NULL, NULL, NULL, napi_default, NULL},
    {"allocate", NULL, allocate, NULL, NULL, NULL, napi_default, NULL},
    {"populate", NULL, populate, NULL, NULL, NULL, napi_default, NULL},
    {"sendLast", NULL, send_last, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  udp_batch_define(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
