#ifndef CLIBPQ_H
#define CLIBPQ_H

// libpq's types and constants, from its own header; its functions through the wrappers below.
#include <postgresql/libpq-fe.h>

// The libpq calls the PostgreSQL catalog makes, each forwarding to libpq. libpq is loaded
// (`dlopen("libpq.so.5")`) on the first call, not at start-up: only a PostgreSQL catalog needs
// it, and linking it (with its Kerberos, LDAP and TLS libraries) cost every command milliseconds
// of dynamic loading. When it cannot be loaded, `lake_PQconnectdbParams` returns NULL and
// `lake_pq_load_error` says why.
const char *lake_pq_load_error(void);
PGconn *lake_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname);
// libpq's version (e.g. 150018 for 15.18); 0 when it cannot be loaded.
int lake_PQlibVersion(void);
ConnStatusType lake_PQstatus(const PGconn *conn);
PGTransactionStatusType lake_PQtransactionStatus(const PGconn *conn);
char *lake_PQerrorMessage(const PGconn *conn);
void lake_PQfinish(PGconn *conn);
PGresult *lake_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                            const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                            int resultFormat);
ExecStatusType lake_PQresultStatus(const PGresult *res);
char *lake_PQresultErrorField(const PGresult *res, int fieldcode);
char *lake_PQresultErrorMessage(const PGresult *res);
void lake_PQclear(PGresult *res);
char *lake_PQcmdTuples(PGresult *res);
int lake_PQntuples(const PGresult *res);
int lake_PQnfields(const PGresult *res);
// libpq's default notice processor prints every server notice to stderr, among them the FATAL
// a server sends before ending an idle connection, which then came before lake's own message
// about the same failure. This keeps the latest notice in `buffer` (NUL-terminated, cut to
// `size`) instead. Returns what `free` releases after `lake_PQfinish` (NULL: out of memory,
// notices go to stderr as before).
void *lake_PQcaptureNotices(PGconn *conn, char *buffer, size_t size);
char *lake_PQfname(const PGresult *res, int field_num);
Oid lake_PQftype(const PGresult *res, int field_num);
int lake_PQgetisnull(const PGresult *res, int tup_num, int field_num);
char *lake_PQgetvalue(const PGresult *res, int tup_num, int field_num);

#endif
