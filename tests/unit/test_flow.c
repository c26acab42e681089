/* Flow table: both directions of a connection map to one flow; the client
 * is chosen by the handshake or, mid-connection, by the ports; max flows
 * with LRU eviction at max-1, max, max+1; flows that carried payload
 * outlive half-open ones (a SYN flood) within a bounded scan; idle
 * timeouts on the capture clock; port reuse after close; end reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../capture/flow.h"

struct ended {
    unsigned n;
    uint16_t last_cli_port;
    uint8_t last_reason;
    uint8_t reasons[64];
};

static void on_end(void *user, struct ms_flow *f)
{
    struct ended *e = user;
    if (e->n < 64)
        e->reasons[e->n] = f->end_reason;
    e->n++;
    e->last_cli_port = f->cli_port;
    e->last_reason = f->end_reason;
}

static struct ms_pkt pkt(uint32_t a, uint16_t ap, uint32_t b, uint16_t bp, uint8_t flags,
                         uint32_t seq, uint64_t ts_s)
{
    struct ms_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_version = 4;
    memcpy(p.src, &a, 4);
    memcpy(p.dst, &b, 4);
    p.sport = ap;
    p.dport = bp;
    p.tcp_flags = flags;
    p.seq = seq;
    p.ts_us = ts_s * 1000000u;
    return p;
}

#define CLI 0x0500000au
#define SRV 0x0100000au

static struct ms_flow *look(struct ms_flow_table *t, struct ms_pkt p, enum ms_dir *dir)
{
    bool created;
    return ms_flow_lookup(t, &p, true, dir, &created);
}

static void test_both_directions_one_flow(void **state)
{
    (void)state;
    struct ended e = { 0 };
    struct ms_flow_table *t = ms_flow_table_new(16, 600000000u, 0, on_end, &e);
    enum ms_dir d1, d2, d3;
    struct ms_flow *f1 = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1, 1), &d1);
    struct ms_flow *f2 = look(t, pkt(SRV, 110, CLI, 40000, MS_TH_SYN | MS_TH_ACK, 9, 1), &d2);
    struct ms_flow *f3 = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_ACK, 2, 1), &d3);
    assert_non_null(f1);
    assert_ptr_equal(f1, f2);
    assert_ptr_equal(f1, f3);
    assert_int_equal(d1, MS_TO_SERVER);
    assert_int_equal(d2, MS_TO_CLIENT);
    assert_int_equal(d3, MS_TO_SERVER);
    assert_int_equal(f1->cli_port, 40000);
    assert_int_equal(f1->srv_port, 110);
    assert_int_equal(f1->dir_source, MS_FLOW_DIR_SYN);
    /* Another client port is another flow. */
    enum ms_dir d4;
    struct ms_flow *f4 = look(t, pkt(CLI, 40001, SRV, 110, MS_TH_SYN, 1, 1), &d4);
    assert_ptr_not_equal(f1, f4);
    assert_int_not_equal(f1->flow_id, f4->flow_id);
    assert_int_equal(ms_flow_table_stats(t)->active, 2);
    /* Not found, not created. */
    bool created;
    struct ms_pkt p = pkt(CLI, 40002, SRV, 110, MS_TH_ACK, 1, 1);
    assert_null(ms_flow_lookup(t, &p, false, &d4, &created));
    assert_false(created);
    ms_flow_table_free(t);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.last_reason, MS_FLOW_END_SHUTDOWN);
}

/* The handshake decides; without it the ports do. */
static void test_direction_sources(void **state)
{
    (void)state;
    struct ended e = { 0 };
    struct ms_flow_table *t = ms_flow_table_new(16, 600000000u, 0, on_end, &e);
    enum ms_dir d;
    /* SYN-ACK first (the SYN was missed): its receiver is the client, even
     * on an unusual port layout. */
    struct ms_flow *f = look(t, pkt(SRV, 50000, CLI, 1000, MS_TH_SYN | MS_TH_ACK, 1, 1), &d);
    assert_int_equal(f->dir_source, MS_FLOW_DIR_SYNACK);
    assert_int_equal(f->cli_port, 1000);
    assert_int_equal(d, MS_TO_CLIENT);
    /* Mid-connection, a mail port marks the server. */
    f = look(t, pkt(SRV, 110, CLI, 50001, MS_TH_ACK | MS_TH_PSH, 1, 1), &d);
    assert_int_equal(f->dir_source, MS_FLOW_DIR_PORTS);
    assert_int_equal(f->srv_port, 110);
    assert_int_equal(d, MS_TO_CLIENT);
    f = look(t, pkt(CLI, 50002, SRV, 143, MS_TH_ACK, 1, 1), &d);
    assert_int_equal(f->srv_port, 143);
    assert_int_equal(d, MS_TO_SERVER);
    /* A privileged port against an ephemeral one. */
    f = look(t, pkt(SRV, 999, CLI, 50003, MS_TH_ACK, 1, 1), &d);
    assert_int_equal(f->srv_port, 999);
    /* Otherwise the higher port is the client's; a swap corrects it. */
    f = look(t, pkt(SRV, 60110, CLI, 40000, MS_TH_ACK, 1, 1), &d);
    assert_int_equal(f->cli_port, 60110);
    assert_int_equal(d, MS_TO_SERVER);
    uint64_t id = f->flow_id;
    ms_flow_swap(t, f);
    assert_int_equal(f->cli_port, 40000);
    assert_int_equal(f->srv_port, 60110);
    assert_true(f->swapped);
    assert_int_equal(f->flow_id, id);
    struct ms_flow *g = look(t, pkt(SRV, 60110, CLI, 40000, MS_TH_ACK, 5, 2), &d);
    assert_ptr_equal(f, g);
    assert_int_equal(d, MS_TO_CLIENT);
    assert_int_equal(ms_flow_table_stats(t)->swapped, 1);
    ms_flow_table_free(t);
}

/* max flows: at max-1 and max nothing is evicted; max+1 evicts the least
 * recently used (not the oldest created). */
static void test_eviction_boundaries(void **state)
{
    (void)state;
    const size_t max = 8;
    for (size_t extra = 0; extra < 3; extra++) {
        size_t n = max - 1 + extra;
        struct ended e = { 0 };
        struct ms_flow_table *t = ms_flow_table_new(max, 600000000u, 0, on_end, &e);
        enum ms_dir d;
        for (size_t i = 0; i + 1 < n; i++)
            look(t, pkt(CLI, (uint16_t)(40000 + i), SRV, 110, MS_TH_SYN, 1, 1), &d);
        /* Touch the first flow: flow 1 is now the least recently used. */
        look(t, pkt(SRV, 110, CLI, 40000, MS_TH_SYN | MS_TH_ACK, 1, 2), &d);
        look(t, pkt(CLI, (uint16_t)(40000 + n - 1), SRV, 110, MS_TH_SYN, 1, 3), &d);
        const struct ms_flow_stats *st = ms_flow_table_stats(t);
        assert_int_equal(st->created, n);
        if (n <= max) {
            assert_int_equal(e.n, 0);
            assert_int_equal(st->evicted, 0);
            assert_int_equal(st->active, n);
        } else {
            assert_int_equal(e.n, 1);
            assert_int_equal(st->evicted, 1);
            assert_int_equal(e.last_cli_port, 40001);
            assert_int_equal(e.last_reason, MS_FLOW_END_EVICTED);
            assert_int_equal(st->active, max);
        }
        assert_int_equal(st->peak, n <= max ? n : max);
        ms_flow_table_free(t);
    }
}

/* Idle timeout on the capture clock: at the timeout a flow lives, one
 * microsecond past it it ends; activity resets the clock. */
static void test_timeouts(void **state)
{
    (void)state;
    struct ended e = { 0 };
    const uint64_t to = 60ull * 1000000u;
    struct ms_flow_table *t = ms_flow_table_new(16, to, 0, on_end, &e);
    enum ms_dir d;
    look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1, 100), &d);
    look(t, pkt(CLI, 40001, SRV, 110, MS_TH_SYN, 1, 130), &d);
    ms_flow_table_expire(t, 100ull * 1000000u + to - 1);
    ms_flow_table_expire(t, 100ull * 1000000u + to);
    assert_int_equal(e.n, 0);
    /* Keep the second one alive. */
    look(t, pkt(SRV, 110, CLI, 40001, MS_TH_ACK, 1, 150), &d);
    ms_flow_table_expire(t, 100ull * 1000000u + to + 1);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.last_cli_port, 40000);
    assert_int_equal(e.last_reason, MS_FLOW_END_TIMEOUT);
    ms_flow_table_expire(t, 150ull * 1000000u + to);
    assert_int_equal(e.n, 1);
    ms_flow_table_expire(t, 150ull * 1000000u + to + 1);
    assert_int_equal(e.n, 2);
    assert_int_equal(ms_flow_table_stats(t)->timed_out, 2);
    /* A capture clock that goes backwards (a second file) ends nothing. */
    look(t, pkt(CLI, 40002, SRV, 110, MS_TH_SYN, 1, 500), &d);
    ms_flow_table_expire(t, 10ull * 1000000u);
    assert_int_equal(e.n, 2);
    ms_flow_table_free(t);
}

/* A new SYN on a closing flow starts a new flow unless it repeats the
 * opening SYN's ISN. */
static void test_port_reuse(void **state)
{
    (void)state;
    struct ended e = { 0 };
    struct ms_flow_table *t = ms_flow_table_new(16, 600000000u, 0, on_end, &e);
    enum ms_dir d;
    struct ms_flow *f = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1000, 1), &d);
    ms_tcp_half_syn(&f->tcp.dir[MS_TO_SERVER], 1000);
    uint64_t id = f->flow_id;
    /* Not closing: a SYN (even another ISN) stays in the flow. */
    struct ms_flow *g = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 5000, 2), &d);
    assert_ptr_equal(f, g);
    ms_tcp_half_fin(&f->tcp.dir[MS_TO_SERVER], 1001);
    /* Closing, retransmitted opening SYN: same flow. */
    g = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1000, 3), &d);
    assert_ptr_equal(f, g);
    assert_int_equal(e.n, 0);
    /* Closing, new ISN: the old flow ends, a new one begins. */
    g = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 9000, 4), &d);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.last_reason, MS_FLOW_END_REUSED);
    assert_non_null(g);
    assert_int_not_equal(g->flow_id, id);
    assert_false(ms_tcp_session_closing(&g->tcp));
    assert_int_equal(ms_flow_table_stats(t)->reused, 1);
    assert_int_equal(ms_flow_table_stats(t)->active, 1);
    ms_flow_table_free(t);
}

/* Memory pressure: evict_lru ends the least recently used flow, never the
 * one being processed. */
static void test_evict_lru_keep(void **state)
{
    (void)state;
    struct ended e = { 0 };
    struct ms_flow_table *t = ms_flow_table_new(16, 600000000u, 0, on_end, &e);
    enum ms_dir d;
    struct ms_flow *a = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1, 1), &d);
    look(t, pkt(CLI, 40001, SRV, 110, MS_TH_SYN, 1, 2), &d);
    assert_true(ms_flow_table_evict_lru(t, NULL));
    assert_int_equal(e.last_cli_port, 40000);
    struct ms_flow *b = look(t, pkt(CLI, 40001, SRV, 110, MS_TH_ACK, 1, 3), &d);
    assert_false(ms_flow_table_evict_lru(t, b));
    assert_true(ms_flow_table_evict_lru(t, NULL));
    assert_false(ms_flow_table_evict_lru(t, NULL));
    assert_int_equal(ms_flow_table_stats(t)->evicted, 2);
    (void)a;
    ms_flow_table_free(t);
}

/* True when the flow of these endpoints is still in the table. */
static bool alive(struct ms_flow_table *t, uint16_t cli_port)
{
    enum ms_dir d;
    bool created;
    struct ms_pkt p = pkt(CLI, cli_port, SRV, 110, MS_TH_ACK, 1, 9);
    return ms_flow_lookup(t, &p, false, &d, &created) != NULL;
}

/* A flow that carried payload both ways outlives a flood of half-open
 * ones: with max flows, the session plus max-2, max-1 half-open flows end
 * nothing; one more ends the least recently used half-open flow, not the
 * session (the LRU tail). Then 3 * max more: only half-open flows go. */
static void test_eviction_spares_payload(void **state)
{
    (void)state;
    const size_t max = 8;
    for (size_t extra = 0; extra < 3; extra++) {
        size_t n = max - 2 + extra; /* half-open flows after the session */
        struct ended e = { 0 };
        struct ms_flow_table *t = ms_flow_table_new(max, 600000000u, 0, on_end, &e);
        enum ms_dir d;
        struct ms_flow *s = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1, 1), &d);
        s->payload_dirs = 3;
        for (size_t i = 0; i < n; i++)
            look(t, pkt(CLI, (uint16_t)(41000 + i), SRV, 110, MS_TH_SYN, 1, 2), &d);
        const struct ms_flow_stats *st = ms_flow_table_stats(t);
        assert_true(alive(t, 40000));
        if (n + 1 <= max) {
            assert_int_equal(e.n, 0);
            assert_int_equal(st->active, n + 1);
        } else {
            assert_int_equal(e.n, 1);
            assert_int_equal(st->evicted, 1);
            assert_int_equal(e.last_cli_port, 41000);
            assert_int_equal(e.last_reason, MS_FLOW_END_EVICTED);
            assert_int_equal(st->active, max);
        }
        /* The flood goes on: the session becomes the LRU tail again (alive()
         * touched it) and stays; each new flow ends the oldest half-open one. */
        unsigned before = e.n;
        size_t active = st->active;
        for (size_t i = 0; i < 3 * max; i++) {
            look(t, pkt(CLI, (uint16_t)(42000 + i), SRV, 110, MS_TH_SYN, 1, 3), &d);
            assert_int_not_equal(e.last_cli_port, 40000);
        }
        assert_true(alive(t, 40000));
        assert_int_equal(e.n, before + active + 3 * max - max);
        assert_int_equal(st->evicted, e.n);
        assert_int_equal(st->active, max);
        ms_flow_table_free(t);
    }
}

/* Payload one way only (what a blind spoofer can send) ranks between:
 * half-open flows go first, then one-way ones, then two-way ones; among
 * equals the least recently used. ms_flow_swap keeps the bits with their
 * side. */
static void test_eviction_ranks(void **state)
{
    (void)state;
    struct ended e = { 0 };
    struct ms_flow_table *t = ms_flow_table_new(16, 600000000u, 0, on_end, &e);
    enum ms_dir d;
    struct ms_flow *both = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1, 1), &d);
    both->payload_dirs = 3;
    struct ms_flow *one = look(t, pkt(CLI, 40001, SRV, 110, MS_TH_SYN, 1, 2), &d);
    one->payload_dirs = 1u << MS_TO_SERVER;
    ms_flow_swap(t, one);
    assert_int_equal(one->payload_dirs, 1u << MS_TO_CLIENT);
    ms_flow_swap(t, one);
    assert_int_equal(one->payload_dirs, 1u << MS_TO_SERVER);
    look(t, pkt(CLI, 40002, SRV, 110, MS_TH_SYN, 1, 3), &d);
    look(t, pkt(CLI, 40003, SRV, 110, MS_TH_SYN, 1, 4), &d);
    const uint16_t order[] = { 40002, 40003, 40001, 40000 };
    for (size_t i = 0; i < 4; i++) {
        assert_true(ms_flow_table_evict_lru(t, NULL));
        assert_int_equal(e.last_cli_port, order[i]);
    }
    assert_false(ms_flow_table_evict_lru(t, NULL));
    ms_flow_table_free(t);
}

/* The scan is bounded: a half-open flow is preferred only when it is among
 * the MS_FLOW_EVICT_SCAN least recently used flows (keep, skipped, does not
 * count). As the scan-1th or scan-th it goes; as the scan+1th the least
 * recently used flow other than keep goes. */
static void test_eviction_scan_bound(void **state)
{
    (void)state;
    for (size_t extra = 0; extra < 3; extra++) {
        size_t ahead = MS_FLOW_EVICT_SCAN - 1 + extra; /* its place in the scan */
        struct ended e = { 0 };
        struct ms_flow_table *t = ms_flow_table_new(1024, 600000000u, 0, on_end, &e);
        enum ms_dir d;
        struct ms_flow *keep = NULL;
        for (size_t i = 0; i < ahead; i++) {
            struct ms_flow *f = look(t, pkt(CLI, (uint16_t)(40000 + i), SRV, 110, MS_TH_SYN, 1, 1),
                                     &d);
            f->payload_dirs = 3;
            if (i == 0)
                keep = f; /* the tail itself, skipped */
        }
        look(t, pkt(CLI, 50000, SRV, 110, MS_TH_SYN, 1, 2), &d);
        assert_true(ms_flow_table_evict_lru(t, keep));
        assert_int_equal(e.n, 1);
        if (ahead <= MS_FLOW_EVICT_SCAN)
            assert_int_equal(e.last_cli_port, 50000);
        else
            assert_int_equal(e.last_cli_port, 40001);
        ms_flow_table_free(t);
    }
}

/* All flows carried payload both ways: the LRU tail goes, at max-1, max,
 * max+1 flows, as in test_eviction_boundaries. */
static void test_eviction_all_established(void **state)
{
    (void)state;
    const size_t max = 8;
    for (size_t extra = 0; extra < 3; extra++) {
        size_t n = max - 1 + extra;
        struct ended e = { 0 };
        struct ms_flow_table *t = ms_flow_table_new(max, 600000000u, 0, on_end, &e);
        enum ms_dir d;
        for (size_t i = 0; i + 1 < n; i++) {
            struct ms_flow *f = look(t, pkt(CLI, (uint16_t)(40000 + i), SRV, 110, MS_TH_SYN, 1, 1),
                                     &d);
            f->payload_dirs = 3;
        }
        look(t, pkt(SRV, 110, CLI, 40000, MS_TH_ACK, 1, 2), &d); /* 40001 is the tail now */
        struct ms_flow *f = look(t, pkt(CLI, (uint16_t)(40000 + n - 1), SRV, 110, MS_TH_SYN, 1, 3),
                                 &d);
        f->payload_dirs = 3;
        const struct ms_flow_stats *st = ms_flow_table_stats(t);
        if (n <= max) {
            assert_int_equal(e.n, 0);
            assert_int_equal(st->active, n);
        } else {
            assert_int_equal(e.n, 1);
            assert_int_equal(st->evicted, 1);
            assert_int_equal(e.last_cli_port, 40001);
            assert_int_equal(st->active, max);
        }
        ms_flow_table_free(t);
    }
}

/* IPv6 endpoints hash and compare on all 16 bytes. */
static void test_ipv6(void **state)
{
    (void)state;
    struct ended e = { 0 };
    struct ms_flow_table *t = ms_flow_table_new(4, 600000000u, 0, on_end, &e);
    struct ms_pkt p;
    memset(&p, 0, sizeof(p));
    p.ip_version = 6;
    p.src[0] = 0xfd;
    p.src[15] = 5;
    p.dst[0] = 0xfd;
    p.dst[15] = 1;
    p.sport = 40000;
    p.dport = 110;
    p.tcp_flags = MS_TH_SYN;
    enum ms_dir d;
    bool c;
    struct ms_flow *f = ms_flow_lookup(t, &p, true, &d, &c);
    struct ms_pkt q = p;
    memcpy(q.src, p.dst, 16);
    memcpy(q.dst, p.src, 16);
    q.sport = 110;
    q.dport = 40000;
    q.tcp_flags = MS_TH_SYN | MS_TH_ACK;
    assert_ptr_equal(ms_flow_lookup(t, &q, true, &d, &c), f);
    assert_int_equal(d, MS_TO_CLIENT);
    q.src[8] = 1; /* differs only in the middle of the address */
    assert_ptr_not_equal(ms_flow_lookup(t, &q, true, &d, &c), f);
    ms_flow_table_free(t);
}

/* A flow that carried payload is remembered when it ends: its late packets
 * open nothing (counted), nor does a late copy of its SYN or SYN-ACK (a SPAN
 * port's duplicate); a SYN with another ISN is a new connection. A flow
 * without payload is not remembered. */
static void test_recently_ended(void **state)
{
    (void)state;
    struct ended e = { 0 };
    struct ms_flow_table *t = ms_flow_table_new(16, 600000000u, 8, on_end, &e);
    enum ms_dir d;
    struct ms_flow *f = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1000, 1), &d);
    ms_tcp_half_syn(&f->tcp.dir[MS_TO_SERVER], 1000);
    f->payload_dirs = 3;
    ms_flow_end(t, f);
    assert_int_equal(e.n, 1);
    struct ms_pkt late = pkt(SRV, 110, CLI, 40000, MS_TH_ACK | MS_TH_PSH, 7000, 2);
    assert_null(look(t, late, &d));
    assert_null(look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1000, 3), &d));
    struct ms_pkt synack = pkt(SRV, 110, CLI, 40000, MS_TH_SYN | MS_TH_ACK, 5000, 3);
    synack.ack = 1001;
    assert_null(look(t, synack, &d));
    assert_int_equal(ms_flow_table_stats(t)->late_packets, 3);
    assert_int_equal(ms_flow_table_stats(t)->created, 1);
    /* Past the flow timeout it is forgotten: a late packet is a new flow. */
    assert_non_null(look(t, pkt(SRV, 110, CLI, 40000, MS_TH_ACK, 7000, 700), &d));
    assert_int_equal(ms_flow_table_stats(t)->created, 2);
    ms_flow_table_free(t);

    /* A new ISN: a new connection on the same ports. */
    e.n = 0;
    t = ms_flow_table_new(16, 600000000u, 8, on_end, &e);
    f = look(t, pkt(CLI, 40001, SRV, 110, MS_TH_SYN, 1000, 1), &d);
    ms_tcp_half_syn(&f->tcp.dir[MS_TO_SERVER], 1000);
    f->payload_dirs = 1;
    ms_flow_end(t, f);
    assert_non_null(look(t, pkt(CLI, 40001, SRV, 110, MS_TH_SYN, 99000, 2), &d));
    assert_int_equal(ms_flow_table_stats(t)->late_packets, 0);
    ms_flow_table_free(t);

    /* Without payload: nothing remembered. */
    t = ms_flow_table_new(16, 600000000u, 8, on_end, &e);
    f = look(t, pkt(CLI, 40002, SRV, 110, MS_TH_SYN, 1000, 1), &d);
    ms_flow_end(t, f);
    assert_non_null(look(t, pkt(CLI, 40002, SRV, 110, MS_TH_ACK | MS_TH_PSH, 1001, 2), &d));
    ms_flow_table_free(t);
}

/* The last lookup's flow is found again without hashing: each of two
 * interleaved connections is its own flow, both ways, and once a flow has
 * ended its tuple makes a new one (nothing remembered: recent_max 0). */
static void test_last_flow_again(void **state)
{
    (void)state;
    struct ended e = { 0 };
    struct ms_flow_table *t = ms_flow_table_new(16, 600000000u, 0, on_end, &e);
    enum ms_dir d;
    struct ms_flow *a = look(t, pkt(CLI, 40000, SRV, 110, MS_TH_SYN, 1000, 1), &d);
    struct ms_flow *b = look(t, pkt(CLI, 40001, SRV, 110, MS_TH_SYN, 2000, 1), &d);
    assert_ptr_not_equal(a, b);
    for (unsigned i = 0; i < 4; i++) {
        assert_ptr_equal(look(t, pkt(SRV, 110, CLI, 40000, MS_TH_ACK, 1, 2), &d), a);
        assert_int_equal(d, MS_TO_CLIENT);
        assert_ptr_equal(look(t, pkt(SRV, 110, CLI, 40000, MS_TH_ACK, 1, 2), &d), a);
        assert_ptr_equal(look(t, pkt(CLI, 40001, SRV, 110, MS_TH_ACK, 1, 2), &d), b);
        assert_int_equal(d, MS_TO_SERVER);
    }
    ms_flow_end(t, b); /* the last one found */
    bool created = false;
    struct ms_pkt syn = pkt(CLI, 40001, SRV, 110, MS_TH_SYN, 3000, 3);
    struct ms_flow *c = ms_flow_lookup(t, &syn, true, &d, &created);
    assert_non_null(c);
    assert_true(created);
    assert_int_equal(ms_flow_table_stats(t)->created, 3);
    assert_int_equal(ms_flow_table_stats(t)->active, 2);
    assert_ptr_equal(look(t, pkt(CLI, 40000, SRV, 110, MS_TH_ACK, 1, 3), &d), a);
    ms_flow_table_free(t);
}

/* The buckets double as flows come (from 1024 up to max_flows'): every
 * flow is found again, both ways, after each doubling, and chains stay
 * short. */
static void test_buckets_grow(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct ms_flow_table *t = ms_flow_table_new(N, 600000000u, 0, NULL, NULL);
    static struct ms_flow *made[N];
    enum ms_dir d;
    for (uint32_t i = 0; i < N; i++) {
        made[i] = look(t, pkt(CLI + (i << 8), (uint16_t)(1024 + i), SRV, 110, MS_TH_SYN, i, 1), &d);
        assert_non_null(made[i]);
        /* Every flow so far, after each doubling (1024, 2048, 4096). */
        if (i == 1024 || i == 2048 || i == 4096 || i == N - 1) {
            for (uint32_t j = 0; j <= i; j++) {
                assert_ptr_equal(look(t,
                                      pkt(SRV, 110, CLI + (j << 8), (uint16_t)(1024 + j), MS_TH_ACK,
                                          1, 2),
                                      &d),
                                 made[j]);
                assert_int_equal(d, MS_TO_CLIENT);
            }
        }
    }
    assert_int_equal(ms_flow_table_stats(t)->created, N);
    assert_int_equal(ms_flow_table_stats(t)->active, N);
    assert_true(ms_flow_table_longest_chain(t) < 12);
    ms_flow_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_directions_one_flow),
        cmocka_unit_test(test_direction_sources),
        cmocka_unit_test(test_eviction_boundaries),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_port_reuse),
        cmocka_unit_test(test_evict_lru_keep),
        cmocka_unit_test(test_eviction_spares_payload),
        cmocka_unit_test(test_eviction_ranks),
        cmocka_unit_test(test_eviction_scan_bound),
        cmocka_unit_test(test_eviction_all_established),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_recently_ended),
        cmocka_unit_test(test_last_flow_again),
        cmocka_unit_test(test_buckets_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
