/* TCP reassembly of one direction: in order, out of order, retransmission,
 * overlap (first copy wins), gaps by ACK, by cap and at flush, wrap-around. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../capture/tcp_reasm.h"

struct sink {
    char out[1024];
    size_t at;
};

static void on_data(void *user, unsigned dir, const uint8_t *p, size_t n)
{
    struct sink *s = user;
    memcpy(s->out + s->at, p, n);
    s->at += n;
    s->out[s->at] = '\0';
}

static void on_gap(void *user, unsigned dir, uint64_t missing)
{
    struct sink *s = user;
    s->at += (size_t)snprintf(s->out + s->at, sizeof(s->out) - s->at, "<gap %llu>",
                              (unsigned long long)missing);
}

struct fixture {
    struct ms_tcp_half h;
    struct ms_reasm_budget b;
    struct sink s;
    struct ms_stream_out o;
};

static void setup(struct fixture *f, size_t max_half, uint32_t isn)
{
    memset(f, 0, sizeof(*f));
    ms_tcp_half_init(&f->h);
    f->b.max_half = max_half;
    f->b.max_total = 1 << 20;
    f->o.data = on_data;
    f->o.gap = on_gap;
    f->o.user = &f->s;
    ms_tcp_half_syn(&f->h, isn);
}

static void seg(struct fixture *f, uint32_t seq, const char *d)
{
    ms_tcp_half_segment(&f->h, &f->b, seq, (const uint8_t *)d, strlen(d), false, &f->o);
}

static void test_in_order_and_retransmit(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 99);
    seg(&f, 100, "USER ");
    seg(&f, 105, "alice\r\n");
    seg(&f, 100, "USER ");          /* retransmission: dropped */
    seg(&f, 102, "ER alice\r\nPA");  /* partial overlap: only "PA" is new */
    assert_string_equal(f.s.out, "USER alice\r\nPA");
    ms_tcp_half_free(&f.h, &f.b);
}

static void test_out_of_order(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 7, "ghi");
    seg(&f, 4, "def");
    assert_string_equal(f.s.out, "");
    seg(&f, 1, "abc");
    assert_string_equal(f.s.out, "abcdefghi");
    assert_int_equal(f.b.used, 0);
}

/* Overlap with different bytes: the first copy (already buffered) wins. */
static void test_overlap_first_wins(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 4, "DEF");
    seg(&f, 3, "cXYZg");  /* "XYZ" conflicts with "DEF": kept as DEF */
    seg(&f, 1, "ab");
    assert_string_equal(f.s.out, "abcDEFg");
}

static void test_gap_on_ack_and_flush(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 1, "abc");
    seg(&f, 10, "jk");
    ms_tcp_half_acked(&f.h, &f.b, 4, &f.o);   /* nothing lost yet */
    assert_string_equal(f.s.out, "abc");
    ms_tcp_half_acked(&f.h, &f.b, 12, &f.o);  /* receiver has 4..9: lost */
    assert_string_equal(f.s.out, "abc<gap 6>jk");
    seg(&f, 20, "tail");
    ms_tcp_half_flush(&f.h, &f.b, &f.o);
    assert_string_equal(f.s.out, "abc<gap 6>jk<gap 8>tail");
    assert_int_equal(f.b.gaps, 2);
    assert_int_equal(f.b.gap_bytes, 14);
}

/* Per-half cap at max-1, max, max+1 buffered bytes. */
static void test_cap_forces_gap(void **state)
{
    (void)state;
    for (size_t extra = 0; extra < 3; extra++) {
        struct fixture f;
        setup(&f, 8, 0);
        char buf[16];
        memset(buf, 'x', sizeof(buf));
        buf[7 + extra] = '\0';
        seg(&f, 5, buf);                 /* 7, 8 or 9 bytes behind a hole */
        if (extra < 2) {
            assert_string_equal(f.s.out, "");
            assert_int_equal(f.b.forced, 0);
            ms_tcp_half_free(&f.h, &f.b);
        } else {
            assert_int_equal(f.b.forced, 1);
            assert_string_equal(f.s.out, "<gap 4>xxxxxxxxx");
        }
        assert_int_equal(f.b.used, 0);
    }
}

static void test_sequence_wrap(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0xfffffffdu);
    seg(&f, 0x00000001u, "cd");   /* after the wrap, before its predecessor */
    seg(&f, 0xfffffffeu, "ab!");  /* 0xfffffffe..0x00000000 */
    assert_string_equal(f.s.out, "ab!cd");
}

static void test_midstream_start(void **state)
{
    (void)state;
    struct fixture f;
    memset(&f, 0, sizeof(f));
    ms_tcp_half_init(&f.h);
    f.b.max_half = f.b.max_total = 1024;
    f.o.data = on_data;
    f.o.gap = on_gap;
    f.o.user = &f.s;
    seg(&f, 5000, "PASS x\r\n");
    assert_string_equal(f.s.out, "PASS x\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_retransmit),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_overlap_first_wins),
        cmocka_unit_test(test_gap_on_ack_and_flush),
        cmocka_unit_test(test_cap_forces_gap),
        cmocka_unit_test(test_sequence_wrap),
        cmocka_unit_test(test_midstream_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
