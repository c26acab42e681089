/* IP fragment reassembly: in order, reversed, every order of four, first-wins
 * overlaps (with and without different data), timeouts on the capture
 * clock, every cap at max-1/max/max+1 (datagrams, bytes, fragments per
 * datagram, 65535-byte datagrams), invalid fragments, IP ID reuse, IPv6
 * with an unfragmentable header, and a decode round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/decode.h"
#include "../../capture/defrag.h"

struct out {
    enum ms_defrag_status st;
    const uint8_t *p;
    size_t n;
    unsigned ev;
};

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* One IPv4 fragment of datagram id (10.0.0.1 -> 10.0.0.2, protocol 17):
 * data[0..n) at byte offset off. Returns its length. */
static size_t v4_frag(uint8_t *b, uint16_t id, uint32_t off, int more, const uint8_t *data,
                      size_t n, uint8_t proto)
{
    size_t total = 20 + n;
    memset(b, 0, 20);
    b[0] = 0x45;
    b[2] = (uint8_t)(total >> 8);
    b[3] = (uint8_t)total;
    b[4] = (uint8_t)(id >> 8);
    b[5] = (uint8_t)id;
    uint16_t fo = (uint16_t)((more ? 0x2000 : 0) | (off / 8));
    b[6] = (uint8_t)(fo >> 8);
    b[7] = (uint8_t)fo;
    b[8] = 64;
    b[9] = proto;
    b[12] = 10, b[15] = 1;
    b[16] = 10, b[19] = 2;
    memcpy(b + 20, data, n);
    return total;
}

static struct out feed4(struct ms_defrag *d, uint64_t ts, uint16_t id, uint32_t off, int more,
                        const uint8_t *data, size_t n)
{
    uint8_t *b = malloc(20 + n); /* exact size: ASan sees over-reads */
    assert_non_null(b);
    size_t len = v4_frag(b, id, off, more, data, n, 17);
    struct out o;
    o.st = ms_defrag_packet(d, ts, b, len, &o.p, &o.n, &o.ev);
    free(b);
    return o;
}

static uint8_t pattern[70000];

static void fill_pattern(void)
{
    uint32_t x = 7;
    for (size_t i = 0; i < sizeof(pattern); i++) {
        x = x * 1103515245u + 12345u;
        pattern[i] = (uint8_t)(x >> 16);
    }
}

static struct ms_limits lim_default(void)
{
    struct ms_limits l = ms_limits_default();
    return l;
}

/* The reassembled IPv4 datagram is the data with a fixed-up header. */
static void check_v4(const struct out *o, const uint8_t *data, size_t n)
{
    assert_int_equal(o->st, MS_DEFRAG_DONE);
    assert_non_null(o->p);
    assert_int_equal(o->n, 20 + n);
    assert_int_equal(be16(o->p + 2), 20 + n);
    assert_int_equal(be16(o->p + 6) & 0x3fff, 0);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += be16(o->p + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    assert_int_equal(sum, 0xffff);
    assert_memory_equal(o->p + 20, data, n);
}

static void test_in_order_and_reversed(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    struct ms_defrag *d = ms_defrag_new(&l);
    struct out o;
    for (int i = 0; i < 3; i++) {
        o = feed4(d, 0, 1, (uint32_t)i * 16, 1, pattern + (size_t)i * 16, 16);
        assert_int_equal(o.st, MS_DEFRAG_HELD);
    }
    o = feed4(d, 0, 1, 48, 0, pattern + 48, 13);
    check_v4(&o, pattern, 61);
    assert_int_equal(ms_defrag_datagrams(d), 0);
    assert_int_equal(ms_defrag_bytes(d), 0);

    o = feed4(d, 0, 2, 48, 0, pattern + 48, 13);
    assert_int_equal(o.st, MS_DEFRAG_HELD);
    for (int i = 2; i >= 0; i--)
        o = feed4(d, 0, 2, (uint32_t)i * 16, 1, pattern + (size_t)i * 16, 16);
    check_v4(&o, pattern, 61);
    assert_int_equal(o.ev, 0);
    struct ms_defrag_stats st;
    ms_defrag_get_stats(d, &st);
    assert_int_equal(st.reassembled, 2);
    ms_defrag_free(d);
}

static void test_every_order(void **state)
{
    (void)state;
    static const int perms[24][4] = {
        { 0, 1, 2, 3 }, { 0, 1, 3, 2 }, { 0, 2, 1, 3 }, { 0, 2, 3, 1 }, { 0, 3, 1, 2 },
        { 0, 3, 2, 1 }, { 1, 0, 2, 3 }, { 1, 0, 3, 2 }, { 1, 2, 0, 3 }, { 1, 2, 3, 0 },
        { 1, 3, 0, 2 }, { 1, 3, 2, 0 }, { 2, 0, 1, 3 }, { 2, 0, 3, 1 }, { 2, 1, 0, 3 },
        { 2, 1, 3, 0 }, { 2, 3, 0, 1 }, { 2, 3, 1, 0 }, { 3, 0, 1, 2 }, { 3, 0, 2, 1 },
        { 3, 1, 0, 2 }, { 3, 1, 2, 0 }, { 3, 2, 0, 1 }, { 3, 2, 1, 0 },
    };
    struct ms_limits l = lim_default();
    struct ms_defrag *d = ms_defrag_new(&l);
    for (int p = 0; p < 24; p++) {
        struct out o;
        for (int i = 0; i < 4; i++) {
            int f = perms[p][i];
            o = feed4(d, 0, (uint16_t)(100 + p), (uint32_t)f * 24, f != 3, pattern + (size_t)f * 24,
                      f == 3 ? 5 : 24);
            if (i < 3)
                assert_int_equal(o.st, MS_DEFRAG_HELD);
        }
        check_v4(&o, pattern, 77);
    }
    ms_defrag_free(d);
}

static void test_overlaps(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    struct ms_defrag *d = ms_defrag_new(&l);
    uint8_t other[64];
    memcpy(other, pattern, sizeof(other));
    for (size_t i = 8; i < 40; i++)
        other[i] ^= 0xff;

    /* Identical duplicates and overlaps: silent. */
    struct out o = feed4(d, 0, 1, 0, 1, pattern, 24);
    o = feed4(d, 0, 1, 0, 1, pattern, 24);
    assert_int_equal(o.ev, 0);
    o = feed4(d, 0, 1, 8, 1, pattern + 8, 32);
    assert_int_equal(o.ev, 0);
    o = feed4(d, 0, 1, 40, 0, pattern + 40, 8);
    check_v4(&o, pattern, 48);
    assert_int_equal(o.ev, 0);

    /* Different bytes: first arrival wins, reported once per datagram. */
    o = feed4(d, 0, 2, 0, 1, pattern, 16);
    o = feed4(d, 0, 2, 8, 1, other + 8, 16);
    assert_int_equal(o.st, MS_DEFRAG_HELD);
    assert_int_equal(o.ev, MS_DEFRAG_EV_OVERLAP_DIFF);
    o = feed4(d, 0, 2, 16, 1, pattern + 16, 8); /* differs from the held [16,24) */
    assert_int_equal(o.ev, 0);
    /* A last fragment covering everything: holes filled from it, held
     * bytes kept. */
    uint8_t want[48];
    memcpy(want, pattern, 16);
    memcpy(want + 16, other + 16, 8);
    memcpy(want + 24, other + 24, 24);
    o = feed4(d, 0, 2, 0, 0, other, 48);
    check_v4(&o, want, 48);
    struct ms_defrag_stats st;
    ms_defrag_get_stats(d, &st);
    assert_int_equal(st.overlaps, 3);
    assert_string_equal(ms_anomaly_code(ms_defrag_event_anomaly(MS_DEFRAG_EV_OVERLAP_DIFF)),
                        "frag_overlap_different_data");

    /* A fragment falling inside held data in the middle of two pieces. */
    o = feed4(d, 0, 3, 0, 1, pattern, 8);
    o = feed4(d, 0, 3, 16, 1, pattern + 16, 8);
    o = feed4(d, 0, 3, 32, 0, pattern + 32, 8);
    o = feed4(d, 0, 3, 0, 1, pattern, 32); /* covers both holes, same bytes */
    assert_int_equal(o.ev, 0);
    check_v4(&o, pattern, 40);
    ms_defrag_free(d);
}

static void test_timeouts(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    l.frag_timeout_us = 1000;
    for (uint64_t t2 = 999; t2 <= 1001; t2++) {
        struct ms_defrag *d = ms_defrag_new(&l);
        struct out o = feed4(d, 5000, 1, 0, 1, pattern, 16);
        assert_int_equal(o.st, MS_DEFRAG_HELD);
        o = feed4(d, 5000 + t2, 1, 16, 0, pattern + 16, 4);
        struct ms_defrag_stats st;
        ms_defrag_get_stats(d, &st);
        if (t2 <= 1000) {
            check_v4(&o, pattern, 20);
            assert_int_equal(st.timeouts, 0);
        } else {
            /* The first fragment expired: the last one starts anew. */
            assert_int_equal(o.st, MS_DEFRAG_HELD);
            assert_int_equal(st.timeouts, 1);
            assert_int_equal(ms_defrag_datagrams(d), 1);
        }
        /* Expiry by the clock alone; a clock stepping back expires nothing. */
        ms_defrag_expire(d, 0);
        assert_int_equal(ms_defrag_datagrams(d), t2 <= 1000 ? 0 : 1);
        ms_defrag_expire(d, 5000 + t2 + 1001);
        assert_int_equal(ms_defrag_datagrams(d), 0);
        ms_defrag_free(d);
    }
}

static void test_cap_datagrams(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    l.frag_max_datagrams = 4;
    for (size_t n = 3; n <= 5; n++) {
        struct ms_defrag *d = ms_defrag_new(&l);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(feed4(d, i, (uint16_t)i, 0, 1, pattern, 8).st, MS_DEFRAG_HELD);
        assert_int_equal(ms_defrag_datagrams(d), n < 4 ? n : 4);
        /* Newest first, so completing one never needs to evict another. */
        for (size_t i = n; i-- > 0;) {
            struct out o = feed4(d, 10, (uint16_t)i, 8, 0, pattern + 8, 3);
            if (n == 5 && i == 0)
                assert_int_equal(o.st, MS_DEFRAG_HELD); /* the oldest was evicted */
            else
                check_v4(&o, pattern, 11);
        }
        struct ms_defrag_stats st;
        ms_defrag_get_stats(d, &st);
        assert_int_equal(st.evicted, n == 5 ? 1 : 0);
        ms_defrag_free(d);
    }
}

static void test_cap_bytes(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    l.frag_max_bytes = 100;
    /* One datagram holding 99, 100, 101 bytes (a last fragment at offset
     * 8: no header kept yet). */
    for (size_t n = 99; n <= 101; n++) {
        struct ms_defrag *d = ms_defrag_new(&l);
        struct out o = feed4(d, 0, 1, 8, 0, pattern, n);
        assert_int_equal(o.st, n <= 100 ? MS_DEFRAG_HELD : MS_DEFRAG_DROPPED);
        assert_int_equal(ms_defrag_bytes(d), n <= 100 ? n : 0);
        ms_defrag_free(d);
    }
    /* Two datagrams: the second pushing the total past the cap evicts the
     * first. */
    for (size_t n = 39; n <= 41; n++) {
        struct ms_defrag *d = ms_defrag_new(&l);
        assert_int_equal(feed4(d, 0, 1, 8, 0, pattern, 60).st, MS_DEFRAG_HELD);
        assert_int_equal(feed4(d, 0, 2, 8, 0, pattern, n).st, MS_DEFRAG_HELD);
        struct ms_defrag_stats st;
        ms_defrag_get_stats(d, &st);
        assert_int_equal(st.evicted, n == 41 ? 1 : 0);
        assert_int_equal(ms_defrag_datagrams(d), n == 41 ? 1 : 2);
        assert_true(ms_defrag_bytes(d) <= 100);
        ms_defrag_free(d);
    }
}

static void test_cap_fragments(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    l.frag_max_per_datagram = 4;
    for (size_t n = 3; n <= 5; n++) {
        struct ms_defrag *d = ms_defrag_new(&l);
        struct out o;
        for (size_t i = 0; i < n; i++)
            o = feed4(d, 0, 1, (uint32_t)i * 8, i + 1 < n, pattern + i * 8, 8);
        if (n <= 4) {
            check_v4(&o, pattern, n * 8);
        } else {
            assert_int_equal(o.st, MS_DEFRAG_DROPPED);
            assert_int_equal(ms_defrag_datagrams(d), 0);
        }
        ms_defrag_free(d);
    }
}

static void test_cap_size(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    /* Data ending at 65514, 65515 (20 + 65515 = 65535), 65516. */
    for (size_t end = 65514; end <= 65516; end++) {
        struct ms_defrag *d = ms_defrag_new(&l);
        struct out o = feed4(d, 0, 1, 65504, 0, pattern, end - 65504);
        if (end <= 65515) {
            assert_int_equal(o.st, MS_DEFRAG_HELD);
            assert_int_equal(o.ev, 0);
            /* Fill the rest: a maximal datagram comes out whole. */
            for (uint32_t off = 0; off < 65504 && o.st == MS_DEFRAG_HELD; off += 1480) {
                uint32_t n = 65504 - off < 1480 ? 65504 - off : 1480;
                o = feed4(d, 0, 1, off, 1, pattern + off, n);
            }
            assert_int_equal(o.st, MS_DEFRAG_DONE);
            assert_int_equal(o.n, 20 + end);
        } else {
            assert_int_equal(o.st, MS_DEFRAG_DROPPED);
            assert_int_equal(o.ev, MS_DEFRAG_EV_TOO_LARGE);
        }
        ms_defrag_free(d);
    }
}

static void test_invalid(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    struct ms_defrag *d = ms_defrag_new(&l);
    /* A non-final fragment that is not a multiple of 8. */
    struct out o = feed4(d, 0, 1, 0, 1, pattern, 12);
    assert_int_equal(o.st, MS_DEFRAG_DROPPED);
    assert_int_equal(o.ev, MS_DEFRAG_EV_INVALID);
    /* Two last fragments that disagree; data past the end. */
    o = feed4(d, 0, 2, 16, 0, pattern + 16, 8);
    o = feed4(d, 0, 2, 16, 0, pattern + 16, 16);
    assert_int_equal(o.ev, MS_DEFRAG_EV_INVALID);
    o = feed4(d, 0, 2, 24, 1, pattern + 24, 8);
    assert_int_equal(o.ev, MS_DEFRAG_EV_INVALID);
    o = feed4(d, 0, 2, 0, 1, pattern, 16);
    check_v4(&o, pattern, 24);
    /* A last fragment ending before data already held. */
    o = feed4(d, 0, 3, 32, 1, pattern + 32, 8);
    o = feed4(d, 0, 3, 0, 0, pattern, 16);
    assert_int_equal(o.ev, MS_DEFRAG_EV_INVALID);
    /* Cut by the snaplen (shorter than its IP length): refused. */
    uint8_t b[64];
    size_t len = v4_frag(b, 4, 0, 1, pattern, 40, 17);
    const uint8_t *p;
    size_t n;
    unsigned ev;
    assert_int_equal(ms_defrag_packet(d, 0, b, len - 1, &p, &n, &ev), MS_DEFRAG_DROPPED);
    /* Not IP at all; an empty fragment. */
    assert_int_equal(ms_defrag_packet(d, 0, b, 0, &p, &n, &ev), MS_DEFRAG_DROPPED);
    b[0] = 0x15;
    assert_int_equal(ms_defrag_packet(d, 0, b, len, &p, &n, &ev), MS_DEFRAG_DROPPED);
    assert_int_equal(feed4(d, 0, 5, 0, 1, pattern, 0).st, MS_DEFRAG_DROPPED);
    ms_defrag_free(d);
}

/* CVE-2024-37151: a finished datagram must not swallow a later one that
 * reuses its ID. */
static void test_id_reuse(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    struct ms_defrag *d = ms_defrag_new(&l);
    struct out o = feed4(d, 0, 7, 0, 1, pattern, 16);
    o = feed4(d, 0, 7, 16, 0, pattern + 16, 4);
    check_v4(&o, pattern, 20);
    o = feed4(d, 1, 7, 16, 0, pattern + 116, 4);
    assert_int_equal(o.st, MS_DEFRAG_HELD);
    o = feed4(d, 1, 7, 0, 1, pattern + 100, 16);
    assert_int_equal(o.ev, 0);
    check_v4(&o, pattern + 100, 20);
    /* Same ID, other protocol: another datagram (RFC 791 key). */
    uint8_t b[64];
    size_t len = v4_frag(b, 8, 0, 1, pattern, 16, 6);
    const uint8_t *p;
    size_t n;
    unsigned ev;
    assert_int_equal(ms_defrag_packet(d, 0, b, len, &p, &n, &ev), MS_DEFRAG_HELD);
    o = feed4(d, 0, 8, 16, 0, pattern + 16, 4);
    assert_int_equal(o.st, MS_DEFRAG_HELD);
    assert_int_equal(ms_defrag_datagrams(d), 2);
    ms_defrag_free(d);
}

/* IPv6: fixed header, hop-by-hop (unfragmentable), fragment header. */
static size_t v6_frag(uint8_t *b, uint32_t id, uint32_t off, int more, const uint8_t *data,
                      size_t n)
{
    memset(b, 0, 56);
    b[0] = 0x60;
    size_t plen = 8 + 8 + n;
    b[4] = (uint8_t)(plen >> 8);
    b[5] = (uint8_t)plen;
    b[6] = 0; /* hop-by-hop */
    b[7] = 64;
    b[8] = 0xfd, b[23] = 1;
    b[24] = 0xfd, b[39] = 2;
    b[40] = 44;           /* HBH -> fragment */
    b[42] = 1, b[43] = 4; /* PadN 4 */
    b[48] = 17;           /* fragment -> UDP */
    uint16_t fo = (uint16_t)(off | (more ? 1 : 0));
    b[50] = (uint8_t)(fo >> 8);
    b[51] = (uint8_t)fo;
    b[52] = (uint8_t)(id >> 24), b[53] = (uint8_t)(id >> 16);
    b[54] = (uint8_t)(id >> 8), b[55] = (uint8_t)id;
    memcpy(b + 56, data, n);
    return 56 + n;
}

static void test_ipv6(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    struct ms_defrag *d = ms_defrag_new(&l);
    uint8_t b[200];
    const uint8_t *p = NULL;
    size_t n = 0;
    unsigned ev;
    static const uint32_t offs[3] = { 64, 0, 32 };
    enum ms_defrag_status st = MS_DEFRAG_HELD;
    for (int i = 0; i < 3; i++) {
        size_t len = v6_frag(b, 0xabcdef01u, offs[i], offs[i] != 64, pattern + offs[i],
                             offs[i] == 64 ? 9 : 32);
        st = ms_defrag_packet(d, 0, b, len, &p, &n, &ev);
    }
    assert_int_equal(st, MS_DEFRAG_DONE);
    assert_int_equal(n, 48 + 73);
    assert_int_equal(be16(p + 4), 8 + 73);
    assert_int_equal(p[6], 0);
    assert_int_equal(p[40], 17); /* HBH now points past the fragment header */
    assert_memory_equal(p + 48, pattern, 73);
    /* IPv6 datagram size: payload length past 65535 is refused. */
    size_t len = v6_frag(b, 5, 65520, 0, pattern, 8);
    assert_int_equal(ms_defrag_packet(d, 0, b, len, &p, &n, &ev), MS_DEFRAG_DROPPED);
    assert_int_equal(ev, MS_DEFRAG_EV_TOO_LARGE);
    ms_defrag_free(d);
}

/* The byte spelled by the two hex digits at s (checked: the test's own
 * data). */
static uint8_t hex_byte(const char *s)
{
    char two[3] = { s[0], s[1], '\0' };
    char *end;
    assert_true(isxdigit((unsigned char)two[0]) && isxdigit((unsigned char)two[1]));
    unsigned long v = strtoul(two, &end, 16);
    assert_ptr_equal(end, two + 2);
    return (uint8_t)v;
}

/* A TCP segment cut in two fragments comes back whole, decodes, and its
 * checksum (computed by scapy) verifies. */
static void test_decode_round_trip(void **state)
{
    (void)state;
    static const char hex[] =
        "450000320007000040065fb20a0102030a0405069c40006e00000064000000c8501820009f66"
        "00005553455220626f620d0a";
    uint8_t ip[50];
    for (size_t i = 0; i < sizeof(ip); i++)
        ip[i] = hex_byte(hex + 2 * i);
    uint8_t f1[36], f2[34];
    memcpy(f1, ip, 20);
    memcpy(f1 + 20, ip + 20, 16);
    f1[3] = 36;
    f1[6] = 0x20;
    memcpy(f2, ip, 20);
    memcpy(f2 + 20, ip + 36, 14);
    f2[3] = 34;
    f2[7] = 2;
    struct ms_pkt pk;
    assert_int_equal(ms_decode_ip(f2, sizeof(f2), &pk), MS_DECODE_FRAGMENT);
    struct ms_limits l = lim_default();
    struct ms_defrag *d = ms_defrag_new(&l);
    const uint8_t *p;
    size_t n;
    unsigned ev;
    assert_int_equal(ms_defrag_packet(d, 0, pk.l3, pk.l3_len, &p, &n, &ev), MS_DEFRAG_HELD);
    assert_int_equal(ms_decode_ip(f1, sizeof(f1), &pk), MS_DECODE_FRAGMENT);
    assert_int_equal(ms_defrag_packet(d, 0, pk.l3, pk.l3_len, &p, &n, &ev), MS_DEFRAG_DONE);
    assert_int_equal(ms_decode_ip(p, n, &pk), MS_DECODE_TCP);
    assert_int_equal(pk.payload_len, 10);
    assert_memory_equal(pk.payload, "USER bob\r\n", 10);
    assert_true(pk.tcp_csum_checked);
    assert_false(pk.tcp_csum_bad);
    assert_ptr_equal(pk.l3, p);
    ms_defrag_free(d);
}

/* Random fragments on a few IDs with small caps: the caps always hold. */
static void test_random(void **state)
{
    (void)state;
    struct ms_limits l = lim_default();
    l.frag_max_datagrams = 8;
    l.frag_max_bytes = 4096;
    l.frag_max_per_datagram = 16;
    l.frag_timeout_us = 500;
    struct ms_defrag *d = ms_defrag_new(&l);
    uint32_t x = 99;
    for (int i = 0; i < 50000; i++) {
        x = x * 1103515245u + 12345u;
        uint16_t id = (uint16_t)((x >> 8) % 12);
        uint32_t off = ((x >> 12) % 64) * 8;
        x = x * 1103515245u + 12345u;
        int more = (int)((x >> 9) & 1);
        size_t n = more ? (((x >> 10) % 16) + 1) * 8 : ((x >> 10) % 100) + 1;
        const uint8_t *src = pattern + (size_t)((x >> 20) & 1) * 3; /* sometimes different data */
        feed4(d, (uint64_t)i, id, off, more, src + off, n);
        assert_true(ms_defrag_bytes(d) <= l.frag_max_bytes);
        assert_true(ms_defrag_datagrams(d) <= l.frag_max_datagrams);
    }
    ms_defrag_free(d);
    ms_defrag_free(NULL);
}

static int setup(void **state)
{
    (void)state;
    fill_pattern();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_reversed),
        cmocka_unit_test(test_every_order),
        cmocka_unit_test(test_overlaps),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_cap_datagrams),
        cmocka_unit_test(test_cap_bytes),
        cmocka_unit_test(test_cap_fragments),
        cmocka_unit_test(test_cap_size),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_id_reuse),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_decode_round_trip),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
