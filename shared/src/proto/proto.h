/*
 * proto.h: the agent protocol between hsmcached and its clients (the
 * agent transport in agent_client.c).
 *
 * A message is a frame: a 4-byte big-endian body length, then the body.
 * Bodies are at most HC_PROTO_MAX_BODY bytes; a longer length closes the
 * connection without reading it.
 *
 *   request body: u8 version | u8 op | op's arguments
 *   reply body:   u8 version | u8 op | u64 rv | str message | op's results
 *
 * Integers are big-endian; `bytes` and `str` are a u32 length then the
 * bytes (str: no NUL inside). Every reply carries its results even when rv
 * is not CKR_OK (zero-filled), because some PKCS#11 answers carry data
 * with an error (CKR_BUFFER_TOO_SMALL sizes, CKR_ATTRIBUTE_SENSITIVE).
 *
 * Readers are bounds-checked: any read past the end, or a length above
 * its limit, marks the reader bad, and every later read returns zeros; the
 * caller checks once at the end (hc_r_done). Nothing here allocates for a
 * length read from the wire beyond the limits below.
 *
 * Thread-safety: the functions keep no state beyond their arguments.
 */
#ifndef HC_PROTO_H
#define HC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmcache.h"

/* 2: mechanism parameters carried field by field only (PSS added, plain
 * bytes refused), templates and queries checked against proto_check.h. */
#define HC_PROTO_VERSION 2
#define HC_PROTO_MAX_BODY (1u << 20)
#define HC_PROTO_MAX_ATTRS 64      /* attributes in one template */
#define HC_PROTO_MAX_VALUE 65536   /* one attribute value, one signature */
#define HC_PROTO_MAX_PARAM 1024    /* a mechanism parameter */
#define HC_PROTO_MAX_STR 4096
#define HC_PROTO_MAX_OBJS 65536    /* objects in one find reply */
#define HC_PROTO_MAX_TOKENS 1024   /* tokens in a hello reply */
#define HC_ISSUE_MAX_OPTS 8192     /* issue: the options, pairs "L\0VALUE\0" */
#define HC_ISSUE_MAX_PUBKEY 16384  /* issue: the public key line */
#define HC_ISSUE_MAX_CERT 65536    /* issue: the certificate line */

enum hc_proto_op {
    HC_OP_HELLO = 1,    /* str profile -> u64 instance, u8 cache, u32 n, n x str token, str client;
                           the tokens are the client's only (its slots) */
    HC_OP_TOKEN_STATUS, /* str token -> status */
    HC_OP_MECHANISMS,   /* str token, u8 want_list, u64 cap -> u64 count, count x u64 */
    HC_OP_MECH_INFO,    /* str token, u64 type -> u64 min, u64 max, u64 flags */
    HC_OP_LOGIN_WITH,   /* str token, bytes pin */
    HC_OP_LOGIN_CHECK,  /* str token */
    HC_OP_FIND,         /* str token, template -> u32 n, n x object */
    HC_OP_GET_ATTRS,    /* u64 obj, attr query -> n x (u64 len, bytes value) */
    HC_OP_PUBLIC_KEY,   /* u64 obj -> bytes spki */
    HC_OP_SIG_LEN,      /* u64 obj -> u64 len */
    HC_OP_SIGN, /* u64 obj, mech, bytes data, u8 flags, u64 expires, u8 want, u64 cap -> u8 from_cache, u64 len, bytes sig */
    HC_OP_CACHE_PURGE, /* -> u64 dropped */
    HC_OP_VERIFY,      /* u64 obj, mech, bytes data, bytes sig */
    HC_OP_CRYPT, /* u8 encrypt, u64 obj, mech, bytes in, u8 want, u64 cap -> u64 len, bytes out */
    HC_OP_GENERATE, /* str token, mech, template pub, template priv -> object pub, object priv */
    HC_OP_DESTROY,  /* u64 obj */
    HC_OP_RANDOM,   /* str token, u64 len -> bytes */
    HC_OP_STATS,    /* u8 prometheus -> str text */
    HC_OP_AUDIT,    /* str record (one JSON line from the SSH CA module) */
    HC_OP_ISSUE,    /* bytes options, bytes public key line -> u64 serial, bytes certificate line
                           (an SSH certificate built, checked and signed by the agent) */
    HC_OP_COUNT
};

/* Sign flags. */
#define HC_SIGN_BACKGROUND 1u

/* One object in a reply: the agent's reference and its identity, which
 * lets a client find it again after the agent restarts. */
typedef struct hc_proto_obj {
    uint64_t ref;
    uint64_t cls;
    const unsigned char *id;
    size_t idlen;
    const unsigned char *label;
    size_t labellen;
} hc_proto_obj_t;

/* ---- writing ---- */
typedef struct hc_wbuf {
    unsigned char *p;
    size_t len, cap;
    bool failed; /* out of memory, or a value above its limit */
} hc_wbuf_t;

/* Starts a frame: reserves the length, writes version and op. */
void hc_w_begin(hc_wbuf_t *w, uint8_t op);
/* Fills in the frame length; false when the body is too big or a write
 * failed. */
bool hc_w_finish(hc_wbuf_t *w);
void hc_w_u8(hc_wbuf_t *w, uint8_t v);
void hc_w_u32(hc_wbuf_t *w, uint32_t v);
void hc_w_u64(hc_wbuf_t *w, uint64_t v);
void hc_w_bytes(hc_wbuf_t *w, const void *p, size_t n);
void hc_w_str(hc_wbuf_t *w, const char *s);
/* Parameters are written field by field (OAEP, PSS, EdDSA: see
 * proto_check.h); any other parameter as bytes, which the agent refuses
 * (CKR_MECHANISM_PARAM_INVALID). */
void hc_w_mech(hc_wbuf_t *w, const CK_MECHANISM *m);
/* false (w->failed set) for a type not on proto_check.h's list (array
 * attributes hold pointers). */
bool hc_w_template(hc_wbuf_t *w, const CK_ATTRIBUTE *t, CK_ULONG n);
void hc_w_obj(hc_wbuf_t *w, const hc_proto_obj_t *o);
/* Frees the buffer, wiping it first (a request may carry a PIN). */
void hc_w_free(hc_wbuf_t *w);

/* ---- reading ---- */
typedef struct hc_rbuf {
    const unsigned char *p;
    size_t len, off;
    bool bad;
} hc_rbuf_t;

void hc_r_init(hc_rbuf_t *r, const unsigned char *body, size_t len);
uint8_t hc_r_u8(hc_rbuf_t *r);
uint32_t hc_r_u32(hc_rbuf_t *r);
uint64_t hc_r_u64(hc_rbuf_t *r);
/* Points into the body; NULL with *n = 0 when bad or longer than max. */
const unsigned char *hc_r_bytes(hc_rbuf_t *r, size_t *n, size_t max);
/* Copies into out (NUL-terminated); bad when longer than size - 1 or
 * holding a NUL. */
void hc_r_str(hc_rbuf_t *r, char *out, size_t size);
void hc_r_obj(hc_rbuf_t *r, hc_proto_obj_t *o);
/* true when nothing went wrong and the body was read to its end. */
bool hc_r_done(const hc_rbuf_t *r);

/* PKCS#11 3.0's CK_EDDSA_PARAMS, which p11-kit's header lacks. */
typedef struct hc_eddsa_params {
    CK_BBOOL phFlag;
    CK_ULONG ulContextDataLen;
    CK_BYTE_PTR pContextData;
} hc_eddsa_params_t;

/* A mechanism read from the wire, its parameter struct rebuilt here
 * (pointers into the body). `kind` is the wire's hc_param_kind_t; a
 * parameter sent as plain bytes is never passed on: m.pParameter stays
 * NULL and raw_len keeps its length (hc_mech_check refuses it). */
typedef struct hc_proto_mech {
    CK_MECHANISM m;
    uint8_t kind;
    size_t raw_len;
    union {
        CK_RSA_PKCS_OAEP_PARAMS oaep;
        CK_RSA_PKCS_PSS_PARAMS pss;
        hc_eddsa_params_t eddsa;
    } param;
} hc_proto_mech_t;
void hc_r_mech(hc_rbuf_t *r, hc_proto_mech_t *m);

/* A template read from the wire: values point into the body. *out is
 * malloc'ed (free it); NULL with n = 0 for an empty template. */
void hc_r_template(hc_rbuf_t *r, CK_ATTRIBUTE **out, CK_ULONG *n);

/* A request: the fields its op uses (hc_op_def_t.req) are set, the rest
 * zero. The client fills one and encodes it (hc_req_encode); the agent
 * decodes one (hc_req_decode). Decoded, pointers point into the body or
 * into malloc'ed arrays freed by hc_req_free; filled by the client, they
 * are the caller's (never freed). */
typedef struct hc_req {
    uint8_t op;
    char token[64];
    char text[HC_PROTO_MAX_STR]; /* profile (HELLO), record (AUDIT) */
    uint64_t obj;
    hc_proto_mech_t mech;              /* the client sets mech.m only */
    const unsigned char *data, *data2; /* data/sig, in; pin */
    size_t len, len2;
    uint8_t flags; /* sign flags; crypt: encrypt; stats: prometheus */
    int64_t expires;
    bool want;    /* the caller gave an output buffer */
    uint64_t cap; /* its size, or a count, or a mechanism */
    /* Templates (FIND, GENERATE); GET_ATTRS's query: type, and in
     * ulValueLen the buffer size, CK_UNAVAILABLE_INFORMATION for none. */
    const CK_ATTRIBUTE *tmpl, *tmpl2;
    CK_ULONG n, n2;
    /* Set by the decoder for a well-formed request that asks for what may
     * not reach the module (proto_check.h): the agent answers `refuse`
     * and the op's empty results without running it. */
    CK_RV refuse;
    char why[200];
    /* GET_ATTRS: bit i set when attribute i's type is not on the list (it
     * is answered CK_UNAVAILABLE_INFORMATION, never asked of the module). */
    uint64_t blocked;
} hc_req_t;

/* One attribute of a GET_ATTRS reply: its length (UINT64_MAX:
 * unavailable) and value. */
typedef struct hc_rep_attr {
    uint64_t len;
    const unsigned char *val;
    size_t vlen;
} hc_rep_attr_t;

/* A reply's results: the fields its op uses (hc_op_def_t.rep) are set,
 * the rest zero. The agent fills one (pointers are its own) and encodes
 * it; the client decodes one (pointers into the body, arrays malloc'ed
 * and freed by hc_rep_free). A refused request's reply is a zeroed one. */
typedef struct hc_rep {
    CK_RV rv;
    char msg[512];
    uint8_t flags;             /* status: present 1, PIN stored 2, rejected 4,
                                logged in 8, info valid 16; sign: from the
                                cache; hello: signature cache on */
    uint64_t num[3];           /* counts and lengths; hello: instance; mech
                                info: min, max, flags */
    char name[64];             /* status: token; hello: client */
    char module[256];          /* status: module */
    const unsigned char *data; /* bytes: token info, spki, signature, out, text */
    size_t len;
    const CK_ULONG *list; /* mechanisms */
    uint32_t nlist;
    const hc_proto_obj_t *objs; /* find; generate: public, private */
    uint32_t nobjs;
    const char *const *names; /* hello: the client's tokens */
    uint32_t nnames;
    hc_rep_attr_t attrs[HC_PROTO_MAX_ATTRS]; /* get-attributes: one per
                                                 attribute asked */
    void *owned[2];                          /* what hc_rep_free frees (decoded) */
    unsigned char *body;                     /* the client's: the reply's bytes, which the
                                fields point into; wiped and freed by
                                hc_rep_free */
    size_t body_len;
} hc_rep_t;

/* ---- the operation table (proto_ops.c) ----
 * Each op once: its name, the [client] operations bit it needs, how the
 * agent scopes it to the client's keys, whether a request lost before
 * its reply may be sent again, and its request and reply fields, from
 * which one encoder and one decoder each serve every op (client and
 * agent alike). Adding an op is one table entry (and its handler). */
typedef enum hc_op_scope {
    HC_SCOPE_NONE,  /* the client as a whole; stats and audit scope
                        themselves (report.c, audit_record.c) */
    HC_SCOPE_TOKEN, /* the token named (req.token): one the client's keys
                        select, else "no such token" */
    HC_SCOPE_OBJ,   /* the object referenced (req.obj): in the client's
                        keys, else refused naming only the reference */
} hc_op_scope_t;

/* One field of a request or reply, in wire order. */
typedef enum hc_field {
    HC_F_END = 0,
    /* request: hc_req_t's member */
    HC_F_TEXT,
    HC_F_TOKEN,
    HC_F_OBJ,
    HC_F_MECH,
    HC_F_DATA,
    HC_F_DATA2,
    HC_F_FLAGS,
    HC_F_EXPIRES,
    HC_F_WANT,
    HC_F_CAP,
    HC_F_TMPL,
    HC_F_TMPL2,
    HC_F_QUERY,
    /* reply: hc_rep_t's member */
    HC_R_FLAGS,
    HC_R_NUM0,
    HC_R_NUM1,
    HC_R_NUM2,
    HC_R_NAME,
    HC_R_MODULE,
    HC_R_DATA,
    HC_R_LIST,
    HC_R_OBJS,
    HC_R_PAIR,
    HC_R_NAMES,
    HC_R_ATTRS,
} hc_field_t;

typedef struct hc_field_def {
    hc_field_t f;
    uint32_t max; /* DATA, DATA2, CAP, R_DATA: the largest value */
} hc_field_def_t;

typedef struct hc_op_def {
    const char *name;
    unsigned perm; /* HC_PERM_* needed; 0: any listed client (CRYPT: by
                        its flag, see hc_req_perm) */
    hc_op_scope_t scope;
    bool retry; /* changes nothing: resent once on a new connection
                        when the first was lost before the reply */
    hc_field_def_t req[8], rep[5];
} hc_op_def_t;

/* The table entry for op, or NULL when op is unknown. */
const hc_op_def_t *hc_op_def(unsigned op);
/* The op's name for logs ("sign"), or "?". */
const char *hc_op_name(unsigned op);
/* The HC_PERM_* bit a decoded request needs (0: none). */
unsigned hc_req_perm(const hc_req_t *q);

/* Writes q as a whole frame into w (hc_w_begin ... its fields); false
 * (w->failed) when a value is above its limit or a template holds a type
 * not on proto_check.h's list. */
bool hc_req_encode(hc_wbuf_t *w, const hc_req_t *q);
/* Decodes a request body; false when it is malformed in any way (wrong
 * version, unknown op, bad lengths, values above their limits, trailing
 * bytes). A request that decodes may still carry `refuse`. */
bool hc_req_decode(const unsigned char *body, size_t len, hc_req_t *req);
void hc_req_free(hc_req_t *req);
/* What the agent would refuse in q's templates (proto_check.h): CKR_OK,
 * or the code with a sentence in why. The client asks it before sending. */
CK_RV hc_req_check(const hc_req_t *q, char *why, size_t whysize);

/* Writes the reply to q as a whole frame: header (rv, msg: only when rv
 * is not CKR_OK) and r's fields (a zeroed r: the refused results). */
bool hc_rep_encode(hc_wbuf_t *w, const hc_req_t *q, CK_RV rv, const char *msg, const hc_rep_t *r);
/* Decodes the reply to q (its op; GET_ATTRS: one value per attribute
 * asked); false when malformed. Free with hc_rep_free. */
bool hc_rep_decode(const unsigned char *body, size_t len, const hc_req_t *q, hc_rep_t *r);
void hc_rep_free(hc_rep_t *r);

/* agent_client.c: asks the agent at `socket` (hello as profile "cli")
 * to issue an SSH certificate (HC_OP_ISSUE) for the public key line
 * `pubkey`; `opts` holds `nopts` options as pairs "LETTER\0VALUE\0"
 * (I, n, V, O with a value; h with an empty one). CKR_OK, *cert (the
 * "TYPE-cert-v01@openssh.com BASE64" line, malloc'ed) and *serial; or
 * the agent's refusal in err. Thread-safe (its own connection). */
CK_RV hc_agent_issue(const char *conf_path, const char *socket, long long timeout_ms,
                     const unsigned char *opts, size_t opts_len, const char *pubkey, char **cert,
                     uint64_t *serial, hc_err_t *err);

#endif
