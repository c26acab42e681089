/* SHA-256 over a stream of bytes: a thin wrapper around OpenSSL 3 EVP so that
 * callers need no OpenSSL headers. One context per running hash; init can
 * fail (allocation), update and final cannot. */
#ifndef MS_SHA256_H
#define MS_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include "rc.h"

#define MS_SHA256_LEN 32

struct evp_md_ctx_st; /* OpenSSL's EVP_MD_CTX */

struct ms_sha256 {
    struct evp_md_ctx_st *ctx; /* NULL when not running */
};

/* MS_ERR_NOMEM when OpenSSL cannot allocate; h is then safe to free. */
enum ms_rc ms_sha256_init(struct ms_sha256 *h);
void ms_sha256_update(struct ms_sha256 *h, const void *p, size_t n);
/* Writes the digest and releases the context. */
void ms_sha256_final(struct ms_sha256 *h, uint8_t out[MS_SHA256_LEN]);
/* Releases a context that was never finalised; no-op if not running. */
void ms_sha256_free(struct ms_sha256 *h);

#endif
