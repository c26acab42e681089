/* Folder listing for -r DIR: see dirlist.h. */
#include "dirlist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/alloc.h"

bool ms_dirlist_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether the entry is one to read. A name that cannot be looked at (a
 * dangling symbolic link) is kept: opening it says why, and it is
 * skipped with that warning rather than silently. */
static bool wanted(int dfd, const struct dirent *de)
{
    if (de->d_name[0] == '.')
        return false; /* hidden, and "." and ".." */
    if (de->d_type == DT_REG)
        return true;
    if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
        return false;
    struct stat st;
    if (fstatat(dfd, de->d_name, &st, 0) != 0)
        return true;
    return S_ISREG(st.st_mode);
}

static enum ms_rc push(struct ms_dirlist *dl, const char *dir, const char *name)
{
    if (dl->n == dl->cap) {
        size_t cap = dl->cap ? dl->cap * 2 : 16;
        char **p = ms_realloc(dl->paths, cap * sizeof(*p));
        if (!p)
            return MS_ERR_NOMEM;
        dl->paths = p;
        dl->cap = cap;
    }
    size_t dn = strlen(dir), nn = strlen(name);
    bool slash = dn > 0 && dir[dn - 1] != '/';
    char *path = ms_malloc(dn + slash + nn + 1);
    if (!path)
        return MS_ERR_NOMEM;
    memcpy(path, dir, dn);
    if (slash)
        path[dn] = '/';
    memcpy(path + dn + slash, name, nn + 1);
    dl->paths[dl->n++] = path;
    return MS_OK;
}

enum ms_rc ms_dirlist_add(struct ms_dirlist *dl, const char *dir, char *err, size_t errlen)
{
    size_t first = dl->n;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return MS_ERR_IO;
    }
    enum ms_rc rc = MS_OK;
    for (;;) {
        errno = 0;
        const struct dirent *de = readdir(d);
        if (!de) {
            if (errno != 0) {
                snprintf(err, errlen, "%s: %s", dir, strerror(errno));
                rc = MS_ERR_IO;
            }
            break;
        }
        if (wanted(dirfd(d), de) && (rc = push(dl, dir, de->d_name)) != MS_OK) {
            snprintf(err, errlen, "%s: out of memory", dir);
            break;
        }
    }
    (void)closedir(d); /* read only */
    if (rc != MS_OK) {
        while (dl->n > first)
            ms_free(dl->paths[--dl->n]);
        return rc;
    }
    /* The same folder prefix on each: sorted by name. */
    if (dl->n > first)
        qsort(dl->paths + first, dl->n - first, sizeof(*dl->paths), cmp_path);
    return MS_OK;
}

void ms_dirlist_free(struct ms_dirlist *dl)
{
    if (!dl)
        return;
    for (size_t i = 0; i < dl->n; i++)
        ms_free(dl->paths[i]);
    ms_free(dl->paths);
    memset(dl, 0, sizeof(*dl));
}
