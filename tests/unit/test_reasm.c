/* TCP reassembly of one direction: in order, out of order, retransmission,
 * overlap (first copy wins, differing bytes reported), gaps by ACK, by cap
 * and at flush, wrap-around, memory accounting. */
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
    unsigned overlaps;        /* overlap callbacks */
    uint32_t overlap_seq;     /* where the last one said the difference is */
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

static void on_overlap(void *user, unsigned dir, uint32_t seq)
{
    struct sink *s = user;
    (void)dir;
    s->overlaps++;
    s->overlap_seq = seq;
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
    f->b.window = 64;
    f->o.data = on_data;
    f->o.gap = on_gap;
    f->o.overlap = on_overlap;
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
    ms_tcp_half_free(&f.h, &f.b);
}

/* Overlap with different bytes: the first copy (already buffered) wins. */
static void test_overlap_first_wins(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 4, "DEF");
    seg(&f, 3, "cXYZg");  /* "XYZ" conflicts with "DEF": kept as DEF */
    assert_int_equal(f.s.overlaps, 1);
    assert_int_equal(f.s.overlap_seq, 4);
    seg(&f, 1, "ab");
    assert_string_equal(f.s.out, "abcDEFg");
    assert_int_equal(f.b.overlap_diff, 1);
    ms_tcp_half_free(&f.h, &f.b);
}

/* The same overlap with the same bytes is a plain retransmission. */
static void test_overlap_same_bytes_silent(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 4, "DEF");
    seg(&f, 3, "cDEFg");
    seg(&f, 1, "ab");
    seg(&f, 2, "bcD");        /* retransmission of delivered bytes */
    assert_string_equal(f.s.out, "abcDEFg");
    assert_int_equal(f.s.overlaps, 0);
    assert_int_equal(f.b.overlaps, 2);
    assert_int_equal(f.b.overlap_diff, 0);
    ms_tcp_half_free(&f.h, &f.b);
}

/* An in-order segment running over buffered bytes: the buffered (first)
 * copy is delivered, the difference reported. */
static void test_in_order_over_buffered(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 5, "EF");
    seg(&f, 1, "abcdXYgh");   /* XY at 5..6 conflicts with the buffered EF */
    assert_string_equal(f.s.out, "abcdEFgh");
    assert_int_equal(f.s.overlaps, 1);
    assert_int_equal(f.s.overlap_seq, 5);
    assert_int_equal(f.b.used, 0);
    ms_tcp_half_free(&f.h, &f.b);
}

/* A retransmission of delivered bytes with other bytes ("PASS secret" then
 * "PASS public"): dropped, reported, within the window only. */
static void test_retransmit_different_data(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 1, "PASS secret\r\n");
    seg(&f, 1, "PASS public\r\n");
    assert_string_equal(f.s.out, "PASS secret\r\n");
    assert_int_equal(f.s.overlaps, 1);
    assert_int_equal(f.s.overlap_seq, 6);
    /* Beyond the window (64 bytes back) nothing can be compared. */
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    seg(&f, 14, big);
    seg(&f, 14, "zzzz");          /* 199 bytes back: outside the window */
    assert_int_equal(f.s.overlaps, 1);
    seg(&f, 14 + 199 - 4, "azzz"); /* 3 bytes back: inside */
    assert_int_equal(f.s.overlaps, 2);
    assert_int_equal(f.s.overlap_seq, 14 + 199 - 3);
    assert_int_equal(f.b.window_mem, 64);
    ms_tcp_half_free(&f.h, &f.b);
    assert_int_equal(f.b.window_mem, 0);
}

/* The window forgets what lies before a gap. */
static void test_window_after_gap(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 1, "abc");
    seg(&f, 10, "jk");
    ms_tcp_half_flush(&f.h, &f.b, &f.o);
    assert_string_equal(f.s.out, "abc<gap 6>jk");
    seg(&f, 9, "XJ");   /* 9 was never seen: only J/j compared */
    assert_int_equal(f.s.overlaps, 1);
    assert_int_equal(f.s.overlap_seq, 10);
    seg(&f, 9, "Yj");   /* same as delivered where known */
    assert_int_equal(f.s.overlaps, 1);
    ms_tcp_half_free(&f.h, &f.b);
}

/* A window of 0 turns comparison off (and allocates nothing). */
static void test_window_off(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    f.b.window = 0;
    seg(&f, 1, "abc");
    seg(&f, 1, "xyz");
    assert_string_equal(f.s.out, "abc");
    assert_int_equal(f.s.overlaps, 0);
    assert_int_equal(f.b.overlaps, 1);
    assert_null(f.h.win);
}

/* A flood of 1-byte segments is bounded by their cost, not their bytes. */
static void test_tiny_segments_bounded(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 10 * ms_tcp_seg_cost(1), 0);
    for (uint32_t i = 0; i < 100; i++)
        seg(&f, 100 + 2 * i, "x");
    assert_true(f.h.ooo_bytes <= 10 * ms_tcp_seg_cost(1));
    assert_true(f.b.forced > 0);
    assert_true(f.b.used_peak <= 10 * ms_tcp_seg_cost(1));
    ms_tcp_half_free(&f.h, &f.b);
    assert_int_equal(f.b.used, 0);
}

/* Global cap shared by two halves. */
static void test_global_cap(void **state)
{
    (void)state;
    struct fixture a, c;
    setup(&a, 1024, 0);
    setup(&c, 1024, 0);
    struct ms_reasm_budget b = a.b;
    b.max_total = ms_tcp_seg_cost(4) * 2;
    ms_tcp_half_segment(&a.h, &b, 10, (const uint8_t *)"abcd", 4, false, &a.o);
    ms_tcp_half_segment(&c.h, &b, 10, (const uint8_t *)"efgh", 4, false, &c.o);
    assert_int_equal(b.forced, 0);
    assert_int_equal(b.used, 2 * ms_tcp_seg_cost(4));
    /* One more byte anywhere does not fit: that half gives up its hole. */
    ms_tcp_half_segment(&c.h, &b, 20, (const uint8_t *)"i", 1, false, &c.o);
    assert_int_equal(b.forced, 1);
    assert_string_equal(c.s.out, "<gap 9>efgh");
    ms_tcp_half_flush(&c.h, &b, &c.o);
    assert_string_equal(c.s.out, "<gap 9>efgh<gap 6>i");
    ms_tcp_half_free(&a.h, &b);
    ms_tcp_half_free(&c.h, &b);
    assert_int_equal(b.used, 0);
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
    ms_tcp_half_free(&f.h, &f.b);
}

/* Per-half cap at max-1, max, max+1 buffered bytes (a segment costs its
 * bytes plus a fixed overhead). */
static void test_cap_forces_gap(void **state)
{
    (void)state;
    for (size_t extra = 0; extra < 3; extra++) {
        struct fixture f;
        setup(&f, ms_tcp_seg_cost(8), 0);
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
        ms_tcp_half_free(&f.h, &f.b);
        assert_int_equal(f.b.window_mem, 0);
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
    ms_tcp_half_free(&f.h, &f.b);
}

/* A second SYN with another ISN while data waits out of order must not
 * move next_seq onto or past that data (it once made flush spin forever,
 * and a backwards move reported a 4 GB gap). */
static void test_second_syn_with_waiting_data(void **state)
{
    (void)state;
    const uint32_t isn2[] = { 1100, 1200 }; /* onto, and past, the waiting byte */
    for (size_t i = 0; i < 2; i++) {
        struct fixture f;
        setup(&f, 1024, 1000);
        seg(&f, 1101, "later");            /* a hole at 1001..1100 */
        ms_tcp_half_syn(&f.h, isn2[i]);
        ms_tcp_half_flush(&f.h, &f.b, &f.o);
        assert_string_equal(f.s.out, "<gap 100>later");
        assert_int_equal(f.b.gap_bytes, 100);
        assert_null(f.h.ooo);
        ms_tcp_half_free(&f.h, &f.b);
    }
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

/* Randomised against a model of "first copy wins": random segments of a
 * random stream (some with forged bytes), arriving in random order with
 * duplicates, from a random ISN (so some wrap). With buffers and window
 * large enough, the output must be the first-arrived byte of every
 * position, and overlap_diff must count exactly the segments that carried
 * a byte different from the first copy of that byte. */
static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) % n;
}

struct bigsink {
    uint8_t out[512];
    size_t at;
    unsigned gaps;
};

static void big_data(void *user, unsigned dir, const uint8_t *p, size_t n)
{
    struct bigsink *s = user;
    (void)dir;
    assert_true(s->at + n <= sizeof(s->out));
    memcpy(s->out + s->at, p, n);
    s->at += n;
}

static void big_gap(void *user, unsigned dir, uint64_t missing)
{
    struct bigsink *s = user;
    (void)dir;
    (void)missing;
    s->gaps++;
}

static void test_random_against_model(void **state)
{
    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 1 + rnd(300);
        uint8_t truth[300], first[300];
        bool seen[300] = { false };
        for (size_t i = 0; i < len; i++)
            truth[i] = (uint8_t)('a' + rnd(26));
        struct { uint32_t off, n; uint8_t data[300]; } segs[64];
        size_t nseg = 0;
        /* Cover the stream with pieces (so nothing is missing)... */
        for (uint32_t off = 0; off < len && nseg < 40;) {
            uint32_t n = 1 + rnd(40);
            if (off + n > len)
                n = (uint32_t)len - off;
            segs[nseg].off = off;
            segs[nseg].n = n;
            memcpy(segs[nseg].data, truth + off, n);
            nseg++;
            off += n;
        }
        if (segs[nseg - 1].off + segs[nseg - 1].n < len)
            continue; /* too many pieces for this length: skip */
        /* ...plus extra overlapping pieces, some forged. */
        size_t extra = rnd(12);
        for (size_t k = 0; k < extra && nseg < 64; k++) {
            uint32_t off = rnd((uint32_t)len), n = 1 + rnd((uint32_t)(len - off));
            segs[nseg].off = off;
            segs[nseg].n = n;
            memcpy(segs[nseg].data, truth + off, n);
            if (rnd(3) == 0)
                segs[nseg].data[rnd(n)] ^= 0x20;
            nseg++;
        }
        /* Shuffle, duplicate a few. */
        for (size_t i = nseg - 1; i > 0; i--) {
            size_t j = rnd((uint32_t)i + 1);
            __typeof__(segs[0]) t = segs[i];
            segs[i] = segs[j];
            segs[j] = t;
        }
        uint32_t isn = rnd(2) ? 0xffffffffu - rnd(400) : rnd(1u << 30);
        struct ms_tcp_half h;
        struct ms_reasm_budget b;
        struct bigsink sink;
        memset(&b, 0, sizeof(b));
        memset(&sink, 0, sizeof(sink));
        b.max_half = b.max_total = 1 << 20;
        b.window = 512;
        struct ms_stream_out o = { big_data, big_gap, NULL, &sink, 0 };
        ms_tcp_half_init(&h);
        ms_tcp_half_syn(&h, isn);
        uint64_t want_diff = 0, want_overlap = 0;
        for (size_t i = 0; i < nseg; i++) {
            bool diff = false, overlap = false;
            for (uint32_t k = 0; k < segs[i].n; k++) {
                uint32_t pos = segs[i].off + k;
                if (seen[pos]) {
                    overlap = true;
                    diff |= first[pos] != segs[i].data[k];
                } else {
                    seen[pos] = true;
                    first[pos] = segs[i].data[k];
                }
            }
            want_diff += diff;
            want_overlap += overlap;
            ms_tcp_half_segment(&h, &b, isn + 1 + segs[i].off, segs[i].data, segs[i].n, false, &o);
        }
        ms_tcp_half_flush(&h, &b, &o);
        assert_int_equal(sink.gaps, 0);
        assert_int_equal(sink.at, len);
        assert_memory_equal(sink.out, first, len);
        assert_int_equal(b.overlap_diff, want_diff);
        assert_int_equal(b.overlaps, want_overlap);
        assert_int_equal(b.used, 0);
        ms_tcp_half_free(&h, &b);
        assert_int_equal(b.window_mem, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_retransmit),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_overlap_first_wins),
        cmocka_unit_test(test_overlap_same_bytes_silent),
        cmocka_unit_test(test_in_order_over_buffered),
        cmocka_unit_test(test_retransmit_different_data),
        cmocka_unit_test(test_window_after_gap),
        cmocka_unit_test(test_window_off),
        cmocka_unit_test(test_tiny_segments_bounded),
        cmocka_unit_test(test_global_cap),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_gap_on_ack_and_flush),
        cmocka_unit_test(test_cap_forces_gap),
        cmocka_unit_test(test_sequence_wrap),
        cmocka_unit_test(test_second_syn_with_waiting_data),
        cmocka_unit_test(test_midstream_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
