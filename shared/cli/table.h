/*
 * table.h: rows of text columns printed aligned, each column as wide as its
 * widest cell (header included), whatever a cell holds: a module path of
 * any length does not push the columns after it out of line. The last
 * column is not padded. Cells are copied; widths count bytes, so cells
 * are printable ASCII (labels from a module go through textsafe first).
 * Not thread-safe: one table belongs to one thread.
 */
#ifndef HC_CLI_TABLE_H
#define HC_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct hc_table hc_table_t;

/* A table whose first row is `headers` (ncols of them); NULL when out of
 * memory. */
hc_table_t *hc_table_new(size_t ncols, const char *const *headers);
/* Appends a row of ncols cells (NULL prints as "-"); -1 when out of
 * memory (the row is then left out). */
int hc_table_add(hc_table_t *t, const char *const *cells);
void hc_table_print(const hc_table_t *t, FILE *out);
void hc_table_free(hc_table_t *t);

#endif
