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
struct evp_md_st;     /* OpenSSL's EVP_MD */

struct ms_sha256 {
    struct evp_md_ctx_st *ctx; /* NULL when not running */
};

/* MS_ERR_NOMEM when OpenSSL cannot allocate; h is then safe to free. */
enum ms_rc ms_sha256_init(struct ms_sha256 *h);
/* The same with the algorithm looked up once (ms_sha256_alg_new): OpenSSL 3
 * otherwise fetches it by name at each init. alg NULL: as ms_sha256_init. */
enum ms_rc ms_sha256_init_alg(struct ms_sha256 *h, const struct evp_md_st *alg);
/* NULL when OpenSSL cannot (callers then pass NULL on). The algorithm is
 * only read; each pipeline keeps its own, so no state is shared. */
struct evp_md_st *ms_sha256_alg_new(void);
void ms_sha256_alg_free(struct evp_md_st *alg); /* NULL is a no-op */
void ms_sha256_update(struct ms_sha256 *h, const void *p, size_t n);
/* Writes the digest and releases the context. */
void ms_sha256_final(struct ms_sha256 *h, uint8_t out[MS_SHA256_LEN]);
/* Releases a context that was never finalised; no-op if not running. */
void ms_sha256_free(struct ms_sha256 *h);

#endif
