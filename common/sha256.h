/* SHA-256 over a stream of bytes, through OpenSSL's SHA256_* functions so
 * that callers need no OpenSSL headers. The context lives in the struct:
 * nothing is allocated, so none of these can fail. */
#ifndef MS_SHA256_H
#define MS_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_SHA256_LEN 32
#define MS_SHA256_CTX_SIZE 112 /* sizeof(SHA256_CTX): checked in sha256.c */

struct ms_sha256 {
    _Alignas(8) uint8_t ctx[MS_SHA256_CTX_SIZE]; /* OpenSSL's SHA256_CTX */
    bool running;
};

void ms_sha256_init(struct ms_sha256 *h);
/* A no-op when h is not running. */
void ms_sha256_update(struct ms_sha256 *h, const void *p, size_t n);
/* Writes the digest (zeros when h is not running) and stops h. */
void ms_sha256_final(struct ms_sha256 *h, uint8_t out[MS_SHA256_LEN]);
/* Stops a hash that was never finalised; a no-op if not running. */
void ms_sha256_free(struct ms_sha256 *h);

#endif
