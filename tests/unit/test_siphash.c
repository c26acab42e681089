/* SipHash-2-4 against OpenSSL's SIPHASH MAC (an independent
 * implementation) on the reference vectors' inputs and on random keys and
 * lengths; and the flow table's bucket hash is keyed: tuples chosen to
 * collide under the old unkeyed FNV-1a (issue 11, finding 8) spread out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/flow.h"
#include "../../common/siphash.h"

static uint64_t openssl_siphash(const uint8_t key[16], const uint8_t *m, size_t n)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    assert_non_null(mac);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    assert_non_null(ctx);
    size_t outlen = 8;
    OSSL_PARAM params[] = { OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen),
                            OSSL_PARAM_construct_end() };
    assert_int_equal(EVP_MAC_init(ctx, key, 16, params), 1);
    assert_int_equal(EVP_MAC_update(ctx, m, n), 1);
    uint8_t out[8];
    size_t got = 0;
    assert_int_equal(EVP_MAC_final(ctx, out, &got, sizeof(out)), 1);
    assert_int_equal(got, 8);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | out[i];
    return v;
}

static void test_reference_inputs(void **state)
{
    (void)state;
    /* The paper's vectors: key 00..0f, messages 00..(n-1), n = 0..63.
     * Two written out (the first two of vectors.h), the rest from OpenSSL. */
    uint8_t key[16], m[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        m[i] = (uint8_t)i;
    assert_true(ms_siphash24(key, m, 0) == 0x726fdb47dd0e0e31ull);
    assert_true(ms_siphash24(key, m, 1) == 0x74f839c593dc67fdull);
    for (size_t n = 0; n < 64; n++)
        assert_true(ms_siphash24(key, m, n) == openssl_siphash(key, m, n));
}

static void test_random_keys(void **state)
{
    (void)state;
    srand(11);
    uint8_t key[16], m[300];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 16; i++)
            key[i] = (uint8_t)rand();
        size_t n = (size_t)rand() % sizeof(m);
        for (size_t i = 0; i < n; i++)
            m[i] = (uint8_t)rand();
        assert_true(ms_siphash24(key, m, n) == openssl_siphash(key, m, n));
    }
    /* Two tables get two keys. */
    uint8_t a[16], b[16];
    ms_siphash_random_key(a);
    ms_siphash_random_key(b);
    assert_memory_not_equal(a, b, 16);
}

/* The bucket of the flow table before issue 11: FNV-1a over the tuple
 * (lower endpoint first), 1024 buckets for up to 1024 flows. */
static size_t old_bucket(const uint8_t src[4], uint16_t sp, const uint8_t dst[4], uint16_t dp)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint8_t ver = 4;
    const uint8_t *parts[] = { &ver, src, (const uint8_t *)&sp, dst, (const uint8_t *)&dp };
    const size_t lens[] = { 1, 4, 2, 4, 2 };
    for (int k = 0; k < 5; k++) {
        for (size_t i = 0; i < lens[k]; i++) {
            h ^= parts[k][i];
            h *= 0x100000001b3ull;
        }
    }
    return (size_t)(h & 1023);
}

static void on_end(void *user, struct ms_flow *f)
{
    (void)user;
    (void)f;
}

static void test_colliding_tuples_spread(void **state)
{
    (void)state;
    /* An attacker's SYNs from 10.9.x.y to one server port, picked so that
     * all fell into bucket 0 of the old hash (src < dst keeps the order). */
    struct ms_flow_table *t = ms_flow_table_new(1024, 60000000ull, 0, on_end, NULL);
    assert_non_null(t);
    const uint8_t dst[4] = { 192, 0, 2, 1 };
    size_t picked = 0;
    for (uint32_t i = 0; i < 4000000u && picked < 1000; i++) {
        uint8_t src[4] = { 10, 9, (uint8_t)(i >> 16), (uint8_t)(i >> 8) };
        uint16_t sp = (uint16_t)(1024 + (i & 0xff));
        if (old_bucket(src, sp, dst, 25) != 0)
            continue;
        struct ms_pkt p = {
            .ip_version = 4, .sport = sp, .dport = 25, .tcp_flags = MS_TH_SYN, .ts_us = 1 + picked
        };
        memcpy(p.src, src, 4);
        memcpy(p.dst, dst, 4);
        enum ms_dir dir;
        bool created;
        assert_non_null(ms_flow_lookup(t, &p, true, &dir, &created));
        assert_true(created);
        picked++;
    }
    assert_int_equal(picked, 1000);
    /* Keyed: about one flow a bucket; balls in bins put the longest chain
     * near 6. The old hash put all 1000 in one. */
    assert_true(ms_flow_table_longest_chain(t) <= 12);
    ms_flow_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_inputs),
        cmocka_unit_test(test_random_keys),
        cmocka_unit_test(test_colliding_tuples_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
