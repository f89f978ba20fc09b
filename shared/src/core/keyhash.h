/*
 * keyhash.h: the key index's hashes per token (keyhash.c), used by
 * keyindex.c: entries by (generation, handle), and chains of entries by
 * CKA_LABEL and by CKA_ID (hc_keyent_t.next_label/next_id), each lookup
 * constant-time whatever the number of objects on the token.
 *
 * Invariant: an entry with gen != 0 is in the by-handle table under
 * (gen, handle), so e->handle and e->gen are set only through bind and
 * unbind; an entry is in the label and id chains from hc_keyhash_add
 * until hc_keyhash_remove (a destroyed key). Out of memory, an entry is
 * left out of a table: it is then found by a search of the token, as
 * without the tables, never wrongly.
 *
 * Thread-safety: every function here runs under the token's idx_lock.
 */
#ifndef HC_KEYHASH_H
#define HC_KEYHASH_H

#include "core/core.h"

/* The entry bound to handle `h` in generation `gen`, or NULL. */
hc_keyent_t *hc_keyhash_handle(hc_token_t *t, uint64_t gen, CK_OBJECT_HANDLE h);
/* Binds `e` to (h, gen), setting e->handle and e->gen; an entry bound to
 * the same pair before is unbound (the module gave its handle to e). */
void hc_keyhash_bind(hc_token_t *t, hc_keyent_t *e, CK_OBJECT_HANDLE h, uint64_t gen);
/* e->gen = 0: no handle until found again. */
void hc_keyhash_unbind(hc_token_t *t, hc_keyent_t *e);
/* Into the label and id chains (a new entry, its identity set). */
void hc_keyhash_add(hc_token_t *t, hc_keyent_t *e);
/* Out of every table (a destroyed object; its identity still set). */
void hc_keyhash_remove(hc_token_t *t, hc_keyent_t *e);
/* The first entry sharing `key`'s label (or, when it has none, its id),
 * *label saying which chain to follow with hc_keyhash_next; NULL: none. */
hc_keyent_t *hc_keyhash_first(hc_token_t *t, const hc_keyent_t *key, bool *label);
hc_keyent_t *hc_keyhash_next(const hc_keyent_t *e, bool label);
/* Frees the tables (the entries are keyindex.c's). */
void hc_keyhash_free(hc_token_t *t);

#endif
