/* The secrets policy (--passwords, --hash-key, --hashes; README "Secrets"):
 * masks and HMACs of passwords and tokens for the views, the key file, and
 * the file of hashcat lines. */
#ifndef MS_SECRETS_H
#define MS_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/event.h"
#include "../common/rc.h"

/* A secret of this many characters or more keeps its first and last one
 * in a mask; a shorter one is masked whole. */
#define MS_MASK_MIN_CHARS 8

/* A mask is first, then stars times '*', then last. first and last are
 * parts of the secret (empty when it is masked whole). */
struct ms_mask {
    struct ms_bytes first;
    struct ms_bytes last;
    size_t stars;
};

/* Characters are UTF-8 code points; a byte that starts no valid sequence
 * is one character (both views show it as one: U+FFFD, \xNN). */
void ms_secret_mask(struct ms_bytes s, struct ms_mask *m);

#define MS_HMAC_HEX_LEN 64
/* hex gets HMAC-SHA256(key, s) as 64 lower-case hex digits and a NUL.
 * false when it could not be computed (no key, a libcrypto failure): the
 * caller then shows nothing but the redaction. */
bool ms_secret_hmac(const uint8_t *key, size_t keylen, struct ms_bytes s,
                    char hex[MS_HMAC_HEX_LEN + 1]);

/* Reads the --hash-key file: its bytes, less one final line end (LF or
 * CRLF), MS_HMAC_KEY_MIN to MS_HMAC_KEY_MAX of them, into key (cap bytes,
 * at least MS_HMAC_KEY_MAX). *exposed says that it is a regular file
 * that its group or others may read. On failure err says why, naming the
 * file and never the key: MS_ERR_IO (unreadable), MS_ERR_ARG (empty, too
 * short, too long). */
enum ms_rc ms_secrets_read_key(const char *path, uint8_t *key, size_t cap, size_t *len,
                               bool *exposed, char *err, size_t errlen);

/* Opens the --hashes file to append to: created mode 0600; never through
 * a symbolic link; an existing file must be a regular file of this user,
 * and is made 0600. NULL with err set on failure. */
FILE *ms_secrets_open_hashes(const char *path, char *err, size_t errlen);

/* Writes c's hashcat line, if it has one, to fp as one line, after a
 * "# hashcat -m MODE" line when its mode differs from *last_mode (the
 * previous line's; 0 at the start), and flushes. A line holding CR, LF
 * or NUL cannot be written as one: a comment says it was left out.
 * MS_ERR_IO when writing failed. */
enum ms_rc ms_secrets_write_hashcat(FILE *fp, const struct ms_ev_credential *c, int *last_mode);

#endif
