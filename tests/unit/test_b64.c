/* Unit tests for common/b64.c: RFC 4648 §10 vectors, streaming at every
 * split, MIME leniency, and the strict one-shot used by SASL. Expected data
 * comes from the RFC or from OpenSSL's encoder, not from the decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "common/b64.h"

/* Decodes in in one go (cuts == 0), byte by byte (cuts == 1) or split at
 * offset `at` (cuts == 2); returns the output length. */
static size_t decode(const char *in, size_t n, int cuts, size_t at, uint8_t *out, uint64_t *invalid)
{
    struct ms_b64 s;
    size_t o = 0;

    ms_b64_init(&s);
    if (cuts == 0) {
        o += ms_b64_decode(&s, (const uint8_t *)in, n, out + o);
    } else if (cuts == 1) {
        for (size_t i = 0; i < n; i++)
            o += ms_b64_decode(&s, (const uint8_t *)in + i, 1, out + o);
    } else {
        o += ms_b64_decode(&s, (const uint8_t *)in, at, out + o);
        o += ms_b64_decode(&s, (const uint8_t *)in + at, n - at, out + o);
    }
    o += ms_b64_finish(&s, out + o);
    *invalid = s.invalid;
    return o;
}

/* Every chunking gives want, with the expected count of invalid chars. */
static void checkn(const char *in, size_t n, const void *want, size_t wlen, uint64_t want_invalid)
{
    uint8_t *out = malloc(MS_B64_OUT_MAX(n) + 8);
    uint64_t invalid;

    assert_non_null(out);
    for (int cuts = 0; cuts <= 2; cuts++) {
        for (size_t at = 0; at <= (cuts == 2 ? n : 0); at++) {
            size_t o = decode(in, n, cuts, at, out, &invalid);
            assert_int_equal(o, wlen);
            if (wlen)
                assert_memory_equal(out, want, wlen);
            assert_int_equal(invalid, want_invalid);
        }
    }
    free(out);
}

static void check(const char *in, const void *want, size_t wlen, uint64_t want_invalid)
{
    checkn(in, strlen(in), want, wlen, want_invalid);
}

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    check("", "", 0, 0);
    check("Zg==", "f", 1, 0);
    check("Zm8=", "fo", 2, 0);
    check("Zm9v", "foo", 3, 0);
    check("Zm9vYg==", "foob", 4, 0);
    check("Zm9vYmE=", "fooba", 5, 0);
    check("Zm9vYmFy", "foobar", 6, 0);
    check("+/+/", "\xfb\xff\xbf", 3, 0);
}

static void test_whitespace_and_padding(void **state)
{
    (void)state;
    check("Zm9v\r\nYmFy\r\n", "foobar", 6, 0);
    check(" Z m 9 v\tY\nm\rE=", "fooba", 5, 0);
    check("YWJj\r\nZA=\r\n=\r\n", "abcd", 4, 0); /* padding split over lines */
    check("NA=\n=Mg\n==", "42", 2, 0);           /* Suricata bug 6207 */
    check("Zm9vYmE", "fooba", 5, 0);             /* missing padding: fine */
    check("Zg", "f", 1, 0);
    check("Zg==Zm8=", "ffo", 3, 0); /* data after padding */
}

static void test_invalid(void **state)
{
    (void)state;
    check("Zm9v!YmFy", "foobar", 6, 1); /* junk skipped, counted */
    checkn("Zm\0"
           "9v",
           5, "foo", 3, 1); /* NUL is just another bad byte */
    checkn("\xff\x80Zm9v\x7f", 7, "foo", 3, 3);
}

static void test_invalid_counts(void **state)
{
    (void)state;
    check("Z", "", 0, 1); /* dangling sextet */
    check("Zm9vZ", "foo", 3, 1);
    check("=Zg==", "f", 1, 1); /* stray '=' */
    check("Zg=="
          "=",
          "f", 1, 1);               /* one '=' too many */
    check("Z=Zg==", "f", 1, 1);     /* "x=" cannot make a byte */
    check("Zm=Zg==", "ff", 2, 1);   /* padding cut short */
    check("Zm9-_A==", "fo@", 3, 4); /* URL-safe letters are not MIME,
                                                      the '=' after a full quantum neither */
}

/* The output bound holds when a quantum is pending from the previous call
 * and the chunk ends in an early '=' (found by fuzzing: 49 bytes out of 64
 * characters). */
static void test_output_bound(void **state)
{
    (void)state;
    char in[65];
    uint8_t out[MS_B64_OUT_MAX(64) + 16];
    struct ms_b64 s;

    ms_b64_init(&s);
    assert_int_equal(ms_b64_decode(&s, (const uint8_t *)"QUJ", 3, out), 0);
    in[0] = 'D';
    for (size_t i = 0; i < 15; i++)
        memcpy(in + 1 + 4 * i, "QUJD", 4);
    memcpy(in + 61, "QU=", 3);
    size_t got = ms_b64_decode(&s, (const uint8_t *)in, 64, out);
    assert_int_equal(got, 49);
    assert_true(got <= MS_B64_OUT_MAX(64));
    for (size_t i = 0; i < 48; i++)
        assert_int_equal(out[i], "ABC"[i % 3]);
    assert_int_equal(out[48], 'A');
    for (size_t n = 0; n < 1000; n++)
        assert_true(MS_B64_OUT_MAX(n) == (n + 3) * 3 / 4);
}

static void test_decode_buf(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t len = 99;

    /* AUTH PLAIN "\0user\0pass" */
    assert_int_equal(ms_b64_decode_buf((const uint8_t *)"AHVzZXIAcGFzcw==", 16, out, sizeof(out),
                                       &len),
                     MS_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(out, "\0user\0pass", 10);

    assert_int_equal(ms_b64_decode_buf((const uint8_t *)"", 0, out, sizeof(out), &len), MS_OK);
    assert_int_equal(len, 0);
    assert_int_equal(ms_b64_decode_buf((const uint8_t *)"dXNlcg", 6, out, sizeof(out), &len),
                     MS_OK);
    assert_int_equal(len, 4);
    assert_int_equal(ms_b64_decode_buf((const uint8_t *)"dXN*lcg==", 9, out, sizeof(out), &len),
                     MS_ERR_PROTO);
    assert_int_equal(ms_b64_decode_buf((const uint8_t *)"dXNlc", 5, out, sizeof(out), &len),
                     MS_ERR_PROTO);
    /* cap at max-1, max, max+1 of the decoded size (6 bytes) */
    assert_int_equal(ms_b64_decode_buf((const uint8_t *)"Zm9vYmFy", 8, out, 5, &len), MS_ERR_LIMIT);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "fooba", 5);
    assert_int_equal(ms_b64_decode_buf((const uint8_t *)"Zm9vYmFy", 8, out, 6, &len), MS_OK);
    assert_int_equal(len, 6);
    assert_int_equal(ms_b64_decode_buf((const uint8_t *)"Zm9vYmFy", 8, out, 7, &len), MS_OK);
    assert_int_equal(len, 6);
    assert_int_equal(ms_b64_decode_buf((const uint8_t *)"Zg==", 4, NULL, 0, &len), MS_ERR_LIMIT);
    assert_int_equal(len, 0);
}

/* Random data, encoded by OpenSSL, wrapped at 76 columns, fed in random
 * chunks: must come back byte for byte. */
static void test_roundtrip_random(void **state)
{
    (void)state;
    uint32_t seed = 12345;

    for (int round = 0; round < 50; round++) {
        size_t n = (size_t)round * 37 % 1500;
        uint8_t *raw = malloc(n + 1), *enc = malloc(4 * (n / 3 + 1) + 1);
        uint8_t *wrapped = malloc(4 * (n / 3 + 1) * 2 + 8), *out = NULL;
        size_t elen, wlen = 0, o = 0;
        struct ms_b64 s;

        assert_non_null(raw);
        assert_non_null(enc);
        assert_non_null(wrapped);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            raw[i] = (uint8_t)(seed >> 24);
        }
        elen = (size_t)EVP_EncodeBlock(enc, raw, (int)n);
        for (size_t i = 0; i < elen; i++) {
            wrapped[wlen++] = enc[i];
            if (i % 76 == 75) {
                wrapped[wlen++] = '\r';
                wrapped[wlen++] = '\n';
            }
        }
        out = malloc(MS_B64_OUT_MAX(wlen) + 2);
        assert_non_null(out);
        ms_b64_init(&s);
        for (size_t off = 0; off < wlen;) {
            seed = seed * 1664525u + 1013904223u;
            size_t take = 1 + (seed >> 16) % 97;
            if (take > wlen - off)
                take = wlen - off;
            size_t got = ms_b64_decode(&s, wrapped + off, take, out + o);
            assert_true(got <= MS_B64_OUT_MAX(take));
            o += got;
            off += take;
        }
        o += ms_b64_finish(&s, out + o);
        assert_int_equal(o, n);
        if (n)
            assert_memory_equal(out, raw, n);
        assert_int_equal(s.invalid, 0);
        free(raw);
        free(enc);
        free(wrapped);
        free(out);
    }
}

/* The decoder as specified, a character at a time (what common/b64.c did
 * before its whole-quantum fast path): the fast path must give the same
 * bytes and the same invalid count on any input, however it is cut. */
struct ref_b64 {
    uint32_t acc;
    unsigned n, pad;
    uint64_t invalid;
};

static int ref_val(uint8_t c)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *at = c ? strchr(abc, c) : NULL;
    if (at)
        return (int)(at - abc);
    if (c == '=')
        return -3;
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' ? -2 : -1;
}

static size_t ref_partial(const struct ref_b64 *r, uint8_t *out)
{
    if (r->n == 2) {
        out[0] = (uint8_t)(r->acc >> 4);
        return 1;
    }
    if (r->n == 3) {
        out[0] = (uint8_t)(r->acc >> 10);
        out[1] = (uint8_t)(r->acc >> 2);
        return 2;
    }
    return 0;
}

static size_t ref_decode(const uint8_t *in, size_t n, uint8_t *out, uint64_t *invalid)
{
    struct ref_b64 r = { 0 };
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = ref_val(in[i]);
        if (v == -2)
            continue;
        if (v == -1) {
            r.invalid++;
        } else if (v == -3) {
            if (r.pad == 0 && r.n < 2) {
                r.invalid++;
                r.acc = r.n = r.pad = 0;
                continue;
            }
            if (r.pad == 0)
                o += ref_partial(&r, out + o);
            r.pad++;
            if (++r.n == 4)
                r.acc = r.n = r.pad = 0;
        } else {
            if (r.pad > 0) {
                r.invalid++;
                r.acc = r.n = r.pad = 0;
            }
            r.acc = (r.acc << 6) | (uint32_t)v;
            if (++r.n == 4) {
                out[o++] = (uint8_t)(r.acc >> 16);
                out[o++] = (uint8_t)(r.acc >> 8);
                out[o++] = (uint8_t)r.acc;
                r.acc = r.n = r.pad = 0;
            }
        }
    }
    if (r.pad == 0) {
        if (r.n == 1)
            r.invalid++;
        o += ref_partial(&r, out + o);
    }
    *invalid = r.invalid;
    return o;
}

static uint32_t lcg(uint32_t *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return *seed;
}

/* n bytes of mostly alphabet, one in oddness an odd one: from odd, or
 * (odd NULL) any byte. */
static void messy_text(uint32_t *seed, uint8_t *in, size_t n, unsigned oddness, const char *odd)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i++) {
        uint32_t x = lcg(seed);
        if ((x >> 16) % oddness != 0)
            in[i] = (uint8_t)abc[(x >> 8) % 64];
        else
            in[i] = odd ? (uint8_t)odd[(x >> 8) % strlen(odd)] : (uint8_t)(x >> 24);
    }
}

/* Ends s and checks what it gave (got, o bytes so far) against the
 * reference's decoding of in. */
static void finish_as_reference(struct ms_b64 *s, const uint8_t *in, size_t n, uint8_t *got,
                                size_t o)
{
    uint8_t *want = malloc(n + 1);
    assert_non_null(want);
    uint64_t want_inv;
    size_t wlen = ref_decode(in, n, want, &want_inv);
    o += ms_b64_finish(s, got + o);
    assert_int_equal(o, wlen);
    if (wlen)
        assert_memory_equal(got, want, wlen);
    assert_int_equal(s->invalid, want_inv);
    free(want);
}

/* Messy text: mostly alphabet runs (the fast path), with '=', whitespace
 * (and \v, \f, which are not), and junk bytes at random places, cut at
 * random: output and invalid count as the reference gives them. */
static void test_matches_reference(void **state)
{
    (void)state;
    static const char odd[] = "= \t\r\n\v\f-_.\x80\xff*";
    uint32_t seed = 777;
    enum { LEN = 600 };
    uint8_t in[LEN], got[LEN + 8];

    for (int round = 0; round < 4000; round++) {
        uint32_t x = lcg(&seed);
        unsigned oddness = 1 + (x >> 24) % 40; /* 1 in oddness is odd */
        size_t n = (x >> 8) % LEN;
        messy_text(&seed, in, n, oddness, round & 1 ? odd : NULL);
        struct ms_b64 s;
        size_t o = 0;
        ms_b64_init(&s);
        for (size_t off = 0; off < n;) {
            size_t take = (lcg(&seed) >> 16) % 13;
            if (take > n - off)
                take = n - off;
            o += ms_b64_decode(&s, in + off, take, got + o);
            off += take;
        }
        finish_as_reference(&s, in, n, got, o);
    }
}

/* Each call writes within MS_B64_OUT_MAX of its input, whatever is
 * pending from the call before: decoded into a buffer of exactly that
 * size (on the heap, so that the sanitizers' builds see a byte past it)
 * with a canary after it, in chunks long enough for the word-at-a-time
 * quanta, the output the same as the reference's. */
static void test_exact_out_buffer(void **state)
{
    (void)state;
    uint32_t seed = 4242;
    enum { LEN = 2000 };
    uint8_t in[LEN], got[LEN];

    for (int round = 0; round < 2000; round++) {
        uint32_t x = lcg(&seed);
        unsigned oddness = 2 + (x >> 24) % 200;
        size_t n = (x >> 8) % LEN;
        messy_text(&seed, in, n, oddness, "= \r\n*");
        struct ms_b64 s;
        size_t o = 0;
        ms_b64_init(&s);
        for (size_t off = 0; off < n;) {
            size_t take = (lcg(&seed) >> 12) % 97;
            if (take > n - off)
                take = n - off;
            size_t cap = MS_B64_OUT_MAX(take);
            uint8_t *out = malloc(cap + 1);
            assert_non_null(out);
            out[cap] = 0xa5;
            size_t k = ms_b64_decode(&s, in + off, take, out);
            assert_true(k <= cap);
            assert_int_equal(out[cap], 0xa5);
            memcpy(got + o, out, k);
            free(out);
            o += k;
            off += take;
        }
        finish_as_reference(&s, in, n, got, o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),  cmocka_unit_test(test_whitespace_and_padding),
        cmocka_unit_test(test_invalid),          cmocka_unit_test(test_invalid_counts),
        cmocka_unit_test(test_output_bound),     cmocka_unit_test(test_decode_buf),
        cmocka_unit_test(test_roundtrip_random), cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_exact_out_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
