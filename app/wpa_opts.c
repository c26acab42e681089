/* See wpa_opts.h. Secrets are wiped (OPENSSL_cleanse) from every buffer
 * they passed through. */
#include "wpa_opts.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/ascii.h"
#include "../common/limits.h"
#include "../common/secret_file.h"

/* An SSID as people read it in an error: printable ASCII, other bytes as
 * \xNN. Not a secret (beacons broadcast it). */
static void ssid_show(const uint8_t *ssid, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i++) {
        if (ssid[i] >= 0x20 && ssid[i] < 0x7f && ssid[i] != '"')
            out[o++] = (char)ssid[i];
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ssid[i]);
    }
    out[o] = '\0';
}

static struct ms_wpa_secret *slot(struct ms_wpa_secrets *s, char *err, size_t errlen)
{
    if (s->n >= MS_WPA_OPT_SECRETS_MAX) {
        snprintf(err, errlen, "more than %u passphrases and PSKs given",
                 (unsigned)MS_WPA_OPT_SECRETS_MAX);
        return NULL;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        struct ms_wpa_secret *v = ms_calloc(cap, sizeof(*v));
        if (!v) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        if (s->n) {
            memcpy(v, s->v, s->n * sizeof(*v));
            OPENSSL_cleanse(s->v, s->n * sizeof(*v));
        }
        ms_free(s->v);
        s->v = v;
        s->cap = cap;
    }
    struct ms_wpa_secret *e = &s->v[s->n];
    memset(e, 0, sizeof(*e));
    return e;
}

enum ms_rc ms_wpa_secrets_add(struct ms_wpa_secrets *s, const char *arg, size_t len, char *err,
                              size_t errlen)
{
    uint8_t ssid[MS_WPA_SSID_MAX];
    size_t n = 0, i = 0;
    bool colon = false, too_long = false;
    for (; i < len; i++) {
        char ch = arg[i];
        if (ch == ':') {
            colon = true;
            i++;
            break;
        }
        if (ch == '\\' && i + 1 < len && (arg[i + 1] == ':' || arg[i + 1] == '\\'))
            ch = arg[++i];
        if (n < sizeof(ssid))
            ssid[n++] = (uint8_t)ch;
        else
            too_long = true;
    }
    /* Without a colon the argument may be the passphrase alone: not shown. */
    if (!colon) {
        snprintf(err, errlen,
                 "SSID:PASSPHRASE expected, there is no colon (a colon in the "
                 "SSID is written \\:)");
        return MS_ERR_ARG;
    }
    if (n == 0) {
        snprintf(err, errlen, "the SSID before the colon is empty");
        return MS_ERR_ARG;
    }
    char shown[4 * MS_WPA_SSID_MAX + 1];
    ssid_show(ssid, n, shown, sizeof(shown));
    if (too_long) {
        snprintf(err, errlen, "the SSID \"%s...\" is longer than 32 bytes", shown);
        return MS_ERR_ARG;
    }
    const char *pass = arg + i;
    size_t plen = len - i;
    /* IEEE 802.11-2020 J.4.1: 8 to 63 ASCII characters 32 to 126. */
    if (plen < 8 || plen > 63) {
        snprintf(err, errlen,
                 "the passphrase for SSID \"%s\" has %zu characters; a WPA2 passphrase has 8 "
                 "to 63",
                 shown, plen);
        return MS_ERR_ARG;
    }
    for (size_t k = 0; k < plen; k++) {
        unsigned char c = (unsigned char)pass[k];
        if (c < 0x20 || c > 0x7e) {
            snprintf(err, errlen,
                     "the passphrase for SSID \"%s\" has a character that is not printable "
                     "ASCII (at position %zu); a WPA2 passphrase has only those",
                     shown, k + 1);
            return MS_ERR_ARG;
        }
    }
    struct ms_wpa_secret *e = slot(s, err, errlen);
    if (!e)
        return MS_ERR_NOMEM;
    memcpy(e->ssid, ssid, n);
    e->ssid_len = n;
    memcpy(e->pass, pass, plen);
    e->pass_len = plen;
    s->n++;
    return MS_OK;
}

enum ms_rc ms_wpa_secrets_add_psk(struct ms_wpa_secrets *s, const char *hex, char *err,
                                  size_t errlen)
{
    uint8_t pmk[MS_WPA_PMK_LEN];
    size_t len = strlen(hex);
    if (len != (size_t)2 * MS_WPA_PMK_LEN) {
        snprintf(err, errlen,
                 "64 hexadecimal digits expected (the 256-bit PSK), not %zu "
                 "characters; a passphrase goes with --wpa-passphrase SSID:PASSPHRASE",
                 len);
        return MS_ERR_ARG;
    }
    for (size_t i = 0; i < MS_WPA_PMK_LEN; i++) {
        int hi = ms_ascii_hexval((uint8_t)hex[2 * i]),
            lo = ms_ascii_hexval((uint8_t)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(pmk, sizeof(pmk));
            snprintf(err, errlen,
                     "64 hexadecimal digits expected (the 256-bit PSK): character "
                     "%zu is not one",
                     2 * i + (hi < 0 ? 1 : 2));
            return MS_ERR_ARG;
        }
        pmk[i] = (uint8_t)(hi << 4 | lo);
    }
    struct ms_wpa_secret *e = slot(s, err, errlen);
    if (!e) {
        OPENSSL_cleanse(pmk, sizeof(pmk));
        return MS_ERR_NOMEM;
    }
    e->is_pmk = true;
    memcpy(e->pmk, pmk, sizeof(pmk));
    OPENSSL_cleanse(pmk, sizeof(pmk));
    s->n++;
    return MS_OK;
}

/* The file's bytes (at most MS_WPA_OPT_FILE_MAX) into a new buffer. */
static enum ms_rc slurp(const char *path, char **buf, size_t *len, bool *exposed, char *err,
                        size_t errlen)
{
    /* One byte more than the cap: a file that fills it is too large. */
    size_t cap = MS_WPA_OPT_FILE_MAX + 1, n = 0;
    char *b = ms_malloc(cap);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return MS_ERR_NOMEM;
    }
    enum ms_rc rc = ms_secret_file_read(path, "passphrase", (uint8_t *)b, cap, &n, exposed, err,
                                        errlen);
    if (rc != MS_OK) {
        ms_free(b);
        return rc;
    }
    if (n > MS_WPA_OPT_FILE_MAX) {
        snprintf(err, errlen, "%s is larger than %u bytes", path, (unsigned)MS_WPA_OPT_FILE_MAX);
        OPENSSL_cleanse(b, n);
        ms_free(b);
        return MS_ERR_ARG;
    }
    *buf = b;
    *len = n;
    return MS_OK;
}

enum ms_rc ms_wpa_secrets_read_file(struct ms_wpa_secrets *s, const char *path, bool *exposed,
                                    char *err, size_t errlen)
{
    char *b = NULL;
    size_t len = 0;
    enum ms_rc rc = slurp(path, &b, &len, exposed, err, errlen);
    if (rc != MS_OK)
        return rc;
    size_t before = s->n, lineno = 0;
    char why[256];
    /* Windows editors begin a UTF-8 file with a byte order mark: not part
     * of the first SSID. */
    size_t start = len >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    for (size_t off = start; off < len && rc == MS_OK;) {
        const char *line = b + off;
        const char *nl = memchr(line, '\n', len - off);
        size_t n = nl ? (size_t)(nl - line) : len - off;
        off += n + (nl ? 1 : 0);
        lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        if (n == 0 || line[0] == '#')
            continue;
        if (n > MS_WPA_OPT_LINE_MAX) {
            snprintf(err, errlen, "%s line %zu: longer than %u bytes", path, lineno,
                     (unsigned)MS_WPA_OPT_LINE_MAX);
            rc = MS_ERR_ARG;
            break;
        }
        rc = ms_wpa_secrets_add(s, line, n, why, sizeof(why));
        if (rc != MS_OK)
            snprintf(err, errlen, "%s line %zu: %s", path, lineno, why);
    }
    OPENSSL_cleanse(b, len);
    ms_free(b);
    if (rc == MS_OK && s->n == before) {
        snprintf(err, errlen, "%s holds no SSID:PASSPHRASE line", path);
        rc = MS_ERR_ARG;
    }
    return rc;
}

enum ms_rc ms_wpa_secrets_apply(const struct ms_wpa_secrets *s, struct ms_wpa *w, char *err,
                                size_t errlen)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct ms_wpa_secret *e = &s->v[i];
        enum ms_rc rc = e->is_pmk
                            ? ms_wpa_add_pmk(w, e->pmk)
                            : ms_wpa_add_passphrase(w, e->ssid, e->ssid_len, e->pass, e->pass_len);
        if (rc != MS_OK) {
            snprintf(err, errlen, "%s",
                     rc == MS_ERR_NOMEM ? "out of memory" : "a secret was refused");
            return rc;
        }
    }
    return MS_OK;
}

void ms_wpa_secrets_clear(struct ms_wpa_secrets *s)
{
    if (s->v) {
        OPENSSL_cleanse(s->v, s->cap * sizeof(*s->v));
        ms_free(s->v);
    }
    s->v = NULL;
    s->n = s->cap = 0;
}

void ms_wpa_wipe_arg(char *arg)
{
    OPENSSL_cleanse(arg, strlen(arg));
}
