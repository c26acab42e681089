/* -r DIR (README, Usage): the files of a folder, each read as if it were
 * given with -r, in name order. Not recursive: only the folder's own
 * regular files (and symbolic links to regular files); hidden files (a
 * name that starts with a dot), subfolders, pipes, sockets and devices are
 * left out. Names are sorted by their bytes (strcmp: "10.pcap" before
 * "9.pcap"), whatever the locale. */
#ifndef MS_DIRLIST_H
#define MS_DIRLIST_H

#include <stdbool.h>
#include <stddef.h>
#include "../common/rc.h"

/* Paths of the files found, "DIR/name", of every folder listed so far:
 * they stay valid until ms_dirlist_free (a pipeline names its source with
 * one until it finishes). */
struct ms_dirlist {
    char **paths;
    size_t n, cap;
};

/* True when path names a folder (a symbolic link to one too). */
bool ms_dirlist_is_dir(const char *path);

/* Appends the files of dir, sorted, at dl->paths[dl->n ...]; dl starts
 * zeroed. MS_ERR_IO (the folder cannot be read) or MS_ERR_NOMEM, with a
 * one-line reason in err; dl keeps what it had then. */
enum ms_rc ms_dirlist_add(struct ms_dirlist *dl, const char *dir, char *err, size_t errlen);

/* Frees every path; dl is zeroed. NULL is a no-op. */
void ms_dirlist_free(struct ms_dirlist *dl);

#endif
