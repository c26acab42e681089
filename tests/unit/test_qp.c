/* Unit tests for common/qp.c (RFC 2045 §6.7): every case is decoded whole,
 * byte by byte and split at every offset, and must give the same bytes and
 * the same count of malformed sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/qp.h"

static size_t decode(const uint8_t *in, size_t n, int mode, size_t at, uint8_t *out,
                     uint64_t *invalid)
{
    struct ms_qp s;
    size_t o = 0, got;

    ms_qp_init(&s);
    if (mode == 0) {
        got = ms_qp_decode(&s, in, n, out);
        assert_true(got <= MS_QP_OUT_MAX(n));
        o += got;
    } else if (mode == 1) {
        for (size_t i = 0; i < n; i++) {
            got = ms_qp_decode(&s, in + i, 1, out + o);
            assert_true(got <= MS_QP_OUT_MAX(1));
            o += got;
        }
    } else {
        o += ms_qp_decode(&s, in, at, out + o);
        o += ms_qp_decode(&s, in + at, n - at, out + o);
    }
    got = ms_qp_finish(&s, out + o);
    assert_true(got <= MS_QP_HOLD);
    *invalid = s.invalid;
    return o + got;
}

static void checkn(const char *in, size_t n, const char *want, size_t wlen, uint64_t winv)
{
    uint8_t *out = malloc(MS_QP_OUT_MAX(n));
    uint64_t invalid;

    assert_non_null(out);
    for (int mode = 0; mode <= 2; mode++) {
        for (size_t at = 0; at <= (mode == 2 ? n : 0); at++) {
            size_t o = decode((const uint8_t *)in, n, mode, at, out, &invalid);
            assert_int_equal(o, wlen);
            if (wlen)
                assert_memory_equal(out, want, wlen);
            assert_int_equal(invalid, winv);
        }
    }
    free(out);
}

static void check(const char *in, const char *want, uint64_t winv)
{
    checkn(in, strlen(in), want, strlen(want), winv);
}

static void test_plain_and_hex(void **state)
{
    (void)state;
    check("", "", 0);
    check("hello, world", "hello, world", 0);
    check("a=3Db=3d=C3=A9", "a=b=\xc3\xa9", 0);
}

static void test_binary_bytes(void **state)
{
    (void)state;
    checkn("=00=FF", 6, "\0\xff", 2, 0);
}

static void test_soft_breaks(void **state)
{
    (void)state;
    check("abc=\r\ndef", "abcdef", 0);
    check("abc=\ndef", "abcdef", 0);
    check("abc= \t \r\ndef", "abcdef", 0); /* transport padding after '=' */
    check("abc=  \ndef", "abcdef", 0);
    check("=\r\n=\r\nx", "x", 0);
    check("end=", "end", 0); /* its CRLF went to the boundary */
    check("end= ", "end", 0);
    check("end=\r", "end", 0);
}

static void test_hard_breaks_and_blanks(void **state)
{
    (void)state;
    check("a\r\nb", "a\r\nb", 0);
    check("a\nb", "a\nb", 0);
    check("a  \r\nb", "a\r\nb", 0); /* rule 3: trailing blanks go */
    check("a \t\nb", "a\nb", 0);
    check("a \t b", "a \t b", 0);
    check("a  ", "a", 0);       /* end of data ends the line */
    check("a \rb", "a \rb", 0); /* bare CR is data */
    check("a\r", "a\r", 0);
    check("a =20\r\n", "a  \r\n", 0); /* encoded blank is kept */
}

static void test_malformed(void **state)
{
    (void)state;
    check("a=G1", "a=G1", 1);
    check("a=4G", "a=4G", 1);
    check("a=4", "a=4", 1);
    check("a= b", "a= b", 1);
    check("a=\rX", "a=\rX", 1);
    check("a==41", "a=A", 1);
    check("100% =", "100% ", 0);
}

/* Runs of blanks longer than the hold-back window are passed on. */
static void test_long_blank_runs(void **state)
{
    (void)state;
    char in[256], want[256];

    memset(in, ' ', 100);
    memcpy(in + 100, "x\r\n", 4);
    memset(want, ' ', 100);
    memcpy(want + 100, "x\r\n", 4);
    check(in, want, 0);

    memset(in, ' ', 100);
    memcpy(in + 100, "\r\n", 3);
    memset(want, ' ', MS_QP_WS_MAX);
    memcpy(want + MS_QP_WS_MAX, "\r\n", 3);
    check(in, want, 0);

    in[0] = '=';
    memset(in + 1, ' ', 70);
    memcpy(in + 71, "\r\nz", 4);
    want[0] = '=';
    memset(want + 1, ' ', MS_QP_WS_MAX);
    memcpy(want + 1 + MS_QP_WS_MAX, "\r\nz", 4);
    check(in, want, 1);
}

/* Random messy text, decoded a byte at a time (the state machine for every
 * byte: the fast path never sees a blank with its successor or a whole
 * "=XX"), whole and in random pieces: the same bytes and invalid count. */
static void test_random_split_invariance(void **state)
{
    (void)state;
    static const char *const frag[] = {
        "plain",
        "words",
        " ",
        "  ",
        "\t",
        "=C3=A9",
        "=c3=a9",
        "=\r\n",
        "= \t\r\n",
        "=\n",
        "=",
        "=4",
        "=G1",
        "=4G",
        "\r\n",
        "\r",
        "\n",
        " \r\n",
        "x=",
        "==41",
        "=20",
        "                                                                      ",
        "caf=C3=A9 na=C3=AFve ",
        "a b c d e ",
        "=\r",
        "= x",
    };
    enum { DOC_MAX = 3000 };
    uint8_t *doc = malloc(DOC_MAX + 100), *whole = malloc(MS_QP_OUT_MAX(DOC_MAX + 100)),
            *bytes = malloc(MS_QP_OUT_MAX(DOC_MAX + 100)),
            *cut = malloc(MS_QP_OUT_MAX(DOC_MAX + 100) + MS_QP_HOLD * (DOC_MAX + 100));
    assert_non_null(doc);
    assert_non_null(whole);
    assert_non_null(bytes);
    assert_non_null(cut);
    uint32_t seed = 99;
    for (int round = 0; round < 1500; round++) {
        seed = seed * 1664525u + 1013904223u;
        size_t n = 0, want = (seed >> 8) % DOC_MAX;
        while (n < want) {
            seed = seed * 1664525u + 1013904223u;
            const char *f = frag[(seed >> 8) % (sizeof(frag) / sizeof(frag[0]))];
            size_t k = strlen(f);
            memcpy(doc + n, f, k);
            n += k;
        }
        uint64_t inv_whole, inv_bytes;
        size_t nw = decode(doc, n, 0, 0, whole, &inv_whole);
        size_t nb = decode(doc, n, 1, 0, bytes, &inv_bytes);
        assert_int_equal(nb, nw);
        assert_memory_equal(bytes, whole, nw);
        assert_int_equal(inv_bytes, inv_whole);
        struct ms_qp q;
        size_t o = 0;
        ms_qp_init(&q);
        for (size_t at = 0; at < n;) {
            seed = seed * 1664525u + 1013904223u;
            size_t k = (seed >> 8) % 9;
            if (k > n - at)
                k = n - at;
            size_t got = ms_qp_decode(&q, doc + at, k, cut + o);
            assert_true(got <= MS_QP_OUT_MAX(k));
            o += got;
            at += k;
        }
        o += ms_qp_finish(&q, cut + o);
        assert_int_equal(o, nw);
        assert_memory_equal(cut, whole, nw);
        assert_int_equal(q.invalid, inv_whole);
    }
    free(doc);
    free(whole);
    free(bytes);
    free(cut);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_hex),
        cmocka_unit_test(test_binary_bytes),
        cmocka_unit_test(test_soft_breaks),
        cmocka_unit_test(test_hard_breaks_and_blanks),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_long_blank_runs),
        cmocka_unit_test(test_random_split_invariance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
