/* SHA-256 through OpenSSL EVP (FIPS 180-4). */
#include "sha256.h"

#include <string.h>
#include <openssl/evp.h>

struct evp_md_st *ms_sha256_alg_new(void)
{
    return EVP_MD_fetch(NULL, "SHA256", NULL);
}

void ms_sha256_alg_free(struct evp_md_st *alg)
{
    EVP_MD_free(alg);
}

enum ms_rc ms_sha256_init(struct ms_sha256 *h)
{
    return ms_sha256_init_alg(h, NULL);
}

enum ms_rc ms_sha256_init_alg(struct ms_sha256 *h, const struct evp_md_st *alg)
{
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx)
        return MS_ERR_NOMEM;
    if (EVP_DigestInit_ex(h->ctx, alg ? alg : EVP_sha256(), NULL) != 1) {
        ms_sha256_free(h);
        return MS_ERR_NOMEM;
    }
    return MS_OK;
}

void ms_sha256_update(struct ms_sha256 *h, const void *p, size_t n)
{
    /* EVP_DigestUpdate only fails on a broken context, which init rules out. */
    if (h->ctx && n > 0)
        EVP_DigestUpdate(h->ctx, p, n);
}

void ms_sha256_final(struct ms_sha256 *h, uint8_t out[MS_SHA256_LEN])
{
    unsigned int len = 0;

    memset(out, 0, MS_SHA256_LEN);
    if (h->ctx)
        EVP_DigestFinal_ex(h->ctx, out, &len);
    ms_sha256_free(h);
}

void ms_sha256_free(struct ms_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}
