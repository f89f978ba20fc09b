/*
 * proto_check.h: what may cross the agent socket towards the module.
 *
 * The agent hands templates and mechanisms from a client to the PKCS#11
 * module. A value the module reads as a pointer (the *_TEMPLATE array
 * attributes, parameter structs such as OAEP's or PSS's) would let any
 * client make the module dereference an address of its choice. So only
 * attributes of a known type cross, each with its value's shape checked,
 * and only mechanisms of a known type, whose parameter the wire carries
 * field by field (proto.c) and the agent rebuilds:
 *
 *   attribute shapes   bool (1 byte, 0 or 1), CK_ULONG (sizeof CK_ULONG
 *                      bytes, host order), bytes (at most
 *                      HC_PROTO_MAX_VALUE), date (8 digits, or empty),
 *                      CK_ULONG array (CKA_ALLOWED_MECHANISMS: a multiple
 *                      of sizeof CK_ULONG). Every other type, and every
 *                      CKF_ARRAY_ATTRIBUTE of attributes, is refused with
 *                      CKR_ATTRIBUTE_TYPE_INVALID; a bad shape with
 *                      CKR_ATTRIBUTE_VALUE_INVALID.
 *   mechanisms         see hc_mech_check. An unknown type is refused with
 *                      CKR_MECHANISM_INVALID, a parameter it does not
 *                      take (or a missing one it needs, or a field outside
 *                      its set) with CKR_MECHANISM_PARAM_INVALID.
 *
 * Used by the agent's decoder (the trust boundary) and by the agent
 * client (to refuse early, with the same code). No state; thread-safe.
 */
#ifndef HC_PROTO_CHECK_H
#define HC_PROTO_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmcache.h"

/* The shape of a known attribute's value. */
typedef enum hc_attr_shape {
    HC_SHAPE_NONE = 0, /* unknown type: refused */
    HC_SHAPE_BOOL,
    HC_SHAPE_ULONG,
    HC_SHAPE_BYTES,
    HC_SHAPE_DATE,
    HC_SHAPE_ULONGS, /* an array of CK_ULONG (no pointers) */
} hc_attr_shape_t;

hc_attr_shape_t hc_attr_shape(CK_ATTRIBUTE_TYPE type);
/* A short name for logs ("CKA_WRAP_TEMPLATE"), or NULL when unknown. */
const char *hc_attr_name(CK_ATTRIBUTE_TYPE type);

/* Checks one attribute of a template (a value the client sends). CKR_OK,
 * CKR_ATTRIBUTE_TYPE_INVALID or CKR_ATTRIBUTE_VALUE_INVALID; `why` (when
 * not NULL) gets a sentence naming the attribute. */
CK_RV hc_attr_check(const CK_ATTRIBUTE *a, char *why, size_t whysize);
/* The same for every attribute of a template; stops at the first bad one. */
CK_RV hc_template_check(const CK_ATTRIBUTE *t, CK_ULONG n, char *why, size_t whysize);

/* How a mechanism's parameter crosses the wire. */
typedef enum hc_param_kind {
    HC_PARAM_NONE = 0,  /* no parameter (the wire's "bytes", empty) */
    HC_PARAM_OAEP = 1,  /* CK_RSA_PKCS_OAEP_PARAMS */
    HC_PARAM_EDDSA = 2, /* CK_EDDSA_PARAMS (optional) */
    HC_PARAM_PSS = 3,   /* CK_RSA_PKCS_PSS_PARAMS */
} hc_param_kind_t;

/* Checks a mechanism as the agent rebuilt it: `kind` is what the wire
 * carried, `m->pParameter` points at the rebuilt struct (or NULL), and
 * `raw_len` is the length of a parameter sent as plain bytes (refused for
 * every mechanism: none on the list takes one). The list: RSA PKCS#1 v1.5
 * and raw RSA (CKM_RSA_PKCS, CKM_RSA_X_509, CKM_SHA*_RSA_PKCS), ECDSA
 * (CKM_ECDSA, CKM_ECDSA_SHA*), the key pair generators (RSA, EC, EdDSA):
 * no parameter. CKM_EDDSA: none or EdDSA's (context at most 255 bytes).
 * CKM_RSA_PKCS_PSS and CKM_SHA*_RSA_PKCS_PSS: PSS's, required (hash SHA-1
 * or SHA-2, MGF1 with a SHA-1/SHA-2 hash, salt at most 1024 bytes).
 * CKM_RSA_PKCS_OAEP: OAEP's, required (same hashes; source 0 or
 * CKZ_DATA_SPECIFIED, label at most HC_PROTO_MAX_PARAM bytes). A
 * mechanism not on the list: CKR_MECHANISM_PARAM_INVALID when it comes
 * with a parameter, else CKR_MECHANISM_INVALID. */
CK_RV hc_mech_check(const CK_MECHANISM *m, hc_param_kind_t kind, size_t raw_len, char *why,
                    size_t whysize);

/* ---- mechanisms by name (the [client] mechanisms = list) ---- */

/* The PKCS#11 name of a mechanism on the list ("CKM_ECDSA"), or NULL. */
const char *hc_mech_name(CK_MECHANISM_TYPE t);
/* A mechanism on the list by name: "CKM_RSA_PKCS_OAEP", case-insensitive,
 * the CKM_ prefix optional and '-' for '_' ("rsa-pkcs-oaep"). */
bool hc_mech_by_name(const char *name, CK_MECHANISM_TYPE *t);
/* Whether t is a signature mechanism a client gets without listing it:
 * every signature mechanism on the list but raw RSA (CKM_RSA_X_509). */
bool hc_mech_default_sign(CK_MECHANISM_TYPE t);

#endif
