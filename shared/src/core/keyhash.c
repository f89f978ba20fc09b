/*
 * keyhash.c: the key index's hashes, per token (see keyhash.h): entries by
 * (generation, handle), and chains of entries by CKA_LABEL and by CKA_ID,
 * so that mapping a found handle, finding an entry again by identity and
 * answering a lookup by label or id cost the same with 20,000 keys on a
 * token as with 10. The tables are OpenSSL's LHASH (it grows and shrinks
 * by itself); the chains are intrusive (hc_keyent_t.next_label/next_id):
 * the table holds a chain's first entry, so objects sharing a label (the
 * two halves of a pair) need no allocation of their own.
 */
#include <string.h>

#include "core/keyhash.h"

/* FNV-1a, 64 bits: labels and ids are short byte strings, NUL allowed. */
static unsigned long bytes_hash(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return (unsigned long)(h ^ (h >> 32));
}

static unsigned long handle_hash(const void *p)
{
    const hc_keyent_t *e = p;
    uint64_t x = ((uint64_t)e->handle ^ (e->gen << 40)) * 0x9e3779b97f4a7c15ull;
    return (unsigned long)(x ^ (x >> 31));
}

static int handle_cmp(const void *a, const void *b)
{
    const hc_keyent_t *x = a, *y = b;
    return !(x->handle == y->handle && x->gen == y->gen);
}

static unsigned long label_hash(const void *p)
{
    const hc_keyent_t *e = p;
    return bytes_hash((const unsigned char *)e->label, e->labellen);
}

static int label_cmp(const void *a, const void *b)
{
    const hc_keyent_t *x = a, *y = b;
    return !(x->labellen == y->labellen && memcmp(x->label, y->label, x->labellen) == 0);
}

static unsigned long id_hash(const void *p)
{
    const hc_keyent_t *e = p;
    return bytes_hash(e->ckaid, e->idlen);
}

static int id_cmp(const void *a, const void *b)
{
    const hc_keyent_t *x = a, *y = b;
    return !(x->idlen == y->idlen && memcmp(x->ckaid, y->ckaid, x->idlen) == 0);
}

/* The tables, made on first use; false when out of memory. */
static bool tables(hc_token_t *t)
{
    if (!t->by_handle)
        t->by_handle = OPENSSL_LH_new(handle_hash, handle_cmp);
    if (!t->by_label)
        t->by_label = OPENSSL_LH_new(label_hash, label_cmp);
    if (!t->by_id)
        t->by_id = OPENSSL_LH_new(id_hash, id_cmp);
    return t->by_handle && t->by_label && t->by_id;
}

void hc_keyhash_free(hc_token_t *t)
{
    OPENSSL_LH_free(t->by_handle);
    OPENSSL_LH_free(t->by_label);
    OPENSSL_LH_free(t->by_id);
    t->by_handle = t->by_label = t->by_id = NULL;
}

hc_keyent_t *hc_keyhash_handle(hc_token_t *t, uint64_t gen, CK_OBJECT_HANDLE h)
{
    if (!t->by_handle || gen == 0)
        return NULL;
    hc_keyent_t probe;
    probe.handle = h;
    probe.gen = gen;
    return OPENSSL_LH_retrieve(t->by_handle, &probe);
}

void hc_keyhash_unbind(hc_token_t *t, hc_keyent_t *e)
{
    /* gen 0 never matches: an unbound entry is in no table by handle. */
    if (e->gen != 0 && t->by_handle && OPENSSL_LH_retrieve(t->by_handle, e) == e)
        OPENSSL_LH_delete(t->by_handle, e);
    e->gen = 0;
}

void hc_keyhash_bind(hc_token_t *t, hc_keyent_t *e, CK_OBJECT_HANDLE h, uint64_t gen)
{
    hc_keyhash_unbind(t, e);
    e->handle = h;
    e->gen = gen;
    if (gen == 0 || !tables(t))
        return; /* not in the table: found by a search instead */
    hc_keyent_t *was = OPENSSL_LH_insert(t->by_handle, e);
    if (was && was != e)
        was->gen = 0; /* the module gave its handle to e: it is stale */
    else if (!was && OPENSSL_LH_error(t->by_handle))
        e->gen = 0; /* out of memory: re-found by identity when used */
}

/* Adds `e` to the chain of its key in `lh`. */
static void chain_add(OPENSSL_LHASH *lh, hc_keyent_t *e, bool label)
{
    hc_keyent_t *head = OPENSSL_LH_retrieve(lh, e);
    if (head) { /* second in the chain: the head stays in the table */
        hc_keyent_t **next = label ? &head->next_label : &head->next_id;
        if (label)
            e->next_label = *next;
        else
            e->next_id = *next;
        *next = e;
        return;
    }
    if (label)
        e->next_label = NULL;
    else
        e->next_id = NULL;
    OPENSSL_LH_insert(lh, e);
}

static void chain_remove(OPENSSL_LHASH *lh, hc_keyent_t *e, bool label)
{
    hc_keyent_t *head = OPENSSL_LH_retrieve(lh, e);
    if (!head)
        return;
#define NEXT(x) (label ? (x)->next_label : (x)->next_id)
    if (head == e) {
        OPENSSL_LH_delete(lh, e);
        if (NEXT(e))
            OPENSSL_LH_insert(lh, NEXT(e));
    } else {
        for (hc_keyent_t *p = head; NEXT(p); p = NEXT(p))
            if (NEXT(p) == e) {
                if (label)
                    p->next_label = e->next_label;
                else
                    p->next_id = e->next_id;
                break;
            }
    }
#undef NEXT
    if (label)
        e->next_label = NULL;
    else
        e->next_id = NULL;
}

void hc_keyhash_add(hc_token_t *t, hc_keyent_t *e)
{
    if (!tables(t))
        return;
    if (e->labellen)
        chain_add(t->by_label, e, true);
    if (e->idlen)
        chain_add(t->by_id, e, false);
}

void hc_keyhash_remove(hc_token_t *t, hc_keyent_t *e)
{
    hc_keyhash_unbind(t, e);
    if (e->labellen && t->by_label)
        chain_remove(t->by_label, e, true);
    if (e->idlen && t->by_id)
        chain_remove(t->by_id, e, false);
}

hc_keyent_t *hc_keyhash_first(hc_token_t *t, const hc_keyent_t *key, bool *label)
{
    *label = key->labellen > 0;
    OPENSSL_LHASH *lh = *label ? t->by_label : t->by_id;
    if (!lh || (!*label && key->idlen == 0))
        return NULL;
    return OPENSSL_LH_retrieve(lh, (void *)key);
}

hc_keyent_t *hc_keyhash_next(const hc_keyent_t *e, bool label)
{
    return label ? e->next_label : e->next_id;
}
