#include "CLibPQ.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

// Each wrapper's libpq function, resolved by name once libpq is loaded. Only
// `lake_PQconnectdbParams` can be the first call (every other one takes its connection or a result of
// it), so only it checks that loading worked.
static struct {
    PGconn *(*connectdbParams)(const char *const *, const char *const *, int);
    int (*libVersion)(void);
    ConnStatusType (*status)(const PGconn *);
    PGTransactionStatusType (*transactionStatus)(const PGconn *);
    char *(*errorMessage)(const PGconn *);
    void (*finish)(PGconn *);
    PGresult *(*execParams)(PGconn *, const char *, int, const Oid *, const char *const *, const int *, const int *, int);
    ExecStatusType (*resultStatus)(const PGresult *);
    char *(*resultErrorField)(const PGresult *, int);
    char *(*resultErrorMessage)(const PGresult *);
    void (*clear)(PGresult *);
    char *(*cmdTuples)(PGresult *);
    int (*ntuples)(const PGresult *);
    int (*nfields)(const PGresult *);
    char *(*fname)(const PGresult *, int);
    Oid (*ftype)(const PGresult *, int);
    int (*getisnull)(const PGresult *, int, int);
    char *(*getvalue)(const PGresult *, int, int);
    PQnoticeProcessor (*setNoticeProcessor)(PGconn *, PQnoticeProcessor, void *);
} pq;
static int loaded;
static char load_error[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof load_error, "cannot load libpq, the PostgreSQL client library (install libpq5): %s", dlerror());
        return;
    }
#define RESOLVE(field, name) \
    if (!(*(void **)&pq.field = dlsym(lib, name))) { \
        snprintf(load_error, sizeof load_error, "libpq.so.5 lacks %s", name); \
        return; \
    }
    RESOLVE(connectdbParams, "PQconnectdbParams")
    RESOLVE(libVersion, "PQlibVersion")
    RESOLVE(status, "PQstatus")
    RESOLVE(transactionStatus, "PQtransactionStatus")
    RESOLVE(errorMessage, "PQerrorMessage")
    RESOLVE(finish, "PQfinish")
    RESOLVE(execParams, "PQexecParams")
    RESOLVE(resultStatus, "PQresultStatus")
    RESOLVE(resultErrorField, "PQresultErrorField")
    RESOLVE(resultErrorMessage, "PQresultErrorMessage")
    RESOLVE(clear, "PQclear")
    RESOLVE(cmdTuples, "PQcmdTuples")
    RESOLVE(ntuples, "PQntuples")
    RESOLVE(nfields, "PQnfields")
    RESOLVE(fname, "PQfname")
    RESOLVE(ftype, "PQftype")
    RESOLVE(getisnull, "PQgetisnull")
    RESOLVE(getvalue, "PQgetvalue")
    RESOLVE(setNoticeProcessor, "PQsetNoticeProcessor")
#undef RESOLVE
    loaded = 1;
}

const char *lake_pq_load_error(void) {
    pthread_once(&load_once, load);
    return loaded ? NULL : load_error;
}

PGconn *lake_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname) {
    if (lake_pq_load_error()) return NULL;
    return pq.connectdbParams(keywords, values, expand_dbname);
}
int lake_PQlibVersion(void) {
    if (lake_pq_load_error()) return 0;
    return pq.libVersion();
}
ConnStatusType lake_PQstatus(const PGconn *conn) { return pq.status(conn); }
PGTransactionStatusType lake_PQtransactionStatus(const PGconn *conn) { return pq.transactionStatus(conn); }
char *lake_PQerrorMessage(const PGconn *conn) { return pq.errorMessage(conn); }
void lake_PQfinish(PGconn *conn) { pq.finish(conn); }
PGresult *lake_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                            const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                            int resultFormat) {
    return pq.execParams(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
}
ExecStatusType lake_PQresultStatus(const PGresult *res) { return pq.resultStatus(res); }
char *lake_PQresultErrorField(const PGresult *res, int fieldcode) { return pq.resultErrorField(res, fieldcode); }
char *lake_PQresultErrorMessage(const PGresult *res) { return pq.resultErrorMessage(res); }
void lake_PQclear(PGresult *res) { pq.clear(res); }
char *lake_PQcmdTuples(PGresult *res) { return pq.cmdTuples(res); }
int lake_PQntuples(const PGresult *res) { return pq.ntuples(res); }
int lake_PQnfields(const PGresult *res) { return pq.nfields(res); }
char *lake_PQfname(const PGresult *res, int field_num) { return pq.fname(res, field_num); }
Oid lake_PQftype(const PGresult *res, int field_num) { return pq.ftype(res, field_num); }
int lake_PQgetisnull(const PGresult *res, int tup_num, int field_num) { return pq.getisnull(res, tup_num, field_num); }
char *lake_PQgetvalue(const PGresult *res, int tup_num, int field_num) { return pq.getvalue(res, tup_num, field_num); }

// The buffer of `lake_PQcaptureNotices`: its capacity first, then the text.
typedef struct {
    size_t size;
    char *text;
} notice_buffer;

static void keep_notice(void *arg, const char *message) {
    notice_buffer *b = arg;
    snprintf(b->text, b->size, "%s", message);
}

void *lake_PQcaptureNotices(PGconn *conn, char *buffer, size_t size) {
    notice_buffer *b = malloc(sizeof *b);
    if (!b) return NULL;
    b->size = size;
    b->text = buffer;
    buffer[0] = 0;
    pq.setNoticeProcessor(conn, keep_notice, b);
    return b;
}
