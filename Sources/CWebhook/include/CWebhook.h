#ifndef CWEBHOOK_H
#define CWEBHOOK_H

#include <stddef.h>

/// What `lake_webhook_post` returns besides libcurl's own codes (CURLcode, 0 = sent).
enum {
    /// libcurl could not be loaded (`dlopen("libcurl.so.4")` failed): `error` says why.
    LAKE_WEBHOOK_NO_LIBCURL = -1,
    /// libcurl loaded but could not start a transfer (out of memory).
    LAKE_WEBHOOK_NO_HANDLE = -2,
};

/// POSTs `length` bytes of `body` as application/json to `url` and waits for the answer, at
/// most `timeout_ms` in all. Returns 0 and the HTTP status in `*status` when an answer came,
/// else libcurl's error code (or one of the codes above) with a message in `error`.
/// libcurl is loaded on the first call, not at start-up: only `lake quality check --webhook`
/// needs it, and linking it (with its TLS, LDAP and Kerberos libraries) cost every command
/// milliseconds of dynamic loading.
int lake_webhook_post(const char *url, const char *body, size_t length, long timeout_ms,
                      long *status, char *error, size_t error_capacity);

#endif
