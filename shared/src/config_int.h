/*
 * config_int.h: what config.c (the reader: lines, sections, whole-file
 * checks) and config_keys.c (the table of keys: parser, default, doc)
 * share. Not for use outside those two files.
 */
#ifndef HC_CONFIG_INT_H
#define HC_CONFIG_INT_H

#include "config.h"
#include "util/err.h"

/* The sections, as bits: a key's row says in which it may appear; the
 * reader sets the bits of the section it is in ([sshca] is a profile:
 * HC_S_PROFILE | HC_S_SSHCA). */
enum {
    HC_S_CORE = 1u << 0,
    HC_S_AGENT = 1u << 1,
    HC_S_TOKEN = 1u << 2,
    HC_S_CLIENT = 1u << 3,
    HC_S_PROFILE = 1u << 4, /* any of [pkcs11] [pdns] [bind] [sshca] [cli] */
    HC_S_PDNS = 1u << 5,
    HC_S_SSHCA = 1u << 6,
    HC_S_SHARED = 1u << 7,
    /* Sections that exist once, whose defaults are set before reading. */
    HC_S_ONCE = HC_S_CORE | HC_S_AGENT | HC_S_PDNS | HC_S_SSHCA | HC_S_SHARED,
};

/* inih pulls lines through config.c's reader, which counts them. */
struct hc_cfg_reader {
    const char *text, *end;
    int line;
    bool too_long;
    int too_long_line;
};

/* One parse: where the reader is and what the current section fills. */
struct hc_cfg_parse {
    const char *name; /* the file, in messages */
    struct hc_cfg_reader rd;
    hc_config_t *cfg;
    hc_err_t *err;
    bool failed; /* the first error is kept, the rest ignored */
    char section[128];
    unsigned sec; /* HC_S_* bits of the current section; 0: none */
    hc_token_cfg_t *cur_token;
    hc_profile_cfg_t *cur_profile;
    hc_client_cfg_t *cur_client;
};

/* Records the first error as "FILE:LINE: [SECTION] KEY: what" (without
 * KEY when it is NULL); returns false. */
bool hc_cfg_fail(struct hc_cfg_parse *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* `key = value` in the current section: parsed by its row of the table;
 * a key with no row there is refused, the message listing the section's
 * keys. False (p->failed) on error. */
bool hc_cfg_value(struct hc_cfg_parse *p, const char *key, const char *value);

/* Sets the defaults of the rows of sections `sec` (their value text run
 * through their parser, so a default obeys the rules a value does): of
 * HC_S_ONCE on a fresh config, HC_S_TOKEN or HC_S_CLIENT on a new
 * section (p->cur_token or p->cur_client set). False on an error (a
 * default the table's own parser refuses: a bug, caught by the tests). */
bool hc_cfg_defaults(struct hc_cfg_parse *p, unsigned sec);

/* The HC_S_* bits of profile `id`'s section: the common keys, and its own. */
unsigned hc_cfg_profile_sections(int id);
/* A values array (one per row of the table, zeroed), for hc_config_t and
 * each [client]; freed with what its values hold. NULL when out of memory. */
hc_cfg_value_t *hc_cfg_values_new(void);
void hc_cfg_values_free(hc_cfg_value_t *v);
/* Whether the [client] gave any of the issue keys of its own. */
bool hc_cfg_client_sets_issue(const hc_client_cfg_t *c);

#endif
