/* One SHA-256 pass over a file's bytes with libcrypto, read in 1 MiB
 * blocks: the cost the issue 13 target allows for hashing every byte once.
 *
 *   sha_pass FILE    prints the digest in hex
 */
#include <openssl/evp.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    static unsigned char buf[1 << 20];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    FILE *f;
    size_t n;
    int ok;

    if (argc != 2) {
        fprintf(stderr, "usage: sha_pass FILE\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        fprintf(stderr, "sha_pass: failed on %s\n", argv[1]);
        return 1;
    }
    for (unsigned int i = 0; i < mdlen; i++)
        printf("%02x", md[i]);
    printf("\n");
    return 0;
}
