/* test_config.c: the config parser accepts what it documents and names
 * file, line, section and key for everything it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static hc_config_t *parse_ok(const char *text)
{
    hc_config_t *cfg = NULL;
    hc_err_t err = { 0 };
    CK_RV rv = hc_config_parse("t.conf", text, strlen(text), &cfg, &err);
    if (rv != CKR_OK)
        fail_msg("unexpected error: %s", err.msg);
    return cfg;
}

/* Parses `text`, expects failure, returns the message (static). */
static const char *parse_err(const char *text)
{
    static hc_err_t err;
    hc_config_t *cfg = NULL;
    memset(&err, 0, sizeof err);
    assert_int_not_equal(hc_config_parse("t.conf", text, strlen(text), &cfg, &err), CKR_OK);
    assert_null(cfg);
    return err.msg;
}

static void valid_config_with_defaults(void **state)
{
    (void)state;
    hc_config_t *c = parse_ok("; comment\n[core]\npin-store = /p\n"
                              "[token dns]\nmodule = softhsm2 ; inline\nlabel = dns-hsm\n"
                              "max-sessions = 8\n[token ssh]\nmodule = /x.so\nserial = 123\n"
                              "[sshca]\ntokens = ssh\n");
    assert_string_equal(c->pin_store, "/p");
    assert_string_equal(c->cache_dir, HC_DEFAULT_CACHE_DIR);
    assert_int_equal(c->ntokens, 2);
    assert_string_equal(c->tokens[0].module, "softhsm2");
    assert_string_equal(c->tokens[0].label, "dns-hsm");
    assert_int_equal(c->tokens[0].max_sessions, 8);
    assert_int_equal(c->tokens[1].max_sessions, 4);
    assert_string_equal(c->tokens[1].serial, "123");
    assert_true(c->profiles[HC_P_PDNS].signature_cache);   /* default on */
    assert_false(c->profiles[HC_P_SSHCA].signature_cache); /* default off */
    assert_int_equal(c->profiles[HC_P_SSHCA].ntokens, 1);
    hc_config_free(c);
}

static void unknown_key_names_file_line_section_key(void **state)
{
    (void)state;
    const char *m = parse_err("[core]\npin-store = /p\n[token dns]\nmodule = m\nlabell = x\n");
    assert_non_null(strstr(m, "t.conf:5:"));
    assert_non_null(strstr(m, "[token dns]"));
    assert_non_null(strstr(m, "labell"));
    assert_non_null(strstr(m, "unknown key"));
}

static void unknown_section_is_an_error(void **state)
{
    (void)state;
    const char *m = parse_err("[core]\n[cor]\n");
    assert_non_null(strstr(m, "t.conf:2:"));
    assert_non_null(strstr(m, "[cor]"));
}

static void empty_token_section_is_caught(void **state)
{
    (void)state;
    const char *m = parse_err("[token dns]\n\n[core]\n");
    assert_non_null(strstr(m, "t.conf:1:"));
    assert_non_null(strstr(m, "missing key 'module'"));
}

static void token_without_label_or_serial(void **state)
{
    (void)state;
    const char *m = parse_err("[token dns]\nmodule = softhsm2\n");
    assert_non_null(strstr(m, "'label' or 'serial'"));
}

static void bad_values_are_named(void **state)
{
    (void)state;
    const char *m = parse_err("[token a]\nmodule = m\nlabel = l\nmax-sessions = many\n");
    assert_non_null(strstr(m, "t.conf:4:"));
    assert_non_null(strstr(m, "max-sessions"));
    m = parse_err("[pdns]\nsignature-cache = maybe\n");
    assert_non_null(strstr(m, "t.conf:2: [pdns] signature-cache"));
    m = parse_err("[core]\ncache-dir = relative/dir\n");
    assert_non_null(strstr(m, "absolute path"));
    m = parse_err("[core]\nlog-level = loud\n");
    assert_non_null(strstr(m, "log-level"));
}

static void profile_tokens_must_exist(void **state)
{
    (void)state;
    const char *m = parse_err("[token a]\nmodule = m\nlabel = l\n[pdns]\ntokens = a, b\n");
    assert_non_null(strstr(m, "[pdns] tokens"));
    assert_non_null(strstr(m, "token b"));
}

static void invalid_token_names(void **state)
{
    (void)state;
    assert_non_null(strstr(parse_err("[token ../x]\n"), "not a valid token name"));
    assert_non_null(strstr(parse_err("[token .hidden]\n"), "not a valid token name"));
    assert_non_null(strstr(parse_err("[token a]\nmodule=m\nlabel=l\n[token a]\n"), "twice"));
}

static void module_hsmcache_refused(void **state)
{
    (void)state;
    assert_non_null(
        strstr(parse_err("[token a]\nmodule = hsmcache\nlabel = l\n"), "this module itself"));
}

static void long_line_and_syntax_errors(void **state)
{
    (void)state;
    char text[600] = "[core]\npin-store = /";
    memset(text + strlen(text), 'a', 400);
    assert_non_null(strstr(parse_err(text), "t.conf:2: line longer"));
    assert_non_null(strstr(parse_err("[core]\njust words\n"), "t.conf:2: syntax error"));
    assert_non_null(strstr(parse_err("key = value\n"), "outside any section"));
}

static void missing_file_is_named(void **state)
{
    (void)state;
    hc_config_t *cfg;
    hc_err_t err = { 0 };
    assert_int_not_equal(hc_config_load("/nonexistent/hsmcache.conf", &cfg, &err), CKR_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/hsmcache.conf"));
}

/* [shared-cache]: a password file in a private temp dir, with `mode`. */
static char shared_dir[64];
static const char *shared_password(int mode)
{
    static char path[128];
    if (!shared_dir[0]) {
        strcpy(shared_dir, "/tmp/hc-test-config.XXXXXX");
        assert_non_null(mkdtemp(shared_dir));
    }
    snprintf(path, sizeof path, "%s/password", shared_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("s3cret-db-pw\n", f);
    fclose(f);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
    return path;
}

static const char *shared_text(const char *extra, int mode)
{
    static char text[1024];
    snprintf(text, sizeof text,
             "[core]\npin-store = /p\n[shared-cache]\n"
             "socket = /run/mysqld/mysqld.sock\ndatabase = pdns\nuser = hsmcache\n"
             "password-file = %s\n%s",
             shared_password(mode), extra);
    return text;
}

static void shared_cache_section(void **state)
{
    (void)state;
    hc_config_t *c = parse_ok(shared_text("read-host = 10.0.0.2\nread-port = 3307\n"
                                          "node = ns1.example\ntls = no\n"
                                          "purge-interval = 10m\n",
                                          0600));
    assert_true(c->shared.enabled);
    assert_int_equal(c->shared.line, 3);
    assert_string_equal(c->shared.write.socket, "/run/mysqld/mysqld.sock");
    assert_string_equal(c->shared.read.host, "10.0.0.2");
    assert_int_equal(c->shared.read.port, 3307);
    assert_string_equal(c->shared.database, "pdns");
    assert_string_equal(c->shared.user, "hsmcache");
    assert_int_equal(c->shared.read_timeout_ms, 50); /* the default */
    assert_string_equal(c->shared.node, "ns1.example");
    assert_int_equal(c->shared.purge_interval_s, 600);
    hc_config_free(c);
    c = parse_ok("[pdns]\n");
    assert_false(c->shared.enabled);
    assert_true(c->shared.node[0] != '\0'); /* the host name */
    assert_int_equal(c->shared.purge_interval_s, 3600);
    hc_config_free(c);
}

/* Each refusal names the file, the line and the key (or the section). */
static void shared_cache_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *extra, *want[3];
    } bad[] = {
        { "port = 0\n", { "t.conf:8:", "[shared-cache] port", "from 1 to 65535" } },
        { "read-port = 70000\n", { "t.conf:8:", "read-port", "from 1 to 65535" } },
        { "read-socket = relative\n", { "t.conf:8:", "read-socket", "absolute" } },
        { "database = pdns;drop\n", { "t.conf:8:", "database", "not a database name" } },
        { "user = a b\n", { "t.conf:8:", "user", "not a user name" } },
        { "tls = maybe\n", { "t.conf:8:", "tls", "not no or verify" } },
        { "tls = yes\n", { "t.conf:8:", "tls", "use verify" } },
        { "read-timeout-ms = 0\n", { "t.conf:8:", "read-timeout-ms", "from 1 to 10000" } },
        { "read-timeout-ms = 50ms\n", { "t.conf:8:", "read-timeout-ms", "whole number" } },
        { "node = ../x\n", { "t.conf:8:", "node", "not a node name" } },
        { "purge-interval = 0s\n", { "t.conf:8:", "purge-interval", "from 1s to 7d" } },
        { "purge-interval = 8d\n", { "t.conf:8:", "purge-interval", "from 1s to 7d" } },
        { "host = db'1\n", { "t.conf:8:", "host", "not a host name" } },
        { "passwd = x\n", { "t.conf:8:", "passwd", "unknown key" } },
        { "host = db1\n", { "t.conf:3:", "[shared-cache]", "'host' and 'socket' both" } },
        { "read-host = a\nread-socket = /s\n",
          { "t.conf:3:", "[shared-cache]", "'read-host' and 'read-socket'" } },
        { "read-port = 3306\n",
          { "t.conf:3:", "[shared-cache]", "'read-port' without 'read-host'" } },
        { "tls-ca = /ca.pem\n",
          { "t.conf:3:", "[shared-cache]", "'tls-ca' given without tls = verify" } },
        { "[shared-cache]\n", { "t.conf:8:", "[shared-cache]", "given twice" } },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *m = parse_err(shared_text(bad[i].extra, 0600));
        for (int k = 0; k < 3; k++)
            if (!strstr(m, bad[i].want[k]))
                fail_msg("case %zu: '%s' not in: %s", i, bad[i].want[k], m);
    }
    const char *m = parse_err("[shared-cache]\nsocket = /s\nuser = u\n");
    assert_non_null(strstr(m, "t.conf:1: [shared-cache]: missing key 'database'"));
    m = parse_err("[shared-cache]\nsocket = /s\ndatabase = d\n");
    assert_non_null(strstr(m, "missing key 'user'"));
    m = parse_err("[shared-cache]\nport = 3306\ndatabase = d\nuser = u\n");
    assert_non_null(strstr(m, "'port' without 'host'"));
    m = parse_err("[shared-cache]\ndatabase = d\nuser = u\n");
    assert_non_null(strstr(m, "missing key 'host' or 'socket'"));
}

/* The password file: like a PIN file, never readable by group or others. */
static void shared_cache_password_file(void **state)
{
    (void)state;
    static const int modes[] = { 0640, 0604, 0620, 0660, 0644 };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        const char *m = parse_err(shared_text("", modes[i]));
        if (!strstr(m, "t.conf:7: [shared-cache] password-file: password file") ||
            !strstr(m, "group or others") || !strstr(m, "chmod 600"))
            fail_msg("mode %04o: %s", modes[i], m);
        assert_null(strstr(m, "s3cret"));
    }
    hc_config_free(parse_ok(shared_text("", 0400)));
    char link[160];
    snprintf(link, sizeof link, "%s/link", shared_dir);
    unlink(link);
    assert_int_equal(symlink(shared_password(0600), link), 0);
    char text[512];
    snprintf(text, sizeof text,
             "[shared-cache]\nsocket = /s\ndatabase = d\nuser = u\n"
             "password-file = %s\n",
             link);
    assert_non_null(strstr(parse_err(text), "t.conf:5: [shared-cache] password-file: "
                                            "password file"));
    assert_non_null(strstr(parse_err(text), "is a symlink"));
    snprintf(text, sizeof text,
             "[shared-cache]\nsocket = /s\ndatabase = d\nuser = u\n"
             "password-file = %s/absent\n",
             shared_dir);
    assert_non_null(strstr(parse_err(text), "t.conf:5: [shared-cache] password-file: "));
    assert_non_null(strstr(parse_err(text), "No such file"));
    snprintf(text, sizeof text,
             "[shared-cache]\nsocket = /s\ndatabase = d\nuser = u\n"
             "password-file = %s\n",
             shared_dir);
    assert_non_null(strstr(parse_err(text), "not a regular file"));
    unlink(link);
    snprintf(link, sizeof link, "%s/password", shared_dir);
    unlink(link);
    rmdir(shared_dir);
}

/* A profile section's value by key and kind (hc_config_setting), which
 * must be there. */
static const hc_cfg_value_t *setting(const hc_config_t *c, int id, const hc_client_cfg_t *cl,
                                     const char *key, enum hc_cfg_kind kind)
{
    const hc_cfg_value_t *v = hc_config_setting(c, id, cl, key, kind);
    if (!v)
        fail_msg("[%s] %s: no such key of kind %d", hc_profile_name(id), key, (int)kind);
    return v;
}

static bool flag(const hc_config_t *c, int id, const hc_client_cfg_t *cl, const char *key)
{
    return setting(c, id, cl, key, HC_CFG_FLAG)->flag;
}

static long long number(const hc_config_t *c, int id, const hc_client_cfg_t *cl, const char *key)
{
    return setting(c, id, cl, key, HC_CFG_NUMBER)->number;
}

static const hc_strlist_t *list(const hc_config_t *c, int id, const hc_client_cfg_t *cl,
                                const char *key)
{
    return &setting(c, id, cl, key, HC_CFG_LIST)->list;
}

/* The defaults as they were before the table held them, spelled out: a
 * row's default changed by mistake shows here. */
static void defaults_of_an_empty_config(void **state)
{
    (void)state;
    hc_config_t *c = parse_ok("[token t]\nmodule = m\nlabel = l\n"
                              "[client c]\nuid = 0\nkeys = pkcs11:token=t\n");
    assert_string_equal(c->pin_store, "/etc/hsmcache/pins");
    assert_string_equal(c->cache_dir, "/var/lib/hsmcache");
    assert_int_equal(c->memory_cache_entries, 100000);
    assert_true(c->persistent_cache);
    assert_int_equal(c->persistent_cache_mb, 1024);
    assert_int_equal(c->log_level, 1); /* warning */
    assert_string_equal(c->agent.socket, "");
    assert_int_equal(c->agent.timeout_ms, 30000);
    assert_int_equal(c->agent.socket_mode, 0660);
    assert_false(c->agent.has_group);
    assert_int_equal(c->agent.max_connections, 256);
    assert_int_equal(c->agent.max_per_client, 64);
    assert_int_equal(c->tokens[0].max_sessions, 4);
    assert_int_equal(c->clients[0].ops, HC_PERM_SIGN);
    assert_int_equal(c->clients[0].nmechs, 0);
    assert_false(hc_config_setting(c, HC_P_SSHCA, &c->clients[0], "host-certs", HC_CFG_FLAG)->set);
    for (int id = 0; id < HC_P_COUNT; id++) {
        assert_int_equal(c->profiles[id].signature_cache, id == HC_P_PDNS);
        assert_int_equal(c->profiles[id].ntokens, 0);
    }
    assert_true(flag(c, HC_P_PDNS, NULL, "presign"));
    assert_int_equal(number(c, HC_P_PDNS, NULL, "presign-lead"), 48 * 3600);
    assert_int_equal(number(c, HC_P_PDNS, NULL, "presign-rate"), 10);
    assert_int_equal(number(c, HC_P_PDNS, NULL, "presign-interval"), 60);
    assert_int_equal(list(c, HC_P_SSHCA, NULL, "keys")->n, 0);
    assert_null(hc_config_token_limit(c, HC_P_SSHCA)); /* none named: every token */
    assert_string_equal(setting(c, HC_P_SSHCA, NULL, "audit-log", HC_CFG_TEXT)->text,
                        "/var/log/hsmcache/sshca.log");
    assert_true(flag(c, HC_P_SSHCA, NULL, "require-validity"));
    assert_true(flag(c, HC_P_SSHCA, NULL, "require-principals"));
    assert_true(flag(c, HC_P_SSHCA, NULL, "host-certs"));
    assert_false(flag(c, HC_P_SSHCA, NULL, "allow-agent"));
    assert_int_equal(number(c, HC_P_SSHCA, NULL, "max-validity"), 0);
    assert_false(c->shared.enabled);
    assert_int_equal(c->shared.tls, HC_TLS_NO);
    assert_int_equal(c->shared.read_timeout_ms, 50);
    assert_int_equal(c->shared.purge_interval_s, 3600);
    hc_config_free(c);
}

/* An unknown key's message lists the section's keys (from the table): a
 * [client]'s issue keys after the others, with their condition. */
static void unknown_key_lists_the_section(void **state)
{
    (void)state;
    assert_non_null(strstr(parse_err("[core]\nbogus = 1\n"),
                           "t.conf:2: [core] bogus: unknown key (known: pin-store, cache-dir, "
                           "memory-cache-entries, persistent-cache, persistent-cache-mb, "
                           "log-level, agent, agent-timeout)"));
    assert_non_null(strstr(parse_err("[client c]\nbogus = 1\n"),
                           "unknown key (known: uid, group, keys, operations, mechanisms, "
                           "and with operations = issue: allowed-principals, max-validity, "
                           "host-certs, allowed-options, force-options)"));
    assert_non_null(strstr(parse_err("[pdns]\nkeys = x\n"),
                           "[pdns] keys: unknown key (known: signature-cache, tokens, presign, "
                           "presign-lead, presign-rate, presign-interval)"));
    assert_non_null(
        strstr(parse_err("[bind]\npresign = yes\n"), "(known: signature-cache, tokens)"));
    assert_non_null(strstr(parse_err("[shared-cache]\npasswd = x\n"),
                           "(known: host, port, socket, read-host, read-port, read-socket, "
                           "database, user, password-file, tls, tls-ca, read-timeout-ms, node, "
                           "purge-interval)"));
    const char *m = parse_err("[client c]\nuid = 0\nkeys = pkcs11:\noperations = issue\n"
                              "max-validity = 8h\nmax-validity = 9h\n");
    assert_non_null(strstr(m, "t.conf:6: [client c] max-validity: given twice in [client c]"));
    /* In [sshca] and [pdns] too, also across two headers of the section:
     * a later line must not loosen the policy an earlier one set. */
    m = parse_err("[sshca]\nmax-validity = 8h\nmax-validity = 99999d\n");
    assert_non_null(strstr(m, "t.conf:3: [sshca] max-validity: given twice in [sshca]"));
    m = parse_err("[sshca]\nallowed-principals = a\n[sshca]\nallowed-principals = b, root\n");
    assert_non_null(strstr(m, "t.conf:4: [sshca] allowed-principals: given twice in [sshca]"));
    m = parse_err("[pdns]\npresign = no\npresign = yes\n");
    assert_non_null(strstr(m, "t.conf:3: [pdns] presign: given twice in [pdns]"));
}

/* The lines a key's section needs around it to load. */
static const char *section_text(const char *label)
{
    if (!strcmp(label, "[token NAME]"))
        return "[token t]\nmodule = m\nlabel = l\n";
    if (!strcmp(label, "[client NAME]"))
        return "[client c]\nuid = 0\nkeys = pkcs11:token=t\noperations = issue\n";
    if (!strcmp(label, "[shared-cache]"))
        return "[shared-cache]\nsocket = /s\ndatabase = d\nuser = u\n";
    static char text[64];
    snprintf(text, sizeof text, "%s\n", label);
    return text;
}

static bool collect(void *arg, const char *key, enum hc_cfg_kind kind, const hc_cfg_value_t *v)
{
    (void)v;
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 1024 - n, "%s%s:%d", n ? " " : "", key, (int)kind);
    return true;
}

/* A profile's own section, as the table's rows: the walk a plugin's
 * settings come from lists each key of the section once, with its kind,
 * and no key of another section or one a plugin does not read (tokens);
 * values are the file's, a [client]'s own issue keys replace [sshca]'s
 * for that client only, and a key is found only under its kind. */
static void profile_sections_by_row(void **state)
{
    (void)state;
    hc_config_t *c = parse_ok("[pdns]\npresign-rate = 7\ntokens = t\n"
                              "[sshca]\nkeys = pkcs11:token=t;object=ca\nmax-validity = 1d\n"
                              "allowed-principals = %u\naudit-log = /tmp/x.log\n"
                              "[token t]\nmodule = m\nlabel = l\n"
                              "[client c]\nuid = 0\nkeys = pkcs11:token=t\n"
                              "operations = issue\nmax-validity = 8h\n"
                              "allowed-principals = a, b\n");
    char walked[1024] = "";
    assert_true(hc_config_section_walk(c, HC_P_PDNS, NULL, collect, walked));
    assert_string_equal(walked, "signature-cache:1 presign:1 presign-lead:2 presign-rate:2 "
                                "presign-interval:2");
    walked[0] = '\0';
    assert_true(hc_config_section_walk(c, HC_P_BIND, NULL, collect, walked));
    assert_string_equal(walked, "signature-cache:1");
    walked[0] = '\0';
    assert_true(hc_config_section_walk(c, HC_P_SSHCA, NULL, collect, walked));
    assert_string_equal(walked, "signature-cache:1 keys:4 audit-log:3 require-validity:1 "
                                "require-principals:1 allowed-users:4 allowed-groups:4 "
                                "allow-agent:1 allowed-principals:4 max-validity:2 "
                                "host-certs:1 allowed-options:4 force-options:4");
    assert_int_equal(number(c, HC_P_PDNS, NULL, "presign-rate"), 7);
    assert_true(setting(c, HC_P_PDNS, NULL, "presign-rate", HC_CFG_NUMBER)->set);
    assert_string_equal(list(c, HC_P_SSHCA, NULL, "keys")->items[0], "pkcs11:token=t;object=ca");
    assert_string_equal(setting(c, HC_P_SSHCA, NULL, "audit-log", HC_CFG_TEXT)->text, "/tmp/x.log");
    const hc_client_cfg_t *cl = &c->clients[0];
    assert_int_equal(number(c, HC_P_SSHCA, NULL, "max-validity"), 86400);
    assert_int_equal(number(c, HC_P_SSHCA, cl, "max-validity"), 8 * 3600);
    assert_int_equal(list(c, HC_P_SSHCA, cl, "allowed-principals")->n, 2);
    assert_string_equal(list(c, HC_P_SSHCA, NULL, "allowed-principals")->items[0], "%u");
    assert_true(flag(c, HC_P_SSHCA, cl, "host-certs")); /* not its own: [sshca]'s */
    assert_null(hc_config_setting(c, HC_P_PDNS, NULL, "presgin", HC_CFG_FLAG));
    assert_null(hc_config_setting(c, HC_P_PDNS, NULL, "presign", HC_CFG_NUMBER));
    assert_null(hc_config_setting(c, HC_P_PDNS, NULL, "keys", HC_CFG_LIST));
    assert_null(hc_config_setting(c, HC_P_SSHCA, NULL, "presign", HC_CFG_FLAG));
    /* [sshca] keys limits the profile's tokens; no other section does */
    assert_ptr_equal(hc_config_token_limit(c, HC_P_SSHCA), list(c, HC_P_SSHCA, NULL, "keys"));
    assert_null(hc_config_token_limit(c, HC_P_PDNS));
    assert_null(hc_config_token_limit(c, HC_P_PKCS11));
    hc_config_free(c);
}

/* Every row of `hsmcache config-keys` (hc_config_doc) names a key the
 * parser takes in each section it names, and a default shown as a value
 * (in backquotes) loads there. */
static void doc_rows_parse(void **state)
{
    (void)state;
    char *doc = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&doc, &size);
    assert_non_null(f);
    hc_config_doc(f);
    fclose(f);
    int rows = 0, defaults = 0;
    for (char *save = NULL, *line = strtok_r(doc, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "| `[", 4))
            continue;
        rows++;
        char *cell = line + 3, *end = strchr(cell, '`');
        assert_non_null(end);
        *end = '\0';
        char *key = strrchr(cell, ' ') + 1, *def = NULL;
        if (!strncmp(end + 1, " | `", 4)) {
            def = end + 5;
            *strchr(def, '`') = '\0';
        }
        for (char *lab = cell; *lab == '['; lab = strchr(lab, ']') + 2) {
            char label[32], text[512];
            snprintf(label, sizeof label, "%.*s", (int)(strchr(lab, ']') + 1 - lab), lab);
            snprintf(text, sizeof text, "%s%s = \001\n", section_text(label), key);
            hc_config_t *c = NULL;
            hc_err_t err = { 0 };
            if (hc_config_parse("t.conf", text, strlen(text), &c, &err) != CKR_OK &&
                strstr(err.msg, "unknown key"))
                fail_msg("%s %s: %s", label, key, err.msg);
            hc_config_free(c);
            if (def) {
                snprintf(text, sizeof text, "%s%s = %s\n", section_text(label), key, def);
                hc_config_free(parse_ok(text));
                defaults++;
            }
        }
    }
    free(doc);
    assert_true(rows >= 50);
    assert_true(defaults >= 25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_config_with_defaults),
        cmocka_unit_test(unknown_key_names_file_line_section_key),
        cmocka_unit_test(unknown_section_is_an_error),
        cmocka_unit_test(empty_token_section_is_caught),
        cmocka_unit_test(token_without_label_or_serial),
        cmocka_unit_test(bad_values_are_named),
        cmocka_unit_test(profile_tokens_must_exist),
        cmocka_unit_test(invalid_token_names),
        cmocka_unit_test(module_hsmcache_refused),
        cmocka_unit_test(long_line_and_syntax_errors),
        cmocka_unit_test(missing_file_is_named),
        cmocka_unit_test(shared_cache_section),
        cmocka_unit_test(shared_cache_refusals),
        cmocka_unit_test(shared_cache_password_file),
        cmocka_unit_test(defaults_of_an_empty_config),
        cmocka_unit_test(unknown_key_lists_the_section),
        cmocka_unit_test(doc_rows_parse),
        cmocka_unit_test(profile_sections_by_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
