/* table.c: aligned text columns (table.h). */
#include "table.h"

#include <stdlib.h>
#include <string.h>

struct hc_table {
    size_t ncols, nrows;
    char **cells;  /* nrows * ncols, row-major; row 0 the headers */
    size_t *width; /* per column */
};

hc_table_t *hc_table_new(size_t ncols, const char *const *headers)
{
    hc_table_t *t = calloc(1, sizeof *t);
    if (!t || !ncols || !(t->width = calloc(ncols, sizeof *t->width))) {
        free(t);
        return NULL;
    }
    t->ncols = ncols;
    if (hc_table_add(t, headers) != 0) {
        hc_table_free(t);
        return NULL;
    }
    return t;
}

int hc_table_add(hc_table_t *t, const char *const *cells)
{
    char **grown = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *grown);
    if (!grown)
        return -1;
    t->cells = grown;
    char **row = grown + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = strdup(cells[c] ? cells[c] : "-");
        if (!row[c]) {
            while (c-- > 0)
                free(row[c]);
            return -1;
        }
    }
    for (size_t c = 0; c < t->ncols; c++) {
        size_t w = strlen(row[c]);
        if (w > t->width[c])
            t->width[c] = w;
    }
    t->nrows++;
    return 0;
}

void hc_table_print(const hc_table_t *t, FILE *out)
{
    for (size_t r = 0; r < t->nrows; r++) {
        char **row = t->cells + r * t->ncols;
        for (size_t c = 0; c + 1 < t->ncols; c++)
            fprintf(out, "%-*s ", (int)t->width[c], row[c]);
        fprintf(out, "%s\n", row[t->ncols - 1]);
    }
}

void hc_table_free(hc_table_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->width);
    free(t);
}
