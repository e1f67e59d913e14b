/* What the addon's C files share (defined in privtrak_native.c). */
#ifndef PRIVTRAK_NAPI_UTIL_H
#define PRIVTRAK_NAPI_UTIL_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stddef.h>

/* Throws an Error "<what> failed (errno N)" with `errno` = -err; returns NULL for the caller to return. */
napi_value throw_errno(napi_env env, const char *what, int err);
/* Reads `want` arguments into argv; throws a TypeError and returns 0 if fewer were given. */
int args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

#endif
