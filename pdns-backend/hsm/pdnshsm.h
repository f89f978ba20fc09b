/*
 * pdnshsm.h: `pdns-hsm`, the operator's tool for PowerDNS keys in an HSM:
 * audit (which rows still hold PINs, which resolve through hsmcache),
 * migrate (PINs into the hsmcache PIN store, rows to the hsmcache engine),
 * ds (DS records from the HSM's public keys), check (validate the zone
 * the running pdns_server serves) and warm (ask it for every RRset once,
 * so the signatures are in the persistent cache before clients ask). It reads PowerDNS's gmysql-* settings
 * from pdns.conf (and its include-dir).
 */
#ifndef PDNSHSM_H
#define PDNSHSM_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmcache.h"

typedef struct pdns_settings {
    char host[256], socket[4096], user[256], password[256], dbname[256];
    unsigned port;
    char local_address[256]; /* first local-address, for check */
    unsigned local_port;
    char path[4096]; /* the pdns.conf read */
} pdns_settings_t;

/* pdnsconf.c: reads DIR/pdns.conf and its include-dir. */
int pdns_settings_read(const char *config_dir, pdns_settings_t *s, char *err, size_t size);

/* One cryptokeys row. */
typedef struct key_row {
    unsigned id;
    char zone[256];
    unsigned flags; /* 257 KSK, 256 ZSK */
    bool active;
    char *content; /* as stored */
    /* Parsed from content ("" when absent). */
    char engine[128], slot[128], pin[256], label[256], publabel[256];
    unsigned algorithm;
    bool pkcs11; /* has an Engine: line */
} key_row_t;

typedef struct db db_t;

/* db.c */
db_t *db_open(const pdns_settings_t *s, char *err, size_t size);
void db_close(db_t *db);
/* All key rows, zone order; *rows malloc'ed (free with rows_free). */
int db_key_rows(db_t *db, const char *zone, key_row_t **rows, size_t *n, char *err, size_t size);
void rows_free(key_row_t *rows, size_t n);
/* Replaces rows[i].content by contents[i] for the given rows, in one
 * transaction; a row whose content changed meanwhile aborts it. */
int db_rewrite(db_t *db, const key_row_t *const *rows, char *const *contents, size_t n, char *err,
               size_t size);

/* One RRset of a zone, as PowerDNS serves it. */
typedef struct rrset_name {
    char name[256];
    char type[16];
} rrset_name_t;
/* The authoritative RRsets of `zone` (distinct name and type, enabled
 * records only); *sets malloc'ed. */
int db_zone_rrsets(db_t *db, const char *zone, rrset_name_t **sets, size_t *n, char *err,
                   size_t size);

/* resolver.c: an ldns resolver for the running pdns_server (--server, or
 * pdns.conf's local-address and local-port); NULL on a bad address. */
struct ldns_struct_resolver;
struct pdns_hsm;
struct ldns_struct_resolver *pdns_resolver(const struct pdns_hsm *h);

/* keyrow.c */
void key_row_parse(key_row_t *r);
/* The content with Engine, Slot and PIN replaced (others kept); malloc'ed. */
char *key_row_rewrite(const key_row_t *r, const char *engine, const char *slot);
/* true when `engine` is a p11-kit name for one of hsmcache's modules. */
bool engine_is_hsmcache(const char *engine);
/* The hsmcache token a row's key lives on: for hsmcache rows its Slot;
 * for stock rows the [token] whose module is the Engine and whose label
 * is the Slot. NULL when none. */
const char *row_token(hc_ctx_t *ctx, const key_row_t *r);
/* The key on the token (by Label): its private half if visible, else its
 * public half; 0 when neither is there. */
hc_obj_t row_key(hc_ctx_t *ctx, const key_row_t *r, const char *token);
void wipe_rows_pins(key_row_t *rows, size_t n);

/* Commands: exit status 0 ok, 1 found a problem, 2 usage/setup error. */
struct pdns_hsm;
int cmd_audit(struct pdns_hsm *h);
int cmd_migrate(struct pdns_hsm *h);
int cmd_ds(struct pdns_hsm *h);
int cmd_check(struct pdns_hsm *h);
int cmd_warm(struct pdns_hsm *h);

struct pdns_hsm {
    pdns_settings_t pdns;
    const char *hsmcache_conf; /* NULL: HSMCACHE_CONF or the default */
    const char *engine;        /* what migrated rows name (default hsmcache) */
    const char *zone;          /* ds/check */
    const char *server;        /* check: ADDRESS[:PORT], default pdns.conf's */
    bool apply, sha384;
    int argc;
    char **argv;
};

void pdns_hsm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
