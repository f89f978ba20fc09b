/*
 * groupkeys.c: a token group's objects (group.h): the objects present on
 * every member that answers, matched by identity (class, CKA_ID,
 * CKA_LABEL, CKA_TOKEN), each a group entry in the group token's own key
 * index linked to the same object's entry on each member; and the
 * comparison of the members' public keys, which refuses a key whose
 * public key differs between two members, compares a member again when
 * its object was replaced, and retires a group entry whose key was
 * replaced on every member for a new one (group.h, Keys).
 */
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/group.h"
#include "core/swcrypto.h"
#include "util/err.h"

static bool is_key(const hc_keyent_t *e)
{
    return e->cls == CKO_PRIVATE_KEY || e->cls == CKO_PUBLIC_KEY;
}

static void fingerprint(const unsigned char h[32], char out[72])
{
    int n = snprintf(out, 72, "sha256:");
    for (int i = 0; i < 32; i++)
        n += snprintf(out + n, 72 - (size_t)n, "%02x", h[i]);
}

/* Under gt->idx_lock: the link array of `ge`, made on first use. */
static hc_group_link_t *links(hc_token_t *gt, hc_keyent_t *ge)
{
    if (!ge->member)
        ge->member = calloc(gt->group->n, sizeof *ge->member);
    return ge->member;
}

/* Under gt->idx_lock: member i's link of ge is now `me` (NULL: none),
 * not compared yet. */
static void link_to(hc_token_t *gt, hc_keyent_t *ge, size_t i, hc_keyent_t *me)
{
    ge->member[i].e = me;
    ge->member[i].epoch = me ? hc_keyindex_epoch(gt->group->m[i].t, me) : 0;
    ge->member_checked &= ~(1u << i);
}

/* Under gt->idx_lock: member i's entry `me` of ge retired and a fresh one
 * (found by identity at its first use, its public key read again) linked
 * in its place, not compared yet. */
static void renew_locked(hc_token_t *gt, hc_keyent_t *ge, size_t i, hc_keyent_t *me)
{
    hc_keyindex_forget(gt->group->m[i].t, me);
    link_to(gt, ge, i, hc_keyindex_intern(gt->group->m[i].t, ge));
}

/* Member i's entry for ge as linked now (NULL: not found there yet), and
 * in *checked whether its public key was compared. A linked entry whose
 * object was destroyed since (its epoch moved) is retired on the member
 * first, and a fresh one found by identity is linked in its place, to be
 * compared again: the old entry's public key was read once and kept. */
static hc_keyent_t *current(hc_token_t *gt, hc_keyent_t *ge, size_t i, bool *checked)
{
    hc_token_t *mt = gt->group->m[i].t;
    pthread_mutex_lock(&gt->idx_lock);
    hc_keyent_t *me = ge->member ? ge->member[i].e : NULL;
    if (me && hc_keyindex_epoch(mt, me) != ge->member[i].epoch) {
        renew_locked(gt, ge, i, me);
        me = ge->member[i].e;
    }
    *checked = (ge->member_checked & (1u << i)) != 0;
    pthread_mutex_unlock(&gt->idx_lock);
    return me;
}

void hc_group_member_renew(hc_token_t *gt, hc_keyent_t *ge, size_t i, hc_keyent_t *me)
{
    pthread_mutex_lock(&gt->idx_lock);
    if (ge->member && ge->member[i].e == me) /* else relinked meanwhile */
        renew_locked(gt, ge, i, me);
    pthread_mutex_unlock(&gt->idx_lock);
}

/* A group entry's standing among its members: the members' current
 * objects whose public keys were compared (member_checked) all have the
 * group's adopted key (AGREE), two of them differ (DIFFER: refused), or
 * they agree on another key than the adopted one (REPLACED: the key was
 * replaced on the members, a new key pair under the same label and id;
 * the entry is retired and a new one made for the new key, see match()). */
enum standing { AGREE, DIFFER, REPLACED };

/* The mark hc_keyindex_forget leaves on an entry it drops. */
static bool forgotten(const hc_keyent_t *e)
{
    return e->cls == (CK_OBJECT_CLASS)-2;
}

/* Under gt->idx_lock: ge's standing, from the members' current links;
 * *a and *b: two members that differ (DIFFER). A member's key is read
 * here only once its bit is set, after hc_keyindex_public succeeded. */
static enum standing standing_locked(hc_token_t *gt, const hc_keyent_t *ge, size_t *a, size_t *b)
{
    hc_group_t *g = gt->group;
    const unsigned char *first = NULL;
    bool adopted = true;
    for (size_t k = 0; k < g->n; k++) {
        hc_keyent_t *me = ge->member ? ge->member[k].e : NULL;
        if (!me || !(ge->member_checked & (1u << k)) || !me->spki)
            continue;
        if (!first) {
            first = me->spki_hash;
            *a = k;
        } else if (memcmp(first, me->spki_hash, sizeof me->spki_hash) != 0) {
            *b = k;
            return DIFFER;
        }
        if (ge->spki && memcmp(ge->spki_hash, me->spki_hash, sizeof ge->spki_hash) != 0)
            adopted = false;
    }
    return adopted ? AGREE : REPLACED;
}

/* Member i's public key `me` against the group's: adopted when it is the
 * first, then ge's standing recomputed (never kept from before: a member
 * whose key differed may have been fixed). A new difference is logged
 * once, with both members and fingerprints. */
static void compare(hc_token_t *gt, hc_keyent_t *ge, size_t i, hc_keyent_t *me)
{
    hc_group_t *g = gt->group;
    char log[512] = "";
    pthread_mutex_lock(&gt->idx_lock);
    if ((ge->member_checked & (1u << i)) || !ge->member || ge->member[i].e != me) {
        pthread_mutex_unlock(&gt->idx_lock); /* done, or relinked meanwhile */
        return;
    }
    if (!ge->spki) {
        unsigned char *copy = malloc(me->spki_len);
        if (!copy) {
            pthread_mutex_unlock(&gt->idx_lock);
            return; /* compared again next time */
        }
        memcpy(copy, me->spki, me->spki_len);
        ge->spki = copy;
        ge->spki_len = me->spki_len;
        const unsigned char *p = copy;
        ge->pkey = d2i_PUBKEY(NULL, &p, (long)me->spki_len);
        ge->sig_len = me->sig_len;
        memcpy(ge->spki_hash, me->spki_hash, sizeof ge->spki_hash);
        ge->pub_tried = true;
    }
    ge->member_checked |= 1u << i;
    size_t x = 0, y = 0;
    bool differ = standing_locked(gt, ge, &x, &y) == DIFFER;
    if (differ && !ge->mismatch) {
        char fa[72], fb[72], name[300];
        fingerprint(ge->member[x].e->spki_hash, fa);
        fingerprint(ge->member[y].e->spki_hash, fb);
        snprintf(log, sizeof log,
                 "token group %s: key %s refused: its public "
                 "key differs between members %s (%s) and %s (%s); re-import "
                 "the same key pair into both",
                 gt->cfg->name, hc_keyent_name(ge, name, sizeof name), g->m[x].t->cfg->name, fa,
                 g->m[y].t->cfg->name, fb);
    }
    ge->mismatch = differ;
    pthread_mutex_unlock(&gt->idx_lock);
    if (log[0])
        hc_log(&gt->core->log, HC_LOG_ERROR, "%s", log);
}

bool hc_group_key_refused(hc_token_t *gt, const hc_keyent_t *ge)
{
    pthread_mutex_lock(&gt->idx_lock);
    bool refused = ge->mismatch || forgotten(ge);
    pthread_mutex_unlock(&gt->idx_lock);
    return refused;
}

/* The refusal of `ge`, rebuilt from its members' kept fingerprints. */
static CK_RV refusal(hc_token_t *gt, hc_keyent_t *ge, hc_err_t *err)
{
    hc_group_t *g = gt->group;
    char list[HC_GROUP_MAX_MEMBERS * 140] = "", name[300];
    pthread_mutex_lock(&gt->idx_lock);
    for (size_t i = 0; i < g->n; i++) {
        hc_keyent_t *me = ge->member ? ge->member[i].e : NULL;
        if (!me || !(ge->member_checked & (1u << i)) || !me->spki)
            continue;
        char fp[72];
        fingerprint(me->spki_hash, fp);
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s (%s)", used ? ", " : "",
                 g->m[i].t->cfg->name, fp);
    }
    pthread_mutex_unlock(&gt->idx_lock);
    return hc_err(err, CKR_KEY_TYPE_INCONSISTENT,
                  "token group %s: key %s refused: "
                  "its public key differs between members: %s",
                  gt->cfg->name, hc_keyent_name(ge, name, sizeof name), list);
}

/* ge's standing as the caller's answer: CKR_OK, the refusal, or
 * CKR_OBJECT_HANDLE_INVALID for a key replaced on the members. */
static CK_RV verdict(hc_token_t *gt, hc_keyent_t *ge, hc_err_t *err)
{
    size_t x = 0, y = 0;
    pthread_mutex_lock(&gt->idx_lock);
    enum standing st = forgotten(ge) ? REPLACED : standing_locked(gt, ge, &x, &y);
    pthread_mutex_unlock(&gt->idx_lock);
    char name[300];
    if (st == DIFFER)
        return refusal(gt, ge, err);
    if (st == REPLACED)
        return hc_err(err, CKR_OBJECT_HANDLE_INVALID,
                      "token group %s: key %s "
                      "was replaced on the members (another key pair under its "
                      "label and id): find it again",
                      gt->cfg->name, hc_keyent_name(ge, name, sizeof name));
    return CKR_OK;
}

CK_RV hc_group_public(hc_token_t *gt, hc_keyent_t *ge, hc_err_t *err)
{
    hc_group_t *g = gt->group;
    char name[300];
    if (!is_key(ge))
        return forgotten(ge) ? verdict(gt, ge, err)
                             : hc_err(err, CKR_KEY_TYPE_INCONSISTENT,
                                      "token group %s: object %s "
                                      "is not a key",
                                      gt->cfg->name, hc_keyent_name(ge, name, sizeof name));
    for (size_t i = 0; i < g->n; i++) {
        bool checked;
        hc_keyent_t *me = current(gt, ge, i, &checked);
        pthread_mutex_lock(&g->lock);
        bool down = g->m[i].down;
        pthread_mutex_unlock(&g->lock);
        /* A down member is compared before its next use instead
         * (hc_group_member_key): reading it here would stall. */
        if (!me || checked || down)
            continue;
        if (hc_keyindex_public(g->m[i].t, me, NULL) == CKR_OK)
            compare(gt, ge, i, me);
    }
    CK_RV rv = verdict(gt, ge, err);
    pthread_mutex_lock(&gt->idx_lock);
    bool have = ge->spki != NULL;
    pthread_mutex_unlock(&gt->idx_lock);
    if (rv == CKR_OK && !have)
        return hc_err(err, CKR_KEY_TYPE_INCONSISTENT,
                      "token group %s: no member "
                      "gave a public key for key %s",
                      gt->cfg->name, hc_keyent_name(ge, name, sizeof name));
    return rv;
}

CK_RV hc_group_member_key(hc_token_t *gt, hc_keyent_t *ge, size_t i, hc_keyent_t **out,
                          hc_err_t *err)
{
    hc_token_t *mt = gt->group->m[i].t;
    pthread_mutex_lock(&gt->idx_lock);
    hc_group_link_t *l = links(gt, ge);
    /* Not seen on this member yet (it did not answer the search): an
     * entry found there by identity when used, or refused as gone. */
    if (l && !l[i].e)
        link_to(gt, ge, i, hc_keyindex_intern(mt, ge));
    pthread_mutex_unlock(&gt->idx_lock);
    bool checked;
    hc_keyent_t *me = l ? current(gt, ge, i, &checked) : NULL;
    if (!me)
        return hc_err(err, CKR_HOST_MEMORY, "out of memory");
    *out = me;
    if (checked || !is_key(ge))
        return CKR_OK;
    char name[300];
    CK_RV rv = hc_keyindex_public(mt, me, err);
    if (rv == CKR_KEY_TYPE_INCONSISTENT) /* no public key there to compare */
        return hc_err(err, CKR_KEY_HANDLE_INVALID,
                      "token %s: key %s has no "
                      "public key to compare with the other members'; not used "
                      "on this member",
                      mt->cfg->name, hc_keyent_name(ge, name, sizeof name));
    if (rv != CKR_OK)
        return rv;
    compare(gt, ge, i, me);
    return verdict(gt, ge, err);
}

/* Orders entries by identity (class, CKA_TOKEN, CKA_ID, CKA_LABEL). A
 * member's found objects are sorted so, to be found by identity: a key
 * replaced on a member is a new entry there beside the old one, and the
 * search found the new one only. Identity fields never change. */
static int cmp_identity(const void *pa, const void *pb)
{
    const hc_keyent_t *x = *(hc_keyent_t *const *)pa, *y = *(hc_keyent_t *const *)pb;
    if (x->cls != y->cls)
        return x->cls < y->cls ? -1 : 1;
    if (x->on_token != y->on_token)
        return x->on_token < y->on_token ? -1 : 1;
    if (x->idlen != y->idlen)
        return x->idlen < y->idlen ? -1 : 1;
    if (x->labellen != y->labellen)
        return x->labellen < y->labellen ? -1 : 1;
    int d = memcmp(x->ckaid, y->ckaid, x->idlen);
    return d ? d : memcmp(x->label, y->label, x->labellen);
}

/* The entries of the objects `found` (n of them), sorted by identity, in
 * *out (malloc'ed, *nout of them); false when out of memory. */
static bool by_identity(hc_core_t *c, const hc_obj_t *found, size_t n, hc_keyent_t ***out,
                        size_t *nout)
{
    *nout = 0;
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out)
        return false;
    for (size_t k = 0; k < n; k++) {
        hc_keyent_t *e = hc_keyindex_get(c, found[k], NULL);
        if (e)
            (*out)[(*nout)++] = e;
    }
    qsort(*out, *nout, sizeof **out, cmp_identity);
    return true;
}

/* The entry with `probe`'s identity among `ents` (sorted), or NULL. */
static hc_keyent_t *among(hc_keyent_t *const *ents, size_t n, const hc_keyent_t *probe)
{
    hc_keyent_t *const *hit = bsearch(&probe, ents, n, sizeof *ents, cmp_identity);
    return hit ? *hit : NULL;
}

/* Links ge to the member entries `on` of the members that `answered`; a
 * member whose entry is another object now is compared again. */
static bool relink(hc_token_t *gt, hc_keyent_t *ge, const bool *answered, hc_keyent_t *const *on)
{
    pthread_mutex_lock(&gt->idx_lock);
    hc_group_link_t *l = links(gt, ge);
    for (size_t j = 0; l && j < gt->group->n; j++)
        if (answered[j] && l[j].e != on[j])
            link_to(gt, ge, j, on[j]);
    pthread_mutex_unlock(&gt->idx_lock);
    return l != NULL;
}

/* The group entry for the object `e0` whose entry on each member that
 * answered is on[]: its standing checked; a key replaced on the members
 * (REPLACED) retires the old entry, whose references are refused from
 * then on, and gets a new one with the new public key. NULL when refused
 * (logged when found) or out of memory. */
static hc_keyent_t *group_entry(hc_token_t *gt, const hc_keyent_t *e0, const bool *answered,
                                hc_keyent_t *const *on)
{
    for (int round = 0; round < 2; round++) {
        hc_keyent_t *ge = hc_keyindex_intern(gt, e0);
        if (!ge || !relink(gt, ge, answered, on))
            return NULL; /* no label and no id, or out of memory */
        if (!is_key(ge))
            return ge;
        hc_err_t e = { 0 };
        CK_RV rv = hc_group_public(gt, ge, &e);
        if (rv != CKR_OBJECT_HANDLE_INVALID)
            return hc_group_key_refused(gt, ge) ? NULL : ge;
        char name[300];
        hc_log(&gt->core->log, HC_LOG_INFO,
               "token group %s: key %s was replaced "
               "on the members (another key pair under its label and id): "
               "references to the old one are refused, a new search finds the "
               "new one",
               gt->cfg->name, hc_keyent_name(ge, name, sizeof name));
        hc_keyindex_forget(gt, ge);
    }
    return NULL;
}

/* Whether member `mt` sees its private objects. */
static bool logged_in(hc_token_t *mt)
{
    pthread_mutex_lock(&mt->lock);
    bool in = mt->logged_in || (mt->info_valid && !(mt->info.flags & CKF_LOGIN_REQUIRED));
    pthread_mutex_unlock(&mt->lock);
    return in;
}

/* Searches every member (those up, or all when none is) and keeps the
 * objects every one that answered has; CKR_OK with none found is an
 * answer, the first member's error when none answered. */
static CK_RV match(hc_token_t *gt, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
                   size_t *count, hc_err_t *err)
{
    hc_core_t *c = gt->core;
    hc_group_t *g = gt->group;
    hc_obj_t *found[HC_GROUP_MAX_MEMBERS] = { 0 };
    size_t nfound[HC_GROUP_MAX_MEMBERS] = { 0 };
    hc_keyent_t **ents[HC_GROUP_MAX_MEMBERS] = { 0 };
    size_t nents[HC_GROUP_MAX_MEMBERS] = { 0 };
    bool answered[HC_GROUP_MAX_MEMBERS] = { false }, up[HC_GROUP_MAX_MEMBERS];
    size_t nup = 0;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->n; i++)
        nup += (up[i] = !g->m[i].down);
    pthread_mutex_unlock(&g->lock);
    CK_RV first = CKR_OK;
    hc_err_t firsterr = { 0 };
    int base = -1;
    for (size_t i = 0; i < g->n; i++) {
        if (nup && !up[i])
            continue;
        hc_err_t e = { 0 };
        CK_RV rv = hc_core_find(c, g->m[i].t->index, tmpl, n, &found[i], &nfound[i], &e);
        if (rv == CKR_OK && !logged_in(g->m[i].t)) {
            /* Its private keys are hidden: it would hide the group's. */
            free(found[i]);
            found[i] = NULL;
            rv = hc_err(&e, CKR_USER_NOT_LOGGED_IN,
                        "token %s: not logged in "
                        "(see hsmcache tokens)",
                        g->m[i].t->cfg->name);
        }
        hc_group_note(gt, i, rv, &e);
        if (rv != CKR_OK) {
            if (first == CKR_OK) {
                first = rv;
                firsterr = e;
            }
            continue;
        }
        if (!by_identity(c, found[i], nfound[i], &ents[i], &nents[i])) {
            rv = hc_err(&e, CKR_HOST_MEMORY, "out of memory");
            if (first == CKR_OK) {
                first = rv;
                firsterr = e;
            }
            continue;
        }
        answered[i] = true;
        if (base < 0)
            base = (int)i;
    }
    CK_RV rv = CKR_OK;
    *objs = NULL;
    *count = 0;
    if (base < 0) {
        rv = hc_err(err, first, "token group %s: no member answered (first: %s)", gt->cfg->name,
                    firsterr.msg);
        goto out;
    }
    for (size_t k = 0; k < nents[base]; k++) {
        hc_keyent_t *e0 = ents[base][k], *on[HC_GROUP_MAX_MEMBERS];
        bool everywhere = true;
        for (size_t j = 0; j < g->n && everywhere; j++)
            if (answered[j])
                everywhere = (on[j] = (int)j == base ? e0 : among(ents[j], nents[j], e0));
        if (!everywhere)
            continue; /* not on every member: not the group's */
        hc_keyent_t *ge = group_entry(gt, e0, answered, on);
        if (!ge)
            continue; /* refused, or nothing to match it by */
        hc_obj_t *grown = realloc(*objs, (*count + 1) * sizeof *grown);
        if (!grown) {
            rv = hc_err(err, CKR_HOST_MEMORY, "out of memory");
            break;
        }
        *objs = grown;
        (*objs)[(*count)++] = ge->id;
    }
out:
    for (size_t i = 0; i < g->n; i++) {
        free(found[i]);
        free(ents[i]);
    }
    if (rv != CKR_OK) {
        free(*objs);
        *objs = NULL;
        *count = 0;
    }
    return rv;
}

void hc_group_check_all(hc_token_t *gt)
{
    hc_group_t *g = gt->group;
    pthread_mutex_lock(&g->check_lock);
    if (!g->checked) {
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        CK_ATTRIBUTE tmpl = { CKA_CLASS, &cls, sizeof cls };
        hc_obj_t *objs;
        size_t n;
        /* A member that does not answer now is compared key by key before
         * its first use (hc_group_member_key). */
        if (match(gt, &tmpl, 1, &objs, &n, NULL) == CKR_OK) {
            g->checked = true;
            free(objs);
        }
    }
    pthread_mutex_unlock(&g->check_lock);
}

CK_RV hc_group_find(hc_token_t *gt, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hc_obj_t **objs,
                    size_t *count, hc_err_t *err)
{
    hc_group_check_all(gt);
    return match(gt, tmpl, n, objs, count, err);
}

void hc_group_refusals(hc_token_t *gt, char *buf, size_t size)
{
    pthread_mutex_lock(&gt->idx_lock);
    size_t n = gt->nents;
    pthread_mutex_unlock(&gt->idx_lock);
    for (size_t k = 0; k < n; k++) {
        pthread_mutex_lock(&gt->idx_lock);
        hc_keyent_t *ge = gt->ents[k];
        bool mismatch = ge->mismatch && !forgotten(ge);
        pthread_mutex_unlock(&gt->idx_lock);
        if (!mismatch)
            continue;
        hc_err_t e;
        refusal(gt, ge, &e);
        const char *msg = strstr(e.msg, ": key ") ? strstr(e.msg, ": key ") + 2 : e.msg;
        size_t used = strlen(buf);
        if (used < size)
            snprintf(buf + used, size - used, "%s%s", used ? "; " : "", msg);
    }
}
