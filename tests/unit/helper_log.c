/* Event-log and digest helpers for the unit tests (helper_log.h). */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "helper_log.h"

size_t ms_test_count_lines(const char *log, const char *prefix)
{
    size_t n = 0;
    for (const char *p = log; p && *p;) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

void ms_test_hex(const uint8_t *p, size_t n, char *out)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

void ms_test_sha256_hex(const void *d, size_t n, char out[65])
{
    uint8_t h[32];
    unsigned len = 0;
    EVP_Digest(d, n, h, &len, EVP_sha256(), NULL);
    ms_test_hex(h, 32, out);
}

void ms_test_want_msg(const char *msg, size_t n, char *out, size_t cap)
{
    char hex[65];
    ms_test_sha256_hex(msg, n, hex);
    snprintf(out, cap, " size=%zu sha256=%s", n, hex);
}
