/*
 * audit_fields.h: the fields of an SSH CA audit record, in their order,
 * defined once, with the SSH CA module that writes them (audit.c):
 * hsmcached (shared/agent/audit_record.c, issue.c, built with
 * -Isshca-plugin as for the module's policy) accepts exactly these and
 * writes them back in this order. A field added here must be given a
 * value by the module (its switch over hc_audit_field_t has no default)
 * and is then checked by the agent.
 *
 * What each holds (sshca-plugin/README.md, "Audit log"): the values
 * ssh-keygen puts in the certificate, read from its arguments as its
 * version reads them: identity = key id (-I), principals = the
 * certificate's principals joined by commas (null: none), validity = its
 * interval in ssh-keygen's -V syntax (UTC), serial = its serial in
 * decimal, options = its critical options and extensions as -O
 * arguments, host_certificate = a host certificate (-h). Plain data, no
 * state: thread-safe.
 */
#ifndef SSHCA_AUDIT_FIELDS_H
#define SSHCA_AUDIT_FIELDS_H

#include <stddef.h>

typedef enum hc_audit_kind {
    HC_AUDIT_STR,
    HC_AUDIT_STR_OR_NULL,
    HC_AUDIT_UINT, /* 0 .. 2^32-1 */
    HC_AUDIT_BOOL,
    HC_AUDIT_STR_ARRAY,
} hc_audit_kind_t;

#define HC_AUDIT_FIELDS(X)                              \
    X(time, HC_AUDIT_STR)                               \
    X(uid, HC_AUDIT_UINT)                               \
    X(user, HC_AUDIT_STR_OR_NULL)                       \
    X(pid, HC_AUDIT_UINT)                               \
    X(host, HC_AUDIT_STR_OR_NULL)                       \
    X(identity, HC_AUDIT_STR_OR_NULL)                   \
    X(principals, HC_AUDIT_STR_OR_NULL)                 \
    X(validity, HC_AUDIT_STR_OR_NULL)                   \
    X(serial, HC_AUDIT_STR_OR_NULL)                     \
    X(options, HC_AUDIT_STR_ARRAY)                      \
    X(host_certificate, HC_AUDIT_BOOL)                  \
    X(key_file, HC_AUDIT_STR_OR_NULL)                   \
    X(public_key, HC_AUDIT_STR_OR_NULL)                 \
    X(public_key_fingerprint, HC_AUDIT_STR_OR_NULL)     \
    X(ca_key, HC_AUDIT_STR)                             \
    X(ca_fingerprint, HC_AUDIT_STR_OR_NULL)             \
    X(result, HC_AUDIT_STR)

typedef enum hc_audit_field {
#define HC_AUDIT_ENUM(name, kind) HC_AUDIT_F_##name,
    HC_AUDIT_FIELDS(HC_AUDIT_ENUM)
#undef HC_AUDIT_ENUM
        HC_AUDIT_NFIELDS
} hc_audit_field_t;

static const struct hc_audit_field_def {
    const char *name;
    hc_audit_kind_t kind;
} hc_audit_fields[HC_AUDIT_NFIELDS] = {
#define HC_AUDIT_DEF(name, kind) { #name, kind },
    HC_AUDIT_FIELDS(HC_AUDIT_DEF)
#undef HC_AUDIT_DEF
};

#endif
