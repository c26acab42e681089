/* The secrets policy's pieces (README "Secrets"). HMAC-SHA256 is RFC 2104
 * with SHA-256 (RFC 4231 gives its test vectors), through libcrypto. */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../common/limits.h"
#include "../common/secret_file.h"
#include "../common/utf8.h"

void ms_secret_mask(struct ms_bytes s, struct ms_mask *m)
{
    size_t chars = 0, first_len = 0, last_at = 0;
    for (size_t i = 0; i < s.len;) {
        uint32_t cp;
        size_t k = ms_utf8_seq(s.p + i, s.len - i, &cp);
        if (k == 0)
            k = 1; /* an invalid byte: one character, as both views show it */
        if (chars == 0)
            first_len = k;
        last_at = i;
        chars++;
        i += k;
    }
    if (chars < MS_MASK_MIN_CHARS) {
        m->first = ms_bytes_of(s.p, 0);
        m->last = ms_bytes_of(s.p, 0);
        m->stars = chars;
        return;
    }
    m->first = ms_bytes_of(s.p, first_len);
    m->last = ms_bytes_of(s.p + last_at, s.len - last_at);
    m->stars = chars - 2;
}

bool ms_secret_hmac(const uint8_t *key, size_t keylen, struct ms_bytes s,
                    char hex[MS_HMAC_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    static const uint8_t empty[1] = { 0 };
    hex[0] = '\0';
    if (!key || keylen == 0 || keylen > MS_HMAC_KEY_MAX)
        return false;
    if (!HMAC(EVP_sha256(), key, (int)keylen, s.p ? s.p : empty, s.len, md, &mdlen) ||
        mdlen * 2 != MS_HMAC_HEX_LEN)
        return false;
    for (size_t i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[MS_HMAC_HEX_LEN] = '\0';
    return true;
}

enum ms_rc ms_secrets_read_key(const char *path, uint8_t *key, size_t cap, size_t *len,
                               bool *exposed, char *err, size_t errlen)
{
    /* One byte more than a key and its CRLF may take: a file that fills it
     * is too long. */
    uint8_t tmp[MS_HMAC_KEY_MAX + 3];
    size_t n = 0;
    *len = 0;
    *exposed = false;
    if (cap < MS_HMAC_KEY_MAX) {
        snprintf(err, errlen, "internal error: key buffer too small");
        return MS_ERR_ARG;
    }
    enum ms_rc rc = ms_secret_file_read(path, "key", tmp, sizeof(tmp), &n, exposed, err, errlen);
    if (rc != MS_OK)
        return rc;
    /* A key typed or echoed into a file ends in a line end that is no part
     * of it; a binary key (head -c 32 /dev/urandom) ends in 0x0a one time
     * in 256 and is used whole: the line end is dropped only when every
     * other byte is printable ASCII. */
    size_t body = n;
    if (body && tmp[body - 1] == '\n') {
        body--;
        if (body && tmp[body - 1] == '\r')
            body--;
    }
    bool text = body < n;
    for (size_t i = 0; i < body && text; i++)
        text = tmp[i] >= 0x20 && tmp[i] <= 0x7e;
    if (text)
        n = body;
    /* A file that filled tmp is too long whatever its end. */
    if (n > MS_HMAC_KEY_MAX) {
        snprintf(err, errlen, "%s is longer than %u bytes: not a key", path,
                 (unsigned)MS_HMAC_KEY_MAX);
        rc = MS_ERR_ARG;
    } else if (n == 0) {
        snprintf(err, errlen, "%s is empty", path);
        rc = MS_ERR_ARG;
    } else if (n < MS_HMAC_KEY_MIN) {
        snprintf(err, errlen,
                 "%s holds %zu bytes; an HMAC-SHA256 key needs at least %u "
                 "(e.g. head -c 32 /dev/urandom > %s)",
                 path, n, (unsigned)MS_HMAC_KEY_MIN, path);
        rc = MS_ERR_ARG;
    } else {
        memcpy(key, tmp, n);
        *len = n;
    }
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return rc;
}

FILE *ms_secrets_open_hashes(const char *path, char *err, size_t errlen)
{
    /* O_NOFOLLOW: a link planted where the file goes must not send the
     * hashes elsewhere, nor make us change another file's mode (hard links:
     * st_nlink below). O_NONBLOCK: a FIFO planted there must not hang us
     * before the check that refuses it. */
    int fd = open(path,
                  O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                  0600);
    if (fd < 0) {
        if (errno == ELOOP)
            snprintf(err, errlen, "%s is a symbolic link: not followed", path);
        else
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_nlink != 1)
        why = "it has other hard links, which would get the hashes too";
    else if (st.st_uid != geteuid())
        why = "it belongs to another user, who could read it";
    else if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0)
        why = "cannot make it mode 0600";
    else if (fcntl(fd, F_SETFL, O_APPEND) != 0) /* O_NONBLOCK off again */
        why = "cannot make it a blocking file";
    FILE *fp = why ? NULL : fdopen(fd, "a");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, why ? why : strerror(errno));
        close(fd);
    }
    return fp;
}

enum ms_rc ms_secrets_write_hashcat(FILE *fp, const struct ms_ev_credential *c, int *last_mode)
{
    if (!fp || !c->hashcat.p || c->hashcat_mode == 0)
        return MS_OK;
    if (c->hashcat_mode != *last_mode) {
        fprintf(fp, "# hashcat -m %d\n", c->hashcat_mode);
        *last_mode = c->hashcat_mode;
    }
    /* NTLM user and domain names are the client's bytes, which may hold a
     * line break (two lines that are no hash, or one that passes for
     * another) or a terminal escape (run by whoever cats the file): a
     * control byte never belongs in a hashcat line. */
    bool clean = true;
    for (size_t i = 0; i < c->hashcat.len && clean; i++)
        clean = c->hashcat.p[i] >= 0x20 && c->hashcat.p[i] != 0x7f;
    if (clean) {
        (void)fwrite(c->hashcat.p, 1, c->hashcat.len, fp); /* errors: ferror below */
        fputc('\n', fp);
    } else {
        fputs("# a line was left out: it holds a control byte (a line break, NUL, escape)\n", fp);
    }
    return fflush(fp) != 0 || ferror(fp) ? MS_ERR_IO : MS_OK;
}
