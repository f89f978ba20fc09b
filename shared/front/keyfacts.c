/*
 * keyfacts.c: the front's table of key facts (keyfacts.h), an open
 * addressing hash on the key's hc_obj_t reference, so a lookup costs the
 * same with 20,000 keys as with one. A forgotten key keeps its slot with
 * no facts (no tombstones needed: the table only grows).
 */
#include "keyfacts.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/textsafe.h"

typedef struct slot {
    hc_obj_t key;     /* 0: free (no reference is 0) */
    hc_keyfacts_t *f; /* NULL: not known (forgotten) */
} slot_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t *slots;
static size_t cap, used; /* cap: 0 or a power of two */

static size_t home(hc_obj_t key, size_t size)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (size - 1);
}

/* The slot of `key`, or the free one where it goes; lock held, cap > 0. */
static slot_t *find_locked(hc_obj_t key)
{
    size_t i = home(key, cap);
    while (slots[i].key && slots[i].key != key)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Keeps the load at most one half; false when out of memory. */
static bool room_locked(void)
{
    if (cap && (used + 1) * 2 <= cap)
        return true;
    size_t ncap = cap ? cap * 2 : 64;
    slot_t *old = slots, *grown = calloc(ncap, sizeof *grown);
    if (!grown)
        return false;
    size_t ocap = cap;
    slots = grown;
    cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            *find_locked(old[i].key) = old[i];
    free(old);
    return true;
}

static bool lookup(hc_obj_t key, hc_keyfacts_t *out)
{
    bool known = false;
    pthread_mutex_lock(&lock);
    if (cap) {
        slot_t *s = find_locked(key);
        if (s->key && s->f) {
            *out = *s->f;
            known = true;
        }
    }
    pthread_mutex_unlock(&lock);
    return known;
}

static void keep(hc_obj_t key, const hc_keyfacts_t *f)
{
    hc_keyfacts_t *copy = malloc(sizeof *copy);
    if (!copy)
        return; /* not kept: read again next time */
    *copy = *f;
    pthread_mutex_lock(&lock);
    if (room_locked()) {
        slot_t *s = find_locked(key);
        if (!s->key) {
            s->key = key;
            used++;
        }
        free(s->f);
        s->f = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&lock);
    free(copy);
}

/* Reads the facts through the core (the one HSM call). */
static CK_RV read_facts(hc_ctx_t *ctx, hc_obj_t key, hc_keyfacts_t *f)
{
    CK_BBOOL sign = CK_FALSE, verify = CK_FALSE, enc = CK_FALSE, dec = CK_FALSE;
    unsigned char label[256];
    memset(f, 0, sizeof *f);
    CK_ATTRIBUTE a[] = {
        { CKA_CLASS, &f->cls, sizeof f->cls },
        { CKA_KEY_TYPE, &f->type, sizeof f->type },
        { CKA_SIGN, &sign, sizeof sign },
        { CKA_VERIFY, &verify, sizeof verify },
        { CKA_ENCRYPT, &enc, sizeof enc },
        { CKA_DECRYPT, &dec, sizeof dec },
        { CKA_ALLOWED_MECHANISMS, f->allowed, sizeof f->allowed },
        { CKA_LABEL, label, sizeof label },
    };
    enum { NA = sizeof a / sizeof a[0] };
    CK_RV rv = hc_get_attrs(ctx, key, a, NA, NULL);
    /* These answer for each attribute; anything else says nothing of the
     * key (the layer below leaves every length unavailable then). */
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE &&
        rv != CKR_BUFFER_TOO_SMALL)
        return rv;
    if (a[0].ulValueLen != sizeof f->cls || a[1].ulValueLen != sizeof f->type)
        return CKR_DEVICE_ERROR; /* a key without class or type: not judged */
    const CK_BBOOL *flag[] = { &sign, &verify, &enc, &dec };
    const CK_FLAGS bit[] = { CKF_SIGN, CKF_VERIFY, CKF_ENCRYPT, CKF_DECRYPT };
    for (int i = 0; i < 4; i++)
        if (a[2 + i].ulValueLen == sizeof(CK_BBOOL) && *flag[i] == CK_TRUE)
            f->usage |= bit[i];
    CK_ULONG n = a[6].ulValueLen;
    /* Unavailable: absent, unless the call says some buffer was too small
     * (then it may be a list longer than ours: not judged). */
    f->allowed_known =
        n == CK_UNAVAILABLE_INFORMATION ? rv != CKR_BUFFER_TOO_SMALL : n <= sizeof f->allowed;
    f->nallowed =
        f->allowed_known && n != CK_UNAVAILABLE_INFORMATION ? n / sizeof(CK_MECHANISM_TYPE) : 0;
    if (a[7].ulValueLen != CK_UNAVAILABLE_INFORMATION && a[7].ulValueLen <= sizeof label)
        hc_text_escape(label, a[7].ulValueLen, f->label, sizeof f->label);
    else
        strcpy(f->label, "(no label)");
    return CKR_OK;
}

CK_RV hc_keyfacts_get(hc_ctx_t *ctx, hc_obj_t key, hc_keyfacts_t *f, bool *cached)
{
    *cached = lookup(key, f);
    return *cached ? CKR_OK : hc_keyfacts_reread(ctx, key, f);
}

CK_RV hc_keyfacts_reread(hc_ctx_t *ctx, hc_obj_t key, hc_keyfacts_t *f)
{
    CK_RV rv = read_facts(ctx, key, f);
    if (rv == CKR_OK)
        keep(key, f);
    return rv;
}

void hc_keyfacts_forget(hc_obj_t key)
{
    pthread_mutex_lock(&lock);
    if (cap) {
        slot_t *s = find_locked(key);
        free(s->f);
        s->f = NULL;
    }
    pthread_mutex_unlock(&lock);
}

void hc_keyfacts_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < cap; i++)
        free(slots[i].f);
    free(slots);
    slots = NULL;
    cap = used = 0;
    pthread_mutex_unlock(&lock);
}

void hc_keyfacts_after_fork(void)
{
    slots = NULL;
    cap = used = 0;
    pthread_mutex_init(&lock, NULL);
}
