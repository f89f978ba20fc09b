/* pdnsconf.c: the gmysql-* (and local-address/port) settings from
 * pdns.conf and the *.conf files of its include-dir, later files
 * overriding earlier ones, as PowerDNS reads them. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdnshsm.h"

static void trim(char *s)
{
    char *e = s + strlen(s);
    while (e > s && strchr(" \t\r\n", e[-1]))
        *--e = '\0';
}

static int compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, pdns_settings_t *s, char *include_dir, size_t isize)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *k = line + strspn(line, " \t"), *v = eq + 1 + strspn(eq + 1, " \t");
        trim(k);
        trim(v);
        if (!strcmp(k, "gmysql-host"))
            snprintf(s->host, sizeof s->host, "%s", v);
        else if (!strcmp(k, "gmysql-port"))
            s->port = (unsigned)atoi(v);
        else if (!strcmp(k, "gmysql-socket"))
            snprintf(s->socket, sizeof s->socket, "%s", v);
        else if (!strcmp(k, "gmysql-user"))
            snprintf(s->user, sizeof s->user, "%s", v);
        else if (!strcmp(k, "gmysql-password"))
            snprintf(s->password, sizeof s->password, "%s", v);
        else if (!strcmp(k, "gmysql-dbname"))
            snprintf(s->dbname, sizeof s->dbname, "%s", v);
        else if (!strcmp(k, "local-address"))
            sscanf(v, "%255[^, ]", s->local_address);
        else if (!strcmp(k, "local-port"))
            s->local_port = (unsigned)atoi(v);
        else if (!strcmp(k, "include-dir") && include_dir)
            snprintf(include_dir, isize, "%s", v);
    }
    fclose(f);
    return 0;
}

int pdns_settings_read(const char *config_dir, pdns_settings_t *s, char *err, size_t size)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dbname, sizeof s->dbname, "powerdns");
    snprintf(s->user, sizeof s->user, "powerdns");
    snprintf(s->local_address, sizeof s->local_address, "127.0.0.1");
    s->local_port = 53;
    snprintf(s->path, sizeof s->path, "%s/pdns.conf", config_dir);
    char include_dir[4096] = "";
    if (read_file(s->path, s, include_dir, sizeof include_dir) != 0) {
        snprintf(err, size, "%s: cannot read (give --config-dir)", s->path);
        return -1;
    }
    if (!include_dir[0])
        return 0;
    DIR *d = opendir(include_dir);
    if (!d) {
        snprintf(err, size, "%s: include-dir %s cannot be read", s->path, include_dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len > 5 && !strcmp(de->d_name + len - 5, ".conf")) {
            char **g = realloc(names, (n + 1) * sizeof *g);
            if (!g)
                break;
            names = g;
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare);
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", include_dir, names[i]);
        read_file(path, s, NULL, 0);
        free(names[i]);
    }
    free(names);
    return 0;
}
