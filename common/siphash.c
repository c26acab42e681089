#include "siphash.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bytes.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND           \
    do {                   \
        v0 += v1;          \
        v1 = ROTL(v1, 13); \
        v1 ^= v0;          \
        v0 = ROTL(v0, 32); \
        v2 += v3;          \
        v3 = ROTL(v3, 16); \
        v3 ^= v2;          \
        v0 += v3;          \
        v3 = ROTL(v3, 21); \
        v3 ^= v0;          \
        v2 += v1;          \
        v1 = ROTL(v1, 17); \
        v1 ^= v2;          \
        v2 = ROTL(v2, 32); \
    } while (0)

uint64_t ms_siphash24(const uint8_t key[MS_SIPHASH_KEY_LEN], const void *data, size_t n)
{
    const uint8_t *in = data;
    uint64_t k0 = ms_le64(key), k1 = ms_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ull ^ k0;
    uint64_t v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0;
    uint64_t v3 = 0x7465646279746573ull ^ k1;
    size_t whole = n - (n % 8);
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = ms_le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint8_t tail[8] = { 0 };
    memcpy(tail, in + whole, n % 8);
    uint64_t b = ((uint64_t)n << 56) | ms_le64(tail);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

void ms_siphash_random_key(uint8_t key[MS_SIPHASH_KEY_LEN])
{
    if (getrandom(key, MS_SIPHASH_KEY_LEN, GRND_NONBLOCK) == MS_SIPHASH_KEY_LEN)
        return;
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint64_t b = (uint64_t)(uintptr_t)key;
    memcpy(key, &a, 8);
    memcpy(key + 8, &b, 8);
}
