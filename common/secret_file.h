/* Reading a small file that holds a secret (--hash-key, --wpa-passphrase-
 * file): up to cap bytes, from a pipe too (<(command)). A missing file is
 * not named in the error, since a secret may have been typed where its
 * file's name belongs; a regular file others may read is flagged. */
#ifndef MS_SECRET_FILE_H
#define MS_SECRET_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rc.h"

/* what: "key", "passphrase" (for "cannot open the <what> file"). *len: the
 * bytes read, at most cap (cap bytes read: the file may hold more). On an
 * error buf holds nothing (wiped). MS_ERR_IO when it cannot be opened or
 * read. */
enum ms_rc ms_secret_file_read(const char *path, const char *what, uint8_t *buf, size_t cap,
                               size_t *len, bool *exposed, char *err, size_t errlen);

#endif
