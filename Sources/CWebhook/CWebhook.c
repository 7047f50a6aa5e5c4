#include "CWebhook.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

// The libcurl entry points we call, resolved by name from the library loaded at run time.
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl;
static char load_error[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof load_error, "cannot load libcurl (install libcurl4): %s", dlerror());
        return;
    }
#define RESOLVE(field, name) \
    if (!(*(void **)&curl.field = dlsym(lib, name))) { \
        snprintf(load_error, sizeof load_error, "libcurl.so.4 lacks %s", name); \
        curl.global_init = NULL; \
        return; \
    }
    RESOLVE(easy_init, "curl_easy_init")
    RESOLVE(easy_setopt, "curl_easy_setopt")
    RESOLVE(easy_perform, "curl_easy_perform")
    RESOLVE(easy_getinfo, "curl_easy_getinfo")
    RESOLVE(easy_cleanup, "curl_easy_cleanup")
    RESOLVE(easy_strerror, "curl_easy_strerror")
    RESOLVE(slist_append, "curl_slist_append")
    RESOLVE(slist_free_all, "curl_slist_free_all")
    RESOLVE(global_init, "curl_global_init")
#undef RESOLVE
    if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "libcurl failed to initialise");
        curl.global_init = NULL;
    }
}

// The answer's body is not needed, only its status: read and dropped.
static size_t discard(char *data, size_t size, size_t count, void *context) {
    (void)data;
    (void)context;
    return size * count;
}

int lake_webhook_post(const char *url, const char *body, size_t length, long timeout_ms,
                      long *status, char *error, size_t error_capacity) {
    pthread_once(&load_once, load);
    if (!curl.global_init) {
        snprintf(error, error_capacity, "%s", load_error);
        return LAKE_WEBHOOK_NO_LIBCURL;
    }
    CURL *h = curl.easy_init();
    if (!h) {
        snprintf(error, error_capacity, "libcurl could not start a transfer");
        return LAKE_WEBHOOK_NO_HANDLE;
    }
    char detail[CURL_ERROR_SIZE] = "";
    // "Expect:" off: curl would otherwise wait up to a second for "100 Continue" before a body
    // over 1 KiB, which many webhook receivers never send.
    struct curl_slist *headers = curl.slist_append(NULL, "Content-Type: application/json");
    headers = curl.slist_append(headers, "Expect:");
    curl.easy_setopt(h, CURLOPT_URL, url);
    curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl.easy_setopt(h, CURLOPT_POST, 1L);
    curl.easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
    curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl.easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    CURLcode rc = curl.easy_perform(h);
    if (rc == CURLE_OK) {
        curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    } else {
        snprintf(error, error_capacity, "%s", detail[0] ? detail : curl.easy_strerror(rc));
    }
    curl.easy_cleanup(h);
    curl.slist_free_all(headers);
    return (int)rc;
}
