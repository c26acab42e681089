/* TCP reassembly of one direction (capture/tcp_reasm.c): in order, out of
 * order, retransmission, overlap (first copy wins, differing bytes
 * reported), keepalive probes, the gate (segments held for the peer), the
 * packet each delivered chunk came in, caps (MS_ERR_LIMIT, then the caller
 * skips and pumps), wrap-around, mid-stream starts (and moving the start
 * back), O(log n) storage of many tiny segments, and a randomised test
 * against a model of "first copy wins". A hole is never given up by the
 * half itself: the tests play the caller (tcp_session.c) with skip/pump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/tcp_reasm.h"
#include "../../capture/tcp_session.h"

/* ---- a sink: bytes as text, gaps as "<gap N>", every chunk's packet --- */

#define MAX_CHUNKS 64

struct sink {
    char out[1024];
    size_t at;
    unsigned overlaps;    /* overlap callbacks */
    uint32_t overlap_seq; /* where the last one said the difference is */
    uint64_t overlap_pkt; /* the packet it named */
    unsigned nchunks;
    struct {
        size_t n;
        struct ms_seg_meta m;
    } chunk[MAX_CHUNKS];
    uint64_t gap_pkt; /* the packet the last gap was decided at */
};

static void on_data(void *user, unsigned dir, const uint8_t *p, size_t n,
                    const struct ms_seg_meta *m)
{
    struct sink *s = user;
    (void)dir;
    assert_true(n > 0);
    assert_true(s->at + n < sizeof(s->out));
    memcpy(s->out + s->at, p, n);
    s->at += n;
    s->out[s->at] = '\0';
    if (s->nchunks < MAX_CHUNKS) {
        s->chunk[s->nchunks].n = n;
        s->chunk[s->nchunks].m = *m;
    }
    s->nchunks++;
}

static void on_gap(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m)
{
    struct sink *s = user;
    (void)dir;
    s->at += (size_t)snprintf(s->out + s->at, sizeof(s->out) - s->at, "<gap %llu>",
                              (unsigned long long)missing);
    s->gap_pkt = m->pkt_no;
}

static void on_overlap(void *user, unsigned dir, uint32_t seq, const struct ms_seg_meta *m)
{
    struct sink *s = user;
    (void)dir;
    s->overlaps++;
    s->overlap_seq = seq;
    s->overlap_pkt = m->pkt_no;
}

struct fixture {
    struct ms_tcp_half h;
    struct ms_reasm_budget b;
    struct sink s;
    struct ms_stream_out o;
    uint64_t pkt; /* packet number of the next segment */
};

static void setup_nosyn(struct fixture *f, size_t max_half)
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
    f->pkt = 1;
}

static void setup(struct fixture *f, size_t max_half, uint32_t isn)
{
    setup_nosyn(f, max_half);
    ms_tcp_half_syn(&f->h, isn);
}

/* Offers one segment (no ACK, gate open) and pumps what is now in order,
 * as tcp_session.c does after every packet. */
static enum ms_rc put_n(struct fixture *f, struct ms_reasm_budget *b, uint32_t seq, const char *d,
                        size_t n)
{
    struct ms_tcp_segin in = { .seq = seq,
                               .p = (const uint8_t *)d,
                               .n = n,
                               .meta = { .ts_us = 1000 * f->pkt, .pkt_no = f->pkt } };
    struct ms_tcp_put_ctx c = { 0 };
    f->pkt++;
    enum ms_rc rc = ms_tcp_half_put(&f->h, b, &in, true, &c, &f->o);
    ms_tcp_half_pump(&f->h, b, MS_GATE_OPEN, 0, &f->o);
    return rc;
}

static enum ms_rc seg(struct fixture *f, uint32_t seq, const char *d)
{
    return put_n(f, &f->b, seq, d, strlen(d));
}

/* The end of a connection, as ms_tcp_session_flush does it for one half:
 * every hole becomes a gap, everything waiting is delivered. */
static void flush(struct fixture *f, struct ms_reasm_budget *b)
{
    struct ms_seg_meta m = { .ts_us = 1000 * f->pkt, .pkt_no = f->pkt };
    struct ms_tcp_wait w;
    for (;;) {
        ms_tcp_half_pump(&f->h, b, MS_GATE_OPEN, 0, &f->o);
        if (!ms_tcp_half_first(&f->h, &w))
            break;
        assert_true(w.at_hole); /* ungated pump leaves only holes */
        ms_tcp_half_skip(&f->h, b, w.seq, &m, &f->o);
    }
    uint32_t upto;
    if (ms_tcp_half_end_hole(&f->h, &upto))
        ms_tcp_half_skip(&f->h, b, upto, &m, &f->o);
}

/* ---- in order, out of order, overlaps ---------------------------------- */

static void test_in_order_and_retransmit(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 99);
    seg(&f, 100, "USER ");
    seg(&f, 105, "alice\r\n");
    seg(&f, 100, "USER ");          /* retransmission: dropped */
    seg(&f, 102, "ER alice\r\nPA"); /* partial overlap: only "PA" is new */
    assert_string_equal(f.s.out, "USER alice\r\nPA");
    assert_int_equal(f.s.overlaps, 0);
    assert_int_equal(f.b.overlaps, 2);
    assert_int_equal(f.h.delivered, 14);
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
    assert_int_equal(f.h.nsegs, 2);
    assert_int_equal(f.b.used, ms_tcp_seg_cost(3) * 2);
    seg(&f, 1, "abc");
    assert_string_equal(f.s.out, "abcdefghi");
    assert_int_equal(f.b.used, 0);
    assert_int_equal(f.h.nsegs, 0);
    assert_int_equal(f.h.seg_bytes, 0);
    ms_tcp_half_free(&f.h, &f.b);
}

/* Overlap with different bytes: the first copy (already buffered) wins. */
static void test_overlap_first_wins(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 4, "DEF");
    seg(&f, 3, "cXYZg"); /* "XYZ" conflicts with "DEF": kept as DEF */
    assert_int_equal(f.s.overlaps, 1);
    assert_int_equal(f.s.overlap_seq, 4);
    assert_int_equal(f.s.overlap_pkt, 2);
    seg(&f, 1, "ab");
    assert_string_equal(f.s.out, "abcDEFg");
    assert_int_equal(f.b.overlap_diff, 1);
    assert_int_equal(f.b.used, 0);
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
    seg(&f, 2, "bcD"); /* retransmission of delivered bytes */
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
    seg(&f, 1, "abcdXYgh"); /* XY at 5..6 conflicts with the buffered EF */
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
    seg(&f, 14, "zzzz"); /* 199 bytes back: outside the window */
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
    flush(&f, &f.b);
    assert_string_equal(f.s.out, "abc<gap 6>jk");
    seg(&f, 9, "XJ"); /* 9 was never seen: only J/j compared */
    assert_int_equal(f.s.overlaps, 1);
    assert_int_equal(f.s.overlap_seq, 10);
    seg(&f, 9, "Yj"); /* same as delivered where known */
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
    assert_int_equal(ms_tcp_half_mem(&f.h, &f.b), 0);
    ms_tcp_half_free(&f.h, &f.b);
}

/* A keepalive probe (one byte, usually garbage, just below the highest
 * sequence seen) is neither data nor an overlap; other 1-byte
 * retransmissions still are compared. */
static void test_keepalive_not_overlap(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 1, "abcdef");
    put_n(&f, &f.b, 6, "X", 1); /* seq 6 + 1 == 7, the highest end seen */
    assert_string_equal(f.s.out, "abcdef");
    assert_int_equal(f.s.overlaps, 0);
    assert_int_equal(f.b.overlaps, 0);
    assert_int_equal(f.b.keepalives, 1);
    /* Also while a hole waits: the probe is below the highest end seen. */
    seg(&f, 10, "jk");
    put_n(&f, &f.b, 11, "Z", 1);
    assert_int_equal(f.b.keepalives, 2);
    assert_int_equal(f.s.overlaps, 0);
    assert_int_equal(f.h.nsegs, 1);
    /* A 1-byte retransmission elsewhere is an overlap, and compared. */
    put_n(&f, &f.b, 3, "Q", 1);
    assert_int_equal(f.s.overlaps, 1);
    assert_int_equal(f.s.overlap_seq, 3);
    seg(&f, 7, "ghi");
    assert_string_equal(f.s.out, "abcdefghijk");
    assert_int_equal(f.b.used, 0);
    /* A SPAN port's copy of the last probe, recorded after newer data: still
     * a probe, not a retransmission that differs. */
    seg(&f, 12, "lm");
    put_n(&f, &f.b, 11, "Z", 1);
    assert_int_equal(f.b.keepalives, 3);
    assert_int_equal(f.s.overlaps, 1);
    assert_string_equal(f.s.out, "abcdefghijklm");
    ms_tcp_half_free(&f.h, &f.b);
}

/* ---- the gate ---------------------------------------------------------- */

static enum ms_rc put_gated(struct fixture *f, uint32_t seq, const char *d, bool gate_open,
                            uint32_t ack)
{
    struct ms_tcp_segin in = { .seq = seq,
                               .p = (const uint8_t *)d,
                               .n = strlen(d),
                               .has_ack = true,
                               .ack = ack,
                               .meta = { .ts_us = 1000 * f->pkt, .pkt_no = f->pkt } };
    struct ms_tcp_put_ctx c = { 0 };
    f->pkt++;
    return ms_tcp_half_put(&f->h, &f->b, &in, gate_open, &c, &f->o);
}

/* A segment held for the peer waits, in order or not, until a pump whose
 * gate reaches its ACK; the ACK comparison is modulo 2^32. */
static void test_gate(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    assert_int_equal(put_gated(&f, 1, "+OK ", false, 500), MS_OK);
    assert_int_equal(f.b.held, 1);
    assert_string_equal(f.s.out, "");
    struct ms_tcp_wait w;
    assert_true(ms_tcp_half_first(&f.h, &w));
    assert_false(w.at_hole);
    assert_true(w.has_ack);
    assert_int_equal(w.ack, 500);
    assert_int_equal(w.seq, 1);
    assert_int_equal(w.pkt_no, 1);
    /* The next one is in order behind it, its gate open: it still waits
     * behind the held one, but no longer for the peer. */
    assert_int_equal(put_gated(&f, 5, "done", true, 500), MS_OK);
    assert_string_equal(f.s.out, "");
    assert_false(ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 499, &f.o));
    assert_string_equal(f.s.out, "");
    assert_true(ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 500, &f.o));
    assert_string_equal(f.s.out, "+OK done");
    assert_false(ms_tcp_half_first(&f.h, &w));
    /* Past the gate (and past 2^32): ack 5 is ahead of gate 0xfffffff0. */
    assert_int_equal(put_gated(&f, 9, "x", false, 5), MS_OK);
    assert_false(ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 0xfffffff0u, &f.o));
    assert_true(ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 6, &f.o));
    assert_string_equal(f.s.out, "+OK donex");
    /* Ungated by the caller (its wait is over): goes with any gate. */
    assert_int_equal(put_gated(&f, 10, "yz", false, 900), MS_OK);
    assert_false(ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 0, &f.o));
    ms_tcp_half_ungate_first(&f.h);
    assert_true(ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 0, &f.o));
    assert_string_equal(f.s.out, "+OK donexyz");
    /* A shut gate (the peer's start unknown) holds every segment that
     * carries an ACK, and only those. */
    assert_int_equal(put_gated(&f, 12, "?", false, 1), MS_OK);
    assert_false(ms_tcp_half_pump(&f.h, &f.b, MS_GATE_SHUT, 0xffffff, &f.o));
    assert_string_equal(f.s.out, "+OK donexyz");
    ms_tcp_half_ungate_first(&f.h);
    assert_true(ms_tcp_half_pump(&f.h, &f.b, MS_GATE_SHUT, 0, &f.o));
    assert_string_equal(f.s.out, "+OK donexyz?");
    /* An open gate (the peer never seen) ignores ACKs. */
    assert_int_equal(put_gated(&f, 13, "!", false, 7000), MS_OK);
    assert_true(ms_tcp_half_pump(&f.h, &f.b, MS_GATE_OPEN, 0, &f.o));
    assert_string_equal(f.s.out, "+OK donexyz?!");
    assert_int_equal(f.b.used, 0);
    ms_tcp_half_free(&f.h, &f.b);
}

/* A segment stored behind a hole with its gate open keeps it open: once
 * the hole is filled it goes whatever the gate says. */
static void test_gate_open_stays_open(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    put_gated(&f, 4, "def", true, 100);
    put_gated(&f, 1, "abc", true, 100);
    ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 0, &f.o);
    assert_string_equal(f.s.out, "abcdef");
    ms_tcp_half_free(&f.h, &f.b);
}

/* ---- meta: the packet of every chunk ----------------------------------- */

static void assert_chunk(const struct sink *s, unsigned i, size_t n, uint64_t pkt)
{
    assert_true(i < s->nchunks);
    assert_int_equal(s->chunk[i].n, n);
    assert_int_equal(s->chunk[i].m.pkt_no, pkt);
    assert_int_equal(s->chunk[i].m.ts_us, 1000 * pkt);
}

static void test_meta_of_chunks(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0);
    seg(&f, 1, "ab");   /* pkt 1: straight through */
    seg(&f, 7, "gh");   /* pkt 2: waits */
    seg(&f, 5, "eXYZ"); /* pkt 3: "eX" stored before pkt 2's "gh"; YZ vs gh */
    seg(&f, 2, "bcd");  /* pkt 4: "cd" is new, fills the hole */
    assert_string_equal(f.s.out, "abcdeXgh");
    assert_int_equal(f.s.overlaps, 1);
    assert_int_equal(f.s.overlap_pkt, 3);
    assert_int_equal(f.s.nchunks, 4);
    assert_chunk(&f.s, 0, 2, 1);
    assert_chunk(&f.s, 1, 2, 4);
    assert_chunk(&f.s, 2, 2, 3);
    assert_chunk(&f.s, 3, 2, 2);
    /* A gap carries the packet at which it was decided. */
    seg(&f, 20, "t"); /* pkt 5 */
    flush(&f, &f.b);  /* decided at pkt 6 */
    assert_string_equal(f.s.out, "abcdeXgh<gap 11>t");
    assert_int_equal(f.s.gap_pkt, 6);
    assert_chunk(&f.s, 4, 1, 5);
    ms_tcp_half_free(&f.h, &f.b);
}

/* ---- caps -------------------------------------------------------------- */

/* A flood of 1-byte segments is bounded by their cost, not their bytes. */
static void test_tiny_segments_bounded(void **state)
{
    (void)state;
    struct fixture f;
    const size_t cap = 10 * ms_tcp_seg_cost(1);
    setup(&f, cap, 0);
    unsigned limited = 0;
    for (uint32_t i = 0; i < 100; i++) {
        if (seg(&f, 100 + 2 * i, "x") == MS_ERR_LIMIT)
            limited++;
        assert_true(f.h.seg_bytes <= cap);
    }
    assert_int_equal(f.h.nsegs, 10);
    assert_int_equal(limited, 90);
    assert_int_equal(f.h.seg_bytes, cap);
    assert_true(f.b.used_peak <= cap);
    assert_int_equal(ms_tcp_half_mem(&f.h, &f.b), cap);
    ms_tcp_half_free(&f.h, &f.b);
    assert_int_equal(f.b.used, 0);
    assert_int_equal(f.h.nsegs, 0);
}

/* The caller's answer to MS_ERR_LIMIT (tcp_session.c put): give up the
 * first hole (or, with nothing waiting, the segment's own), pump, retry
 * with the same put ctx. Returns the number of MS_ERR_LIMIT answers. */
static unsigned put_forced(struct fixture *f, struct ms_reasm_budget *b, uint32_t seq,
                           const char *d)
{
    struct ms_tcp_segin in = { .seq = seq,
                               .p = (const uint8_t *)d,
                               .n = strlen(d),
                               .meta = { .ts_us = 1000 * f->pkt, .pkt_no = f->pkt } };
    struct ms_tcp_put_ctx c = { 0 };
    unsigned limited = 0;
    f->pkt++;
    while (ms_tcp_half_put(&f->h, b, &in, true, &c, &f->o) != MS_OK) {
        limited++;
        assert_true(limited < 100);
        struct ms_tcp_wait w;
        if (ms_tcp_half_first(&f->h, &w))
            ms_tcp_half_skip(&f->h, b, w.seq, &in.meta, &f->o);
        else
            ms_tcp_half_skip(&f->h, b, seq, &in.meta, &f->o);
        ms_tcp_half_pump(&f->h, b, MS_GATE_OPEN, 0, &f->o);
    }
    ms_tcp_half_pump(&f->h, b, MS_GATE_OPEN, 0, &f->o);
    return limited;
}

/* Global cap shared by two halves. */
static void test_global_cap(void **state)
{
    (void)state;
    struct fixture a, c;
    setup(&a, 1024, 0);
    setup(&c, 1024, 0);
    struct ms_reasm_budget b = a.b;
    b.max_total = ms_tcp_seg_cost(4) * 2 + 1;
    assert_int_equal(put_forced(&a, &b, 10, "abcd"), 0);
    assert_int_equal(put_forced(&c, &b, 10, "efgh"), 0);
    assert_int_equal(b.used, 2 * ms_tcp_seg_cost(4));
    /* Two more bytes anywhere do not fit: that half gives up its hole. */
    assert_int_equal(put_forced(&c, &b, 20, "ij"), 1);
    assert_string_equal(c.s.out, "<gap 9>efgh");
    assert_int_equal(b.used, ms_tcp_seg_cost(4) + ms_tcp_seg_cost(2));
    flush(&c, &b);
    assert_string_equal(c.s.out, "<gap 9>efgh<gap 6>ij");
    assert_string_equal(a.s.out, "");
    ms_tcp_half_free(&a.h, &b);
    ms_tcp_half_free(&c.h, &b);
    assert_int_equal(b.used, 0);
    assert_int_equal(b.gaps, 2);
    assert_int_equal(b.gap_bytes, 15);
}

/* A one-byte segment refused by a cap and offered again once the caller
 * made room (the same segment, the same put ctx) is data, not a keepalive
 * probe: its first try must not count as "seen" for the probe test. */
static void test_cap_retry_one_byte(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, ms_tcp_seg_cost(1), 0);
    assert_int_equal(put_forced(&f, &f.b, 5, "a"), 0); /* waits: hole 1..4 */
    assert_int_equal(put_forced(&f, &f.b, 7, "b"), 1); /* no room: hole 1..4 given up */
    assert_string_equal(f.s.out, "<gap 4>a");
    assert_int_equal(f.b.keepalives, 0);
    assert_int_equal(f.h.nsegs, 1); /* "b" waits for 6 */
    seg(&f, 6, "X");
    assert_string_equal(f.s.out, "<gap 4>aXb");
    ms_tcp_half_free(&f.h, &f.b);
}

/* Per-half cap at max-1, max, max+1 buffered bytes (a segment costs its
 * bytes plus a fixed overhead): past it the segment is refused whole, and
 * with nothing else waiting its own hole is given up. */
static void test_cap_forces_progress(void **state)
{
    (void)state;
    for (size_t extra = 0; extra < 3; extra++) {
        struct fixture f;
        setup(&f, ms_tcp_seg_cost(8), 0);
        char buf[16];
        memset(buf, 'x', sizeof(buf));
        buf[7 + extra] = '\0';
        unsigned limited = put_forced(&f, &f.b, 5, buf); /* 7, 8 or 9 bytes behind a hole */
        if (extra < 2) {
            assert_int_equal(limited, 0);
            assert_string_equal(f.s.out, "");
            assert_int_equal(f.h.seg_bytes, ms_tcp_seg_cost(7 + extra));
        } else {
            assert_int_equal(limited, 1);
            assert_string_equal(f.s.out, "<gap 4>xxxxxxxxx");
            assert_int_equal(f.b.used, 0);
        }
        ms_tcp_half_free(&f.h, &f.b);
        assert_int_equal(f.b.used, 0);
        assert_int_equal(f.b.window_mem, 0);
    }
}

/* A cap hit half-way through a segment: the part stored stays, the caller
 * makes room, the retry stores the rest; the overlap in it is counted and
 * reported once (struct ms_tcp_put_ctx). */
static void test_cap_partial_retry(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, ms_tcp_seg_cost(1) * 2 + 2, 0);
    seg(&f, 3, "B"); /* waits: hole at 1..2 */
    unsigned limited = put_forced(&f, &f.b, 2, "bcdef");
    /* "b" stored (cost(1)), "c" compared with "B", "def" does not fit. */
    assert_int_equal(limited, 1);
    assert_string_equal(f.s.out, "<gap 1>bBdef");
    assert_int_equal(f.s.overlaps, 1);
    assert_int_equal(f.s.overlap_seq, 3);
    assert_int_equal(f.b.overlaps, 1);
    assert_int_equal(f.b.overlap_diff, 1);
    assert_int_equal(f.b.used, 0);
    ms_tcp_half_free(&f.h, &f.b);
}

/* ---- sequence space ---------------------------------------------------- */

static void test_sequence_wrap(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, 1024, 0xfffffffdu);
    seg(&f, 0x00000001u, "cd");  /* after the wrap, before its predecessor */
    seg(&f, 0xfffffffeu, "ab!"); /* 0xfffffffe..0x00000000 */
    assert_string_equal(f.s.out, "ab!cd");
    seg(&f, 0xffffffffu, "b!c"); /* retransmission across the wrap */
    assert_string_equal(f.s.out, "ab!cd");
    assert_int_equal(f.s.overlaps, 0);
    assert_int_equal(ms_tcp_half_ack_point(&f.h), 3);
    ms_tcp_half_fin(&f.h, 3);
    assert_int_equal(ms_tcp_half_ack_point(&f.h), 4);
    ms_tcp_half_free(&f.h, &f.b);
}

/* A second SYN with another ISN while data waits out of order must not
 * move next_seq onto or past that data (it once made flush spin forever,
 * and a backwards move reported a 4 GB gap). */
static void test_second_syn_with_waiting_data(void **state)
{
    (void)state;
    const uint32_t isn2[] = { 1100, 1200, 900 }; /* onto, past, and before */
    for (size_t i = 0; i < 3; i++) {
        struct fixture f;
        setup(&f, 1024, 1000);
        seg(&f, 1101, "later"); /* a hole at 1001..1100 */
        ms_tcp_half_syn(&f.h, isn2[i]);
        assert_int_equal(f.h.next_seq, 1001);
        flush(&f, &f.b);
        assert_string_equal(f.s.out, "<gap 100>later");
        assert_int_equal(f.b.gap_bytes, 100);
        assert_int_equal(f.h.nsegs, 0);
        ms_tcp_half_free(&f.h, &f.b);
    }
}

/* FIN with bytes missing before it: the end is a hole too, flush declares
 * it lost; nothing past the FIN is taken. */
static void test_fin_end(void **state)
{
    (void)state;
    struct fixture f;
    uint32_t upto = 0;
    setup(&f, 1024, 0);
    seg(&f, 1, "abc");
    assert_false(ms_tcp_half_end_hole(&f.h, &upto));
    ms_tcp_half_fin(&f.h, 10);
    assert_true(ms_tcp_half_end_hole(&f.h, &upto));
    assert_int_equal(upto, 10);
    ms_tcp_half_fin(&f.h, 20); /* the first FIN counts */
    assert_int_equal(f.h.fin_seq, 10);
    seg(&f, 7, "ghiJKL"); /* JKL lies past the FIN */
    assert_int_equal(f.h.seg_bytes, ms_tcp_seg_cost(3));
    flush(&f, &f.b);
    assert_string_equal(f.s.out, "abc<gap 3>ghi");
    assert_false(ms_tcp_half_end_hole(&f.h, &upto));
    assert_int_equal(ms_tcp_half_ack_point(&f.h), 11);
    seg(&f, 10, "Z"); /* past the FIN: nothing */
    assert_string_equal(f.s.out, "abc<gap 3>ghi");
    ms_tcp_half_free(&f.h, &f.b);

    /* The peer's RST acknowledged up to 8 (the ack of a FIN is one past
     * the data): bytes up to 7 are still expected, none past it. */
    setup(&f, 1024, 0);
    seg(&f, 1, "ab");
    ms_tcp_half_reset_at(&f.h, 8);
    assert_true(ms_tcp_half_end_hole(&f.h, &upto));
    assert_int_equal(upto, 7);
    seg(&f, 5, "efghij");
    flush(&f, &f.b);
    assert_string_equal(f.s.out, "ab<gap 2>efg");
    ms_tcp_half_free(&f.h, &f.b);
}

/* ---- mid-stream starts --------------------------------------------------- */

static void test_midstream_start(void **state)
{
    (void)state;
    struct fixture f;
    setup_nosyn(&f, 1024);
    seg(&f, 5000, "PASS x\r\n");
    assert_string_equal(f.s.out, "PASS x\r\n");
    /* Something delivered: an earlier segment is old, not a new start. */
    seg(&f, 4990, "0123456789");
    assert_string_equal(f.s.out, "PASS x\r\n");
    ms_tcp_half_free(&f.h, &f.b);

    /* A pure ACK (or a held segment) started the half past the first
     * bytes: the start moves back to the lowest segment seen while
     * nothing is delivered. */
    setup_nosyn(&f, 1024);
    put_n(&f, &f.b, 5010, "", 0); /* pure ACK: starts at 5010 */
    assert_true(f.h.started);
    seg(&f, 5000, "USER alice");
    assert_string_equal(f.s.out, "USER alice");
    assert_int_equal(f.h.next_seq, 5010);
    ms_tcp_half_free(&f.h, &f.b);

    /* The first data segment seen is held; an earlier one arrives, then a
     * still earlier one: the start moves back each time. */
    setup_nosyn(&f, 1024);
    put_gated(&f, 7005, "alice\r\n", false, 42);
    assert_int_equal(f.h.next_seq, 7005);
    put_gated(&f, 7003, "R ", false, 42);
    put_gated(&f, 7000, "USE", false, 42);
    assert_int_equal(f.h.next_seq, 7000);
    assert_string_equal(f.s.out, "");
    ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 41, &f.o);
    assert_string_equal(f.s.out, "");
    ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 42, &f.o);
    assert_string_equal(f.s.out, "USER alice\r\n");
    assert_int_equal(f.b.gaps, 0);
    ms_tcp_half_free(&f.h, &f.b);

    /* A hole given up (nothing delivered yet): no rewinding past it. */
    setup_nosyn(&f, 1024);
    put_n(&f, &f.b, 3000, "", 0);
    put_gated(&f, 3010, "x", false, 42);
    struct ms_seg_meta m = { 0, 9, NULL };
    ms_tcp_half_skip(&f.h, &f.b, 3010, &m, &f.o);
    assert_int_equal(f.h.delivered, 0);
    put_gated(&f, 2990, "0123456789", true, 0);
    assert_int_equal(f.h.next_seq, 3010);
    ms_tcp_half_pump(&f.h, &f.b, MS_GATE_ACK, 42, &f.o);
    assert_string_equal(f.s.out, "<gap 10>x");
    ms_tcp_half_free(&f.h, &f.b);

    /* With a SYN there is no rewinding; nor past a given-up hole; nor
     * further back than the rewind limit. */
    setup(&f, 1024, 99);
    seg(&f, 90, "old");
    assert_int_equal(f.h.next_seq, 100);
    assert_string_equal(f.s.out, "");
    ms_tcp_half_free(&f.h, &f.b);

    setup_nosyn(&f, 1024);
    put_n(&f, &f.b, 3000, "", 0);
    put_n(&f, &f.b, 3000 - 300 * 1024, "far", 3); /* beyond the limit: old */
    assert_int_equal(f.h.next_seq, 3000);
    assert_string_equal(f.s.out, "");
    ms_tcp_half_free(&f.h, &f.b);
}

/* ---- the peer's ACK past a hole ---------------------------------------- */

struct ssink {
    char out[2][256];
    size_t at[2];
    unsigned gaps;
    size_t peer_at_first[2]; /* the peer's bytes delivered when dir's first byte went */
};

static void s_data(void *user, unsigned dir, const uint8_t *p, size_t n,
                   const struct ms_seg_meta *m)
{
    struct ssink *s = user;
    (void)m;
    assert_true(s->at[dir] + n < sizeof(s->out[dir]));
    if (s->at[dir] == 0)
        s->peer_at_first[dir] = s->at[dir ^ 1u];
    memcpy(s->out[dir] + s->at[dir], p, n);
    s->at[dir] += n;
    s->out[dir][s->at[dir]] = '\0';
}

static void s_gap(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m)
{
    struct ssink *s = user;
    (void)dir;
    (void)missing;
    (void)m;
    s->gaps++;
}

static const struct ms_stream_ops s_ops = { s_data, s_gap, NULL };

static enum ms_tcp_state spkt(struct ms_tcp_ctx *c, struct ms_tcp_session *s, unsigned dir,
                              uint32_t seq, uint32_t ack, uint8_t flags, const char *d,
                              uint64_t *pkt)
{
    struct ms_pkt p;
    memset(&p, 0, sizeof(p));
    p.seq = seq;
    p.ack = ack;
    p.tcp_flags = flags;
    p.payload = (const uint8_t *)d;
    p.payload_len = d ? strlen(d) : 0;
    ++*pkt;
    p.ts_us = 1000 * *pkt;
    struct ms_seg_meta m = { p.ts_us, *pkt, NULL };
    return ms_tcp_session_packet(c, s, dir, &p, &m);
}

/* The old engine took an ACK past a hole as proof that the bytes were lost.
 * A tap reorders: the hole's segment may come after the peer's ACK of it,
 * and must then be delivered in order, without a gap, and the peer's reply
 * (held for it) after it. */
static void test_late_segment_after_peer_ack(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_tcp_ctx ctx;
    struct ms_tcp_session s;
    struct ssink k;
    uint64_t pkt = 0;
    memset(&k, 0, sizeof(k));
    ms_tcp_ctx_init(&ctx, &lim, &s_ops);
    ms_tcp_session_init(&s, &k);
    const uint8_t SYN = MS_TH_SYN, ACK = MS_TH_ACK;
    spkt(&ctx, &s, 0, 1000, 0, SYN, NULL, &pkt);
    spkt(&ctx, &s, 1, 5000, 1001, SYN | ACK, NULL, &pkt);
    spkt(&ctx, &s, 0, 1001, 5001, ACK, NULL, &pkt);
    spkt(&ctx, &s, 0, 1001, 5001, ACK, "abc", &pkt);
    spkt(&ctx, &s, 0, 1010, 5001, ACK, "jk", &pkt);      /* 1004..1009 missing */
    spkt(&ctx, &s, 1, 5001, 1012, ACK, NULL, &pkt);      /* the server has them all */
    spkt(&ctx, &s, 1, 5001, 1012, ACK, "+OK\r\n", &pkt); /* its reply: held */
    assert_string_equal(k.out[0], "abc");
    assert_string_equal(k.out[1], "");
    assert_int_equal(k.gaps, 0);
    assert_int_equal(ctx.budget.gaps, 0);
    spkt(&ctx, &s, 0, 1004, 5001, ACK, "defghi", &pkt); /* the late segment */
    assert_string_equal(k.out[0], "abcdefghijk");
    assert_string_equal(k.out[1], "+OK\r\n");
    assert_int_equal(k.peer_at_first[1], 11);
    assert_int_equal(k.gaps, 0);
    assert_int_equal(ctx.budget.gaps, 0);
    assert_int_equal(ctx.budget.used, 0);
    assert_true(TAILQ_EMPTY(&ctx.waitq));
    ms_tcp_session_free(&ctx, &s);
}

/* ---- many tiny segments ------------------------------------------------ */

static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    uint32_t hi = rnd_state >> 16;
    rnd_state = rnd_state * 1103515245u + 12345u;
    return ((hi << 16) | (rnd_state >> 16)) % n;
}

struct tiny_sink {
    uint8_t *out;
    size_t at, cap;
    const uint64_t *pkt_of; /* the packet that carried each byte */
    unsigned chunks, gaps;
};

static void tiny_data(void *user, unsigned dir, const uint8_t *p, size_t n,
                      const struct ms_seg_meta *m)
{
    struct tiny_sink *s = user;
    (void)dir;
    assert_true(s->at + n <= s->cap);
    for (size_t i = 0; i < n; i++) {
        if (s->pkt_of[s->at + i] != m->pkt_no)
            fail_msg("byte %zu: packet %llu, expected %llu", s->at + i,
                     (unsigned long long)m->pkt_no, (unsigned long long)s->pkt_of[s->at + i]);
    }
    memcpy(s->out + s->at, p, n);
    s->at += n;
    s->chunks++;
}

static void tiny_gap(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m)
{
    struct tiny_sink *s = user;
    (void)dir;
    (void)missing;
    (void)m;
    s->gaps++;
}

/* 100,000 one-byte segments behind a hole, inserted in random order (the
 * tree is keyed by stream offset; across the 2^32 wrap), then the hole
 * filled: everything comes out in order, each byte with its packet. A
 * correctness test with caps large enough, not a timing test (a list
 * insertion would make it quadratic: 5e9 steps). */
static void test_many_tiny_segments_random_order(void **state)
{
    (void)state;
    enum { N = 100000, HOLE = 10 };
    const uint32_t isn = 0xffff0000u; /* the stream wraps past 2^32 */
    uint8_t *truth = malloc(HOLE + N);
    uint64_t *pkt_of = malloc((HOLE + N) * sizeof(*pkt_of));
    uint32_t *order = malloc(N * sizeof(*order));
    struct tiny_sink sink = { malloc(HOLE + N), 0, HOLE + N, pkt_of, 0, 0 };
    assert_non_null(truth);
    assert_non_null(pkt_of);
    assert_non_null(order);
    assert_non_null(sink.out);
    for (size_t i = 0; i < HOLE + N; i++)
        truth[i] = (uint8_t)('A' + rnd(58));
    for (uint32_t i = 0; i < N; i++)
        order[i] = i;
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = rnd(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    struct ms_tcp_half h;
    struct ms_reasm_budget b;
    memset(&b, 0, sizeof(b));
    b.max_half = b.max_total = 64u << 20;
    b.window = 2048;
    struct ms_stream_out o = { tiny_data, tiny_gap, NULL, &sink, 1 };
    ms_tcp_half_init(&h);
    ms_tcp_half_syn(&h, isn);
    for (uint32_t k = 0; k < N; k++) {
        uint32_t pos = HOLE + order[k];
        struct ms_tcp_segin in = {
            .seq = isn + 1 + pos, .p = truth + pos, .n = 1, .meta = { 10ull * (k + 1), k + 1, NULL }
        };
        struct ms_tcp_put_ctx c = { 0 };
        pkt_of[pos] = k + 1;
        assert_int_equal(ms_tcp_half_put(&h, &b, &in, true, &c, &o), MS_OK);
    }
    assert_int_equal(sink.at, 0);
    assert_int_equal(h.nsegs, N);
    assert_int_equal(b.used, (size_t)N * ms_tcp_seg_cost(1));
    assert_int_equal(b.keepalives, 0);
    struct ms_tcp_segin in = {
        .seq = isn + 1, .p = truth, .n = HOLE, .meta = { 10ull * (N + 1), N + 1, NULL }
    };
    struct ms_tcp_put_ctx c = { 0 };
    for (size_t i = 0; i < HOLE; i++)
        pkt_of[i] = N + 1;
    assert_int_equal(ms_tcp_half_put(&h, &b, &in, true, &c, &o), MS_OK);
    assert_true(ms_tcp_half_pump(&h, &b, MS_GATE_OPEN, 0, &o));
    assert_int_equal(sink.at, HOLE + N);
    assert_memory_equal(sink.out, truth, HOLE + N);
    assert_int_equal(sink.chunks, 1 + N);
    assert_int_equal(sink.gaps, 0);
    assert_int_equal(h.nsegs, 0);
    assert_int_equal(b.used, 0);
    assert_int_equal(b.overlaps, 0);
    assert_int_equal(h.next_seq, isn + 1 + HOLE + N);
    ms_tcp_half_free(&h, &b);
    free(truth);
    free(pkt_of);
    free(order);
    free(sink.out);
}

/* ---- randomised against a model ---------------------------------------- */

/* Random segments of a random stream (some with forged bytes), arriving in
 * random order with duplicates, from a random ISN (so some wrap). With
 * buffers and window large enough, the output must be the first-arrived
 * byte of every position, each delivered with the packet of that first
 * copy; overlap_diff must count exactly the segments that carried a byte
 * different from the first copy of that byte, overlaps those that carried
 * any byte seen before, except keepalive probes (one byte ending at the
 * highest end seen so far), which are counted as such and nothing else. */
struct bigsink {
    uint8_t out[512];
    size_t at;
    unsigned gaps;
    const uint64_t *first_pkt;
};

static void big_data(void *user, unsigned dir, const uint8_t *p, size_t n,
                     const struct ms_seg_meta *m)
{
    struct bigsink *s = user;
    (void)dir;
    assert_true(s->at + n <= sizeof(s->out));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(s->first_pkt[s->at + i], m->pkt_no);
    memcpy(s->out + s->at, p, n);
    s->at += n;
}

static void big_gap(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m)
{
    struct bigsink *s = user;
    (void)dir;
    (void)missing;
    (void)m;
    s->gaps++;
}

struct rseg {
    uint32_t off, n;
    uint8_t data[300];
};

static void test_random_against_model(void **state)
{
    (void)state;
    static struct rseg segs[64];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 1 + rnd(300);
        uint8_t truth[300], first[300];
        uint64_t first_pkt[300];
        bool seen[300] = { false };
        for (size_t i = 0; i < len; i++)
            truth[i] = (uint8_t)('a' + rnd(26));
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
        /* ...plus extra overlapping pieces, some forged, some 1-byte. */
        size_t extra = rnd(12);
        for (size_t k = 0; k < extra && nseg < 64; k++) {
            uint32_t off = rnd((uint32_t)len);
            uint32_t n = rnd(4) == 0 ? 1 : 1 + rnd((uint32_t)(len - off));
            segs[nseg].off = off;
            segs[nseg].n = n;
            memcpy(segs[nseg].data, truth + off, n);
            if (rnd(3) == 0)
                segs[nseg].data[rnd(n)] ^= 0x20;
            nseg++;
        }
        /* Shuffle. */
        for (size_t i = nseg - 1; i > 0; i--) {
            size_t j = rnd((uint32_t)i + 1);
            struct rseg t = segs[i];
            segs[i] = segs[j];
            segs[j] = t;
        }
        uint32_t isn = rnd(2) ? 0xffffffffu - rnd(400) : rnd(1u << 30);
        struct ms_tcp_half h;
        struct ms_reasm_budget b;
        struct bigsink sink;
        memset(&b, 0, sizeof(b));
        memset(&sink, 0, sizeof(sink));
        sink.first_pkt = first_pkt;
        b.max_half = b.max_total = 1 << 20;
        b.window = 512;
        struct ms_stream_out od = { big_data, big_gap, NULL, &sink, 0 };
        ms_tcp_half_init(&h);
        ms_tcp_half_syn(&h, isn);
        uint64_t want_diff = 0, want_overlap = 0, want_keepalive = 0;
        bool seen_any = false, ka_seen = false;
        uint32_t max_end = 0, ka_pos = 0, delivered = 0;
        for (size_t i = 0; i < nseg; i++) {
            bool diff = false, overlap = false;
            uint32_t end = segs[i].off + segs[i].n;
            /* A probe: just below the highest end seen, or (a copy of it)
             * where the last probe sat, once delivered. */
            if (segs[i].n == 1 && ((seen_any && end == max_end) ||
                                   (ka_seen && segs[i].off == ka_pos && ka_pos < delivered))) {
                want_keepalive++;
                ka_seen = true;
                ka_pos = segs[i].off;
            } else {
                if (!seen_any || end > max_end)
                    max_end = end;
                seen_any = true;
                for (uint32_t k = 0; k < segs[i].n; k++) {
                    uint32_t pos = segs[i].off + k;
                    if (seen[pos]) {
                        overlap = true;
                        diff |= first[pos] != segs[i].data[k];
                    } else {
                        seen[pos] = true;
                        first[pos] = segs[i].data[k];
                        first_pkt[pos] = i + 1;
                    }
                }
            }
            while (delivered < len && seen[delivered])
                delivered++;
            want_diff += diff;
            want_overlap += overlap;
            struct ms_tcp_segin in = { .seq = isn + 1 + segs[i].off,
                                       .p = segs[i].data,
                                       .n = segs[i].n,
                                       .meta = { 0, i + 1, NULL } };
            struct ms_tcp_put_ctx c = { 0 };
            assert_int_equal(ms_tcp_half_put(&h, &b, &in, true, &c, &od), MS_OK);
            ms_tcp_half_pump(&h, &b, MS_GATE_OPEN, 0, &od);
        }
        struct ms_tcp_wait w;
        assert_false(ms_tcp_half_first(&h, &w));
        assert_int_equal(sink.gaps, 0);
        assert_int_equal(sink.at, len);
        assert_memory_equal(sink.out, first, len);
        assert_int_equal(b.overlap_diff, want_diff);
        assert_int_equal(b.overlaps, want_overlap);
        assert_int_equal(b.keepalives, want_keepalive);
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
        cmocka_unit_test(test_keepalive_not_overlap),
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_gate_open_stays_open),
        cmocka_unit_test(test_meta_of_chunks),
        cmocka_unit_test(test_tiny_segments_bounded),
        cmocka_unit_test(test_global_cap),
        cmocka_unit_test(test_cap_retry_one_byte),
        cmocka_unit_test(test_cap_forces_progress),
        cmocka_unit_test(test_cap_partial_retry),
        cmocka_unit_test(test_sequence_wrap),
        cmocka_unit_test(test_second_syn_with_waiting_data),
        cmocka_unit_test(test_fin_end),
        cmocka_unit_test(test_midstream_start),
        cmocka_unit_test(test_late_segment_after_peer_ack),
        cmocka_unit_test(test_many_tiny_segments_random_order),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
