/*
 * dbclient.c: libmariadb, loaded with dlopen, driven through its
 * non-blocking API so that every call keeps a deadline in milliseconds
 * (dbclient.h).
 */
#include "core/dbclient.h"

#include <dlfcn.h>
#include <errno.h>
#include <mariadb/mysql.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/err.h"
#include "util/secretfile.h"

#define HC_LIBMARIADB "libmariadb.so.3"
#define PASSWORD_MAX 512

/* The library calls used, each resolved once by name. */
#define DB_CALLS(X) X(mysql_server_init) X(mysql_init) X(mysql_options) \
    X(mysql_close) X(mysql_error) X(mysql_errno) X(mysql_get_socket) \
    X(mysql_get_timeout_value_ms) X(mysql_real_connect_start) \
    X(mysql_real_connect_cont) X(mysql_real_query_start) X(mysql_real_query_cont) \
    X(mysql_store_result_start) X(mysql_store_result_cont) X(mysql_fetch_row) \
    X(mysql_fetch_lengths) X(mysql_num_fields) X(mysql_free_result) \
    X(mysql_affected_rows) X(mysql_get_ssl_cipher)

static struct {
#define FIELD(f) __typeof__(f) *f;
    DB_CALLS(FIELD)
#undef FIELD
} api;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256]; /* written once, under load_once */

struct hc_db {
    MYSQL *m;
    char where[300];
};

struct hc_db_result {
    MYSQL_RES *r;
};

static void load(void)
{
    void *h = dlopen(HC_LIBMARIADB, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error,
                 "cannot load %s (package "
                 "libmariadb3): %s",
                 HC_LIBMARIADB, dlerror());
        return;
    }
#define RESOLVE(f)                                                              \
    if (!load_error[0] && !(*(void **)&api.f = dlsym(h, #f)))                   \
        snprintf(load_error, sizeof load_error, "%s has no %s", HC_LIBMARIADB, #f);
    DB_CALLS(RESOLVE)
#undef RESOLVE
    /* mysql_library_init, before any thread calls mysql_init. */
    if (!load_error[0] && api.mysql_server_init(0, NULL, NULL) != 0)
        snprintf(load_error, sizeof load_error, "%s: mysql_library_init failed", HC_LIBMARIADB);
    if (load_error[0])
        memset(&api, 0, sizeof api); /* never half loaded */
}

CK_RV hc_db_load(hc_err_t *err)
{
    pthread_once(&load_once, load);
    if (load_error[0])
        return hc_err(err, CKR_GENERAL_ERROR, "%s", load_error);
    return CKR_OK;
}

/* Waits for what the library asked for (`status`), until the deadline:
 * the events for its _cont call, or -1 when the deadline passed. */
static int wait_io(MYSQL *m, int status, uint64_t deadline)
{
    for (;;) {
        uint64_t now = hc_now_ms();
        if (now >= deadline)
            return -1;
        uint64_t left = deadline - now;
        bool lib_timer = false;
        if (status & MYSQL_WAIT_TIMEOUT) {
            unsigned t = api.mysql_get_timeout_value_ms(m);
            if (t < left) {
                left = t;
                lib_timer = true;
            }
        }
        struct pollfd p = { .fd = api.mysql_get_socket(m) };
        if (status & MYSQL_WAIT_READ)
            p.events |= POLLIN;
        if (status & MYSQL_WAIT_WRITE)
            p.events |= POLLOUT;
        if (status & MYSQL_WAIT_EXCEPT)
            p.events |= POLLPRI;
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            if (lib_timer)
                return MYSQL_WAIT_TIMEOUT;
            continue; /* the deadline check above ends it */
        }
        int ev = 0;
        if (p.revents & (POLLIN | POLLERR | POLLHUP))
            ev |= MYSQL_WAIT_READ;
        if (p.revents & (POLLOUT | POLLERR | POLLHUP))
            ev |= MYSQL_WAIT_WRITE;
        if (p.revents & POLLPRI)
            ev |= MYSQL_WAIT_EXCEPT;
        return ev & (status | MYSQL_WAIT_READ | MYSQL_WAIT_WRITE);
    }
}

static void where_of(const hc_db_endpoint_t *ep, char *out, size_t size)
{
    if (ep->socket[0])
        snprintf(out, size, "socket %s", ep->socket);
    else
        snprintf(out, size, "host %s port %u", ep->host, ep->port ? ep->port : 3306);
}

static bool set_options(MYSQL *m, const hc_shared_cfg_t *cfg)
{
    unsigned backstop_s = 1;
    my_bool yes = 1;
    bool ok = api.mysql_options(m, MYSQL_OPT_NONBLOCK, 0) == 0 &&
              api.mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &backstop_s) == 0 &&
              api.mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &backstop_s) == 0 &&
              api.mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &backstop_s) == 0;
    if (ok && cfg->tls == HC_TLS_VERIFY)
        ok = api.mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &yes) == 0 &&
             api.mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes) == 0 &&
             (!cfg->tls_ca[0] || api.mysql_options(m, MYSQL_OPT_SSL_CA, cfg->tls_ca) == 0);
    return ok;
}

hc_db_t *hc_db_connect(const hc_shared_cfg_t *cfg, const hc_db_endpoint_t *ep, unsigned timeout_ms,
                       hc_err_t *err)
{
    if (hc_db_load(err) != CKR_OK)
        return NULL;
    uint64_t deadline = hc_now_ms() + timeout_ms;
    hc_db_t *db = calloc(1, sizeof *db);
    if (!db) {
        hc_err(err, CKR_HOST_MEMORY, "out of memory");
        return NULL;
    }
    where_of(ep, db->where, sizeof db->where);
    if (!(db->m = api.mysql_init(NULL)) || !set_options(db->m, cfg)) {
        hc_err(err, CKR_GENERAL_ERROR,
               "shared cache %s: cannot set up a MariaDB "
               "connection",
               db->where);
        hc_db_close(db);
        return NULL;
    }
    unsigned char pw[PASSWORD_MAX];
    size_t pwlen = 0;
    if (cfg->password_file[0] && hc_secret_read("password file", cfg->password_file, pw,
                                                sizeof pw - 1, &pwlen, err) != CKR_OK) {
        hc_err_append(err, CKR_GENERAL_ERROR, " ([shared-cache] password-file)");
        hc_db_close(db);
        return NULL;
    }
    pw[pwlen] = '\0';
    MYSQL *ret = NULL;
    int st =
        api.mysql_real_connect_start(&ret, db->m, ep->socket[0] ? "localhost" : ep->host, cfg->user,
                                     cfg->password_file[0] ? (char *)pw : NULL, cfg->database,
                                     ep->port, ep->socket[0] ? ep->socket : NULL, 0);
    while (st) {
        int ev = wait_io(db->m, st, deadline);
        if (ev < 0)
            break;
        st = api.mysql_real_connect_cont(&ret, db->m, ev);
    }
    OPENSSL_cleanse(pw, sizeof pw);
    if (ret && db->m->passwd) /* the library's copy, kept for reconnects we never make */
        OPENSSL_cleanse(db->m->passwd, strlen(db->m->passwd));
    if (ret && cfg->tls == HC_TLS_VERIFY && !api.mysql_get_ssl_cipher(db->m)) {
        /* The library promised to refuse; a connection without TLS is not
         * used even if it did not. */
        hc_err(err, CKR_GENERAL_ERROR,
               "shared cache %s: tls = verify, but the "
               "connection is not encrypted; refused",
               db->where);
        hc_db_close(db);
        return NULL;
    }
    if (!ret) {
        if (st)
            hc_err(err, CKR_GENERAL_ERROR,
                   "shared cache %s: no connection within "
                   "%u ms",
                   db->where, timeout_ms);
        else
            hc_err(err, CKR_GENERAL_ERROR, "shared cache %s: %s", db->where,
                   api.mysql_error(db->m));
        hc_db_close(db);
        return NULL;
    }
    return db;
}

void hc_db_close(hc_db_t *db)
{
    if (!db)
        return;
    if (db->m)
        api.mysql_close(db->m);
    free(db);
}

const char *hc_db_where(const hc_db_t *db)
{
    return db->where;
}

CK_RV hc_db_query(hc_db_t *db, const char *sql, size_t len, unsigned timeout_ms,
                  hc_db_result_t **res, hc_err_t *err)
{
    if (res)
        *res = NULL;
    uint64_t deadline = hc_now_ms() + timeout_ms;
    int failed = 0;
    int st = api.mysql_real_query_start(&failed, db->m, sql, (unsigned long)len);
    while (st) {
        int ev = wait_io(db->m, st, deadline);
        if (ev < 0)
            return hc_err(err, CKR_GENERAL_ERROR,
                          "shared cache %s: no answer within "
                          "%u ms",
                          db->where, timeout_ms);
        st = api.mysql_real_query_cont(&failed, db->m, ev);
    }
    if (failed)
        return hc_err(err, CKR_GENERAL_ERROR, "shared cache %s: %s (error %u)", db->where,
                      api.mysql_error(db->m), api.mysql_errno(db->m));
    MYSQL_RES *r = NULL;
    st = api.mysql_store_result_start(&r, db->m);
    while (st) {
        int ev = wait_io(db->m, st, deadline);
        if (ev < 0)
            return hc_err(err, CKR_GENERAL_ERROR,
                          "shared cache %s: result not read "
                          "within %u ms",
                          db->where, timeout_ms);
        st = api.mysql_store_result_cont(&r, db->m, ev);
    }
    if (!r && api.mysql_errno(db->m))
        return hc_err(err, CKR_GENERAL_ERROR, "shared cache %s: %s (error %u)", db->where,
                      api.mysql_error(db->m), api.mysql_errno(db->m));
    if (r && !res) {
        api.mysql_free_result(r);
        return CKR_OK;
    }
    if (r && !(*res = malloc(sizeof **res))) {
        api.mysql_free_result(r);
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    }
    if (r)
        (*res)->r = r;
    return CKR_OK;
}

bool hc_db_row(hc_db_result_t *res, unsigned n, const char **val, size_t *len)
{
    if (!res || api.mysql_num_fields(res->r) != n)
        return false;
    MYSQL_ROW row = api.mysql_fetch_row(res->r);
    unsigned long *lens = row ? api.mysql_fetch_lengths(res->r) : NULL;
    if (!row || !lens)
        return false;
    for (unsigned i = 0; i < n; i++) {
        val[i] = row[i];
        len[i] = row[i] ? lens[i] : 0;
    }
    return true;
}

unsigned long long hc_db_affected(hc_db_t *db)
{
    return api.mysql_affected_rows(db->m);
}

void hc_db_free(hc_db_result_t *res)
{
    if (!res)
        return;
    api.mysql_free_result(res->r);
    free(res);
}
