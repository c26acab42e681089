/* SHA-256 (FIPS 180-4) by OpenSSL's low-level functions. They are
 * deprecated in OpenSSL 3 in favour of EVP, but EVP allocates a context
 * and a provider context per digest and dispatches each update through
 * the provider: with a digest per message and per attachment, and an
 * update per line, that was 2 allocations a digest and a call layer a
 * line (94k allocations of a 106 MB mail capture's 665k). These run the
 * same libcrypto code (SHA-NI where the CPU has it). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "sha256.h"

#include <stdalign.h>
#include <string.h>
#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= MS_SHA256_CTX_SIZE && alignof(SHA256_CTX) <= 8,
               "struct ms_sha256 holds a SHA256_CTX");

static SHA256_CTX *ctx_of(struct ms_sha256 *h)
{
    return (SHA256_CTX *)(void *)h->ctx;
}

void ms_sha256_init(struct ms_sha256 *h)
{
    SHA256_Init(ctx_of(h));
    h->running = true;
}

void ms_sha256_update(struct ms_sha256 *h, const void *p, size_t n)
{
    if (h->running && n > 0)
        SHA256_Update(ctx_of(h), p, n);
}

void ms_sha256_final(struct ms_sha256 *h, uint8_t out[MS_SHA256_LEN])
{
    memset(out, 0, MS_SHA256_LEN);
    if (h->running)
        SHA256_Final(out, ctx_of(h));
    h->running = false;
}

void ms_sha256_free(struct ms_sha256 *h)
{
    h->running = false;
}
