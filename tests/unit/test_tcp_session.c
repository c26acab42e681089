/* TCP connections as a tap records them (capture/tcp_session.c).
 *
 * A randomised model test: a random conversation (client and server taking
 * turns, each message cut into random segments, every segment carrying the
 * ACK of what its sender had received, pure ACKs, spurious retransmissions
 * cut at other offsets, keepalive probes, a handshake and FINs), then
 * captured the way real taps damage it: the two directions delayed
 * independently and merged (order kept within a direction only), adjacent
 * packets swapped, every packet duplicated 0-3 packets later. Each
 * direction must come out exactly as sent, with no gap and no overlap
 * report, the session DONE once (and only once) everything was delivered,
 * and in conversation order: no byte of a message before every peer byte
 * its sender had received when it sent it.
 *
 * Then real loss: a segment never captured becomes a gap of exactly its
 * size (at flush with a large window, or once the window in packets or in
 * time is over) and everything else is delivered; a one-sided capture
 * delivers everything with no gap; a segment captured after both FINs is
 * still delivered, and only then is the session DONE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/tcp_session.h"

enum { C = 0, S = 1 };
#define FL_SYN MS_TH_SYN
#define FL_ACK MS_TH_ACK
#define FL_FIN MS_TH_FIN
#define FL_RST MS_TH_RST

/* ---- PRNG (fixed seed: the same run every time) ----------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd32(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

static uint32_t rnd(uint32_t n)
{
    return n ? rnd32() % n : 0;
}

/* ---- the sink: what the app layer would see ----------------------------- */

#define STREAM_MAX ((size_t)64 * 1024)
#define CHUNKS_MAX 65536

struct chunk {
    uint8_t dir;
    uint32_t pos, n;
    uint32_t peer_pos; /* the peer's stream position when it was delivered */
};

struct gapev {
    uint8_t dir;
    uint32_t pos;
    uint64_t size;
    uint64_t pkt_no;
    bool at_flush;
};

struct sink {
    uint8_t out[2][STREAM_MAX];
    uint32_t pos[2]; /* bytes delivered plus bytes declared lost */
    struct chunk *chunks;
    size_t nchunks;
    struct gapev gaps[16];
    unsigned ngaps;
    unsigned overlaps;
    bool flushing;
};

static void k_data(void *user, unsigned dir, const uint8_t *p, size_t n,
                   const struct ms_seg_meta *m)
{
    struct sink *k = user;
    (void)m;
    assert_true(dir < 2);
    assert_true(n > 0);
    assert_true(k->pos[dir] + n <= STREAM_MAX);
    memcpy(k->out[dir] + k->pos[dir], p, n);
    assert_true(k->nchunks < CHUNKS_MAX);
    k->chunks[k->nchunks++] = (struct chunk){ (uint8_t)dir, k->pos[dir], (uint32_t)n,
                                              k->pos[dir ^ 1u] };
    k->pos[dir] += (uint32_t)n;
}

static void k_gap(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m)
{
    struct sink *k = user;
    assert_true(dir < 2);
    if (k->ngaps < 16)
        k->gaps[k->ngaps] = (struct gapev){ (uint8_t)dir, k->pos[dir], missing, m->pkt_no,
                                            k->flushing };
    k->ngaps++;
    assert_true(k->pos[dir] + missing <= STREAM_MAX);
    memset(k->out[dir] + k->pos[dir], 0, (size_t)missing);
    k->pos[dir] += (uint32_t)missing;
}

static void k_overlap(void *user, unsigned dir, uint32_t seq, const struct ms_seg_meta *m)
{
    struct sink *k = user;
    (void)dir;
    (void)seq;
    (void)m;
    k->overlaps++;
}

static const struct ms_stream_ops k_ops = { k_data, k_gap, k_overlap };

static struct sink *sink_new(void)
{
    struct sink *k = calloc(1, sizeof(*k));
    assert_non_null(k);
    k->chunks = calloc(CHUNKS_MAX, sizeof(*k->chunks));
    assert_non_null(k->chunks);
    return k;
}

static void sink_free(struct sink *k)
{
    free(k->chunks);
    free(k);
}

/* ---- a conversation ------------------------------------------------------ */

#define PKTS_MAX ((size_t)40000)
#define MSGS_MAX 16

struct gpkt {
    uint8_t dir, flags;
    bool ka;   /* a keepalive probe (kab: its garbage byte, if n) */
    bool orig; /* the first transmission of its bytes */
    uint8_t kab;
    uint32_t seq, ack;
    uint32_t off, n; /* the bytes: stream offset, length */
    uint64_t t;      /* when it was sent */
    uint64_t cap;    /* when the tap recorded it */
    uint32_t id;     /* the packet it is a copy of */
    uint32_t ord;    /* sort tie-break */
};

struct msg {
    uint8_t dir;
    uint32_t start, end;
    uint32_t req; /* peer bytes its sender had received */
};

struct conv {
    uint32_t isn[2];
    uint8_t stream[2][STREAM_MAX];
    uint32_t sent[2];  /* bytes sent */
    uint32_t recv[2];  /* peer bytes received */
    uint32_t acked[2]; /* own bytes the peer acknowledged (as far as known) */
    struct msg msgs[MSGS_MAX];
    unsigned nmsgs;
    struct gpkt *p; /* in the order sent */
    size_t np;
    uint64_t t;
    /* what to generate */
    bool retrans, keepalive;
    uint32_t mss;
};

static struct gpkt *emit(struct conv *c, unsigned dir, uint8_t flags, uint32_t seq, uint32_t ack,
                         uint32_t off, uint32_t n)
{
    assert_true(c->np < PKTS_MAX);
    c->t += 1 + rnd(10);
    struct gpkt *g = &c->p[c->np];
    memset(g, 0, sizeof(*g));
    g->dir = (uint8_t)dir;
    g->flags = flags;
    g->seq = seq;
    g->ack = ack;
    g->off = off;
    g->n = n;
    g->t = c->t;
    g->id = (uint32_t)c->np;
    c->np++;
    return g;
}

/* A segment of dir's bytes [off, off+n) with the ACK of what dir received. */
static struct gpkt *emit_data(struct conv *c, unsigned dir, uint32_t off, uint32_t n)
{
    if (c->recv[dir] > c->acked[dir ^ 1u])
        c->acked[dir ^ 1u] = c->recv[dir];
    return emit(c, dir, FL_ACK, c->isn[dir] + 1 + off, c->isn[dir ^ 1u] + 1 + c->recv[dir], off, n);
}

static void pure_ack(struct conv *c, unsigned dir)
{
    unsigned peer = dir ^ 1u;
    /* Some more of what the peer sent has arrived. */
    c->recv[dir] += rnd(c->sent[peer] - c->recv[dir] + 1);
    emit_data(c, dir, c->sent[dir], 0);
}

/* A spurious retransmission of unacknowledged bytes, cut anew. */
static void retransmit(struct conv *c, unsigned dir)
{
    if (c->acked[dir] >= c->sent[dir])
        return;
    uint32_t a = c->acked[dir] + rnd(c->sent[dir] - c->acked[dir]);
    uint32_t b = a + 1 + rnd(c->sent[dir] - a);
    unsigned pieces = 1 + rnd(3);
    while (a < b) {
        uint32_t n = pieces-- > 1 ? 1 + rnd(b - a) : b - a;
        emit_data(c, dir, a, n);
        a += n;
    }
}

/* A keepalive probe after an idle time: one byte below what was sent
 * (garbage, as Windows sends it) or no byte (as Linux does). */
static void keepalive(struct conv *c, unsigned dir)
{
    c->t += 1000;
    bool one = rnd(3) != 0;
    uint32_t seq = c->isn[dir] + c->sent[dir]; /* snd_nxt - 1 */
    struct gpkt *g = emit(c, dir, FL_ACK, seq, c->isn[dir ^ 1u] + 1 + c->recv[dir],
                          c->sent[dir] ? c->sent[dir] - 1 : 0, one ? 1 : 0);
    g->ka = true;
    g->kab = (uint8_t)(c->sent[dir] ? c->stream[dir][c->sent[dir] - 1] ^ 0x5a : 0x5a);
}

static void gen_conv(struct conv *c, bool retrans, bool ka)
{
    c->np = 0;
    c->nmsgs = 0;
    c->t = 0;
    memset(c->sent, 0, sizeof(c->sent));
    memset(c->recv, 0, sizeof(c->recv));
    memset(c->acked, 0, sizeof(c->acked));
    c->retrans = retrans;
    c->keepalive = ka;
    for (unsigned d = 0; d < 2; d++)
        c->isn[d] = rnd(4) == 0 ? 0xffffffffu - rnd(4000) : rnd32();
    c->mss = rnd(8) == 0 ? 1 + rnd(8) : 20 + rnd(1460);
    emit(c, C, FL_SYN, c->isn[C], 0, 0, 0);
    emit(c, S, FL_SYN | FL_ACK, c->isn[S], c->isn[C] + 1, 0, 0);
    emit_data(c, C, 0, 0);
    unsigned nmsg = 1 + rnd(MSGS_MAX - 2);
    unsigned a = rnd(3) ? S : C; /* mostly the server first (POP3, SMTP, IMAP) */
    for (unsigned k = 0; k < nmsg; k++) {
        unsigned b = a ^ 1u;
        c->recv[a] = c->sent[b]; /* a answers what it has read */
        if (c->keepalive && rnd(4) == 0)
            keepalive(c, rnd(2));
        uint32_t len = 1 + rnd(rnd(6) == 0 ? 3000 : 200);
        if (c->mss < 10 && len > 300)
            len = 300;
        if (c->sent[a] + len > STREAM_MAX - 16)
            break;
        for (uint32_t i = 0; i < len; i++)
            c->stream[a][c->sent[a] + i] = (uint8_t)(' ' + rnd(95));
        c->msgs[c->nmsgs++] = (struct msg){ (uint8_t)a, c->sent[a], c->sent[a] + len, c->recv[a] };
        uint32_t end = c->sent[a] + len;
        while (c->sent[a] < end) {
            uint32_t n = 1 + rnd(c->mss);
            if (n > end - c->sent[a])
                n = end - c->sent[a];
            emit_data(c, a, c->sent[a], n)->orig = true;
            c->sent[a] += n;
            if (rnd(3) == 0)
                pure_ack(c, b);
            if (c->retrans && rnd(5) == 0)
                retransmit(c, a);
        }
        if (c->retrans && rnd(3) == 0)
            retransmit(c, a);
        a = b;
    }
    /* The close: x first, y answers with its own FIN, x acknowledges. */
    unsigned x = rnd(2), y = x ^ 1u;
    c->recv[x] = c->sent[y];
    if (c->keepalive && rnd(4) == 0)
        keepalive(c, rnd(2));
    emit(c, x, FL_FIN | FL_ACK, c->isn[x] + 1 + c->sent[x], c->isn[y] + 1 + c->recv[x], 0, 0);
    c->recv[y] = c->sent[x];
    emit(c, y, FL_FIN | FL_ACK, c->isn[y] + 1 + c->sent[y], c->isn[x] + 2 + c->sent[x], 0, 0);
    emit(c, x, FL_ACK, c->isn[x] + 2 + c->sent[x], c->isn[y] + 2 + c->sent[y], 0, 0);
}

/* ---- the tap ----------------------------------------------------------- */

struct damage {
    uint32_t delay; /* (a) max per-direction delay (0: none) */
    bool swaps;     /* (b) */
    bool dups;      /* (c) */
};

static int cmp_cap(const void *x, const void *y)
{
    const struct gpkt *a = x, *b = y;
    if (a->cap != b->cap)
        return a->cap < b->cap ? -1 : 1;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

/* Writes the capture order of c's packets to out; returns its length. */
static size_t capture(const struct conv *c, const struct damage *dm, struct gpkt *out)
{
    size_t n = c->np;
    memcpy(out, c->p, n * sizeof(*out));
    /* (a) each direction's queue delayed independently, never reordered. */
    uint64_t last[2] = { 0, 0 };
    for (size_t i = 0; i < n; i++) {
        uint64_t cap = out[i].t + rnd(dm->delay + 1);
        if (cap < last[out[i].dir])
            cap = last[out[i].dir];
        last[out[i].dir] = cap;
        out[i].cap = cap;
        out[i].ord = (uint32_t)i;
    }
    qsort(out, n, sizeof(*out), cmp_cap);
    /* (b) local swaps of adjacent packets. Keepalives come after an idle
     * time, and a side's SYN at least a round trip before its first data:
     * a local swap moves neither past its own side's packets (the engine
     * starts a side seen without its SYN mid-stream). */
    if (dm->swaps) {
        for (size_t i = 0; i + 1 < n; i++) {
            bool same = out[i].dir == out[i + 1].dir;
            bool syn = (out[i].flags | out[i + 1].flags) & FL_SYN;
            if (rnd(4) == 0 && !out[i].ka && !out[i + 1].ka && !(same && syn)) {
                struct gpkt t = out[i];
                out[i] = out[i + 1];
                out[i + 1] = t;
                i++;
            }
        }
    }
    /* (c) every packet twice, the copy 0-3 packets later (a keepalive's
     * copy at once: a tap duplicates within microseconds, and a probe is
     * followed by idle time, not by its sender's next data). */
    if (dm->dups) {
        assert_true(2 * n <= PKTS_MAX * 2);
        for (size_t i = n; i-- > 0;) {
            out[2 * i] = out[i];
            out[2 * i].ord = (uint32_t)(8 * i);
            out[2 * i + 1] = out[i];
            out[2 * i + 1].ord = (uint32_t)(8 * i + 1 + (out[i].ka ? 0 : 8 * rnd(4)));
        }
        n *= 2;
        for (size_t i = 0; i < n; i++)
            out[i].cap = 0;
        qsort(out, n, sizeof(*out), cmp_cap);
    }
    return n;
}

/* ---- feeding ------------------------------------------------------------ */

static enum ms_tcp_state feed(struct ms_tcp_ctx *ctx, struct ms_tcp_session *s,
                              const struct conv *c, const struct gpkt *g, uint64_t pkt_no,
                              uint64_t ts_us)
{
    struct ms_pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts_us;
    p.seq = g->seq;
    p.ack = g->ack;
    p.tcp_flags = g->flags;
    p.payload_len = g->n;
    if (g->n)
        p.payload = g->ka ? &g->kab : c->stream[g->dir] + g->off;
    struct ms_seg_meta m = { ts_us, pkt_no, NULL };
    return ms_tcp_session_packet(ctx, s, g->dir, &p, &m);
}

static void flush(struct ms_tcp_ctx *ctx, struct ms_tcp_session *s, struct sink *k, uint64_t pkt_no)
{
    struct ms_seg_meta m = { 1000000ull * pkt_no, pkt_no, NULL };
    k->flushing = true;
    ms_tcp_session_flush(ctx, s, &m);
    k->flushing = false;
}

/* No byte of a message before every peer byte its sender had read. */
static void check_conversation_order(const struct conv *c, const struct sink *k)
{
    for (size_t i = 0; i < k->nchunks; i++) {
        const struct chunk *ch = &k->chunks[i];
        for (unsigned j = 0; j < c->nmsgs; j++) {
            const struct msg *mg = &c->msgs[j];
            if (mg->dir != ch->dir || mg->end <= ch->pos || mg->start >= ch->pos + ch->n)
                continue;
            if (ch->peer_pos < mg->req)
                fail_msg("dir %u bytes %u..%u delivered after %u peer bytes; their sender "
                         "had read %u",
                         ch->dir, ch->pos, ch->pos + ch->n, ch->peer_pos, mg->req);
        }
    }
}

static struct conv *conv_new(void)
{
    struct conv *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->p = calloc(PKTS_MAX, sizeof(*c->p));
    assert_non_null(c->p);
    return c;
}

static void conv_free(struct conv *c)
{
    free(c->p);
    free(c);
}

/* MS_TEST_DEBUG=N prints the capture of iteration N and what came out
 * (before the checks), MS_TEST_DEBUG=all a summary of the whole run. */
static bool debug_iter(int iter)
{
    const char *e = getenv("MS_TEST_DEBUG");
    return e && *e && strcmp(e, "all") != 0 && strtol(e, NULL, 10) == iter;
}

static void dump(const struct conv *c, const struct gpkt *cap, size_t n, const struct sink *k)
{
    fprintf(stderr, "isn client %u server %u; sent %u and %u bytes\n", c->isn[C], c->isn[S],
            c->sent[C], c->sent[S]);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%zu: id %u %s fl %02x seq %u (off %u) n %u ack %u%s t %llu\n", i + 1,
                cap[i].id, cap[i].dir == C ? "c>s" : "s>c", cap[i].flags, cap[i].seq, cap[i].off,
                cap[i].n, cap[i].ack, cap[i].ka ? " keepalive" : "", (unsigned long long)cap[i].t);
    for (size_t i = 0; i < k->nchunks; i++)
        fprintf(stderr, "chunk %s bytes %u..%u, peer at %u\n",
                k->chunks[i].dir == C ? "c>s" : "s>c", k->chunks[i].pos,
                k->chunks[i].pos + k->chunks[i].n, k->chunks[i].peer_pos);
    for (unsigned i = 0; i < k->ngaps && i < 16; i++)
        fprintf(stderr, "gap %s at %u size %llu (packet %llu)\n",
                k->gaps[i].dir == C ? "c>s" : "s>c", k->gaps[i].pos,
                (unsigned long long)k->gaps[i].size, (unsigned long long)k->gaps[i].pkt_no);
    fprintf(stderr, "%u overlap reports\n", k->overlaps);
}

/* ---- the model test ----------------------------------------------------- */

static void test_random_conversations(void **state)
{
    (void)state;
    struct conv *c = conv_new();
    struct gpkt *cap = calloc(2 * PKTS_MAX, sizeof(*cap));
    assert_non_null(cap);
    struct ms_limits lim = ms_limits_default();
    unsigned held_total = 0, keepalives = 0, overlaps = 0;
    size_t stat_pkts = 0, stat_bytes = 0;
    for (int iter = 0; iter < 2000; iter++) {
        /* Every kind of damage alone, and all of them together. */
        unsigned kinds = iter < 64 ? (unsigned)iter % 32 : rnd(32);
        bool all = rnd(2) == 0 && iter >= 64;
        if (all)
            kinds = 31;
        gen_conv(c, kinds & 8, kinds & 16);
        /* Delays of up to ~20 packets, sometimes ~300. */
        uint32_t delay = rnd(8) == 0 ? 2000 : 5 + rnd(120);
        struct damage dm = { (kinds & 1) ? delay : 0, (kinds & 2) != 0, (kinds & 4) != 0 };
        size_t n = capture(c, &dm, cap);
        stat_pkts += n;
        stat_bytes += c->sent[0] + c->sent[1];
        struct sink *k = sink_new();
        struct ms_tcp_ctx ctx;
        struct ms_tcp_session s;
        ms_tcp_ctx_init(&ctx, &lim, &k_ops);
        ms_tcp_session_init(&s, k);
        size_t done_at = 0;
        uint32_t at_done[2] = { 0, 0 };
        for (size_t i = 0; i < n; i++) {
            enum ms_tcp_state st = feed(&ctx, &s, c, &cap[i], i + 1, 1000000 + 10 * i);
            if (st == MS_TCP_DONE && !done_at) {
                done_at = i + 1;
                at_done[C] = k->pos[C];
                at_done[S] = k->pos[S];
                /* Stray copies after the end may still come (half of the
                 * time): they must change nothing. */
                if (iter & 1)
                    break;
            }
        }
        if (debug_iter(iter))
            dump(c, cap, n, k);
        if (!done_at)
            fail_msg("iter %d (kinds %u): never DONE; delivered %u/%u and %u/%u, gaps %u", iter,
                     kinds, k->pos[C], c->sent[C], k->pos[S], c->sent[S], k->ngaps);
        /* DONE only once everything was delivered. */
        if (at_done[C] != c->sent[C] || at_done[S] != c->sent[S])
            fail_msg("iter %d (kinds %u): DONE at packet %zu of %zu with %u/%u and %u/%u bytes",
                     iter, kinds, done_at, n, at_done[C], c->sent[C], at_done[S], c->sent[S]);
        flush(&ctx, &s, k, n + 1);
        if (k->ngaps || k->overlaps)
            fail_msg("iter %d (kinds %u): %u gaps (first dir %u at %u size %llu), %u overlaps",
                     iter, kinds, k->ngaps, k->gaps[0].dir, k->gaps[0].pos,
                     (unsigned long long)k->gaps[0].size, k->overlaps);
        for (unsigned d = 0; d < 2; d++) {
            assert_int_equal(k->pos[d], c->sent[d]);
            assert_memory_equal(k->out[d], c->stream[d], c->sent[d]);
        }
        check_conversation_order(c, k);
        assert_int_equal(ctx.budget.gaps, 0);
        assert_int_equal(ctx.budget.overlap_diff, 0);
        assert_int_equal(ctx.st.gate_released, 0);
        assert_int_equal(ctx.st.wait_expired, 0);
        assert_int_equal(ctx.budget.used, 0);
        assert_true(TAILQ_EMPTY(&ctx.waitq));
        held_total += ctx.budget.held > 0;
        keepalives += ctx.budget.keepalives > 0;
        overlaps += ctx.budget.overlaps > 0;
        ms_tcp_session_free(&ctx, &s);
        assert_int_equal(ctx.budget.window_mem, 0);
        sink_free(k);
    }
    /* The damage did what it is for: replies captured before requests,
     * keepalives, retransmissions. */
    if (getenv("MS_TEST_DEBUG") && strcmp(getenv("MS_TEST_DEBUG"), "all") == 0)
        fprintf(stderr, "held %u keepalives %u overlaps %u pkts %zu bytes %zu\n", held_total,
                keepalives, overlaps, stat_pkts, stat_bytes);
    assert_true(held_total > 500);
    assert_true(keepalives > 200);
    assert_true(overlaps > 500);
    free(cap);
    conv_free(c);
}

/* ---- loss --------------------------------------------------------------- */

/* Drops the packets whose id is drop (the original and its copies). */
static size_t drop_id(struct gpkt *cap, size_t n, uint32_t drop)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (cap[i].id != drop)
            cap[w++] = cap[i];
    return w;
}

static void check_one_gap(const struct conv *c, const struct sink *k, const struct gpkt *lost)
{
    if (k->ngaps != 1 || k->gaps[0].dir != lost->dir || k->gaps[0].pos != lost->off ||
        k->gaps[0].size != lost->n)
        fail_msg("lost dir %u bytes %u+%u; %u gaps, the first dir %u at %u size %llu", lost->dir,
                 lost->off, lost->n, k->ngaps, k->gaps[0].dir, k->gaps[0].pos,
                 (unsigned long long)k->gaps[0].size);
    assert_int_equal(k->overlaps, 0);
    for (unsigned d = 0; d < 2; d++) {
        assert_int_equal(k->pos[d], c->sent[d]);
        if (d != lost->dir) {
            assert_memory_equal(k->out[d], c->stream[d], c->sent[d]);
        } else {
            assert_memory_equal(k->out[d], c->stream[d], lost->off);
            assert_memory_equal(k->out[d] + lost->off + lost->n, c->stream[d] + lost->off + lost->n,
                                c->sent[d] - lost->off - lost->n);
        }
    }
}

/* One data segment never captured (nor any copy of it; no retransmission
 * brings its bytes back): with a window larger than the connection it is
 * a gap of exactly its size at flush; with a small window in packets (and
 * only local damage, which a small window tolerates) at the latest at
 * flush, usually before. Everything else is delivered. */
static void test_random_loss(void **state)
{
    (void)state;
    struct conv *c = conv_new();
    struct gpkt *cap = calloc(2 * PKTS_MAX, sizeof(*cap));
    assert_non_null(cap);
    unsigned before_flush = 0;
    for (int iter = 0; iter < 600; iter++) {
        bool small = iter & 1;
        struct ms_limits lim = ms_limits_default();
        if (small)
            lim.reasm_wait_pkts = 8;
        else
            lim.reasm_wait_pkts = 1000000;
        gen_conv(c, false, false);
        unsigned kinds = rnd(8);
        struct damage dm = { (!small && (kinds & 1)) ? 5 + rnd(120) : 0, (kinds & 2) != 0,
                             (kinds & 4) != 0 };
        /* The segment to lose. */
        uint32_t norig = 0, pick;
        for (size_t i = 0; i < c->np; i++)
            norig += c->p[i].orig;
        assert_true(norig > 0);
        pick = rnd(norig);
        const struct gpkt *lost = NULL;
        for (size_t i = 0; i < c->np && !lost; i++)
            if (c->p[i].orig && pick-- == 0)
                lost = &c->p[i];
        /* pick < norig: one of the norig segments is picked. cmocka's
         * asserts are not marked noreturn, so the analysers need the
         * abort() to see that a failed one ends the test. */
        assert_non_null(lost);
        if (!lost)
            abort();
        size_t n = capture(c, &dm, cap);
        n = drop_id(cap, n, lost->id);
        struct sink *k = sink_new();
        struct ms_tcp_ctx ctx;
        struct ms_tcp_session s;
        ms_tcp_ctx_init(&ctx, &lim, &k_ops);
        ms_tcp_session_init(&s, k);
        for (size_t i = 0; i < n; i++)
            feed(&ctx, &s, c, &cap[i], i + 1, 1000000 + 10 * i);
        flush(&ctx, &s, k, n + 1);
        if (debug_iter(iter))
            dump(c, cap, n, k);
        check_one_gap(c, k, lost);
        if (!small && !k->gaps[0].at_flush)
            fail_msg("iter %d: with a large window the gap came before flush", iter);
        before_flush += small && !k->gaps[0].at_flush;
        assert_int_equal(ctx.budget.used, 0);
        assert_true(TAILQ_EMPTY(&ctx.waitq));
        ms_tcp_session_free(&ctx, &s);
        sink_free(k);
    }
    assert_true(before_flush > 100);
    free(cap);
    conv_free(c);
}

/* Only one direction captured (asymmetric routing, a one-way SPAN): all of
 * it is delivered, no gap, with the default window or a small one. */
static void test_one_sided(void **state)
{
    (void)state;
    struct conv *c = conv_new();
    struct gpkt *cap = calloc(2 * PKTS_MAX, sizeof(*cap));
    assert_non_null(cap);
    for (int iter = 0; iter < 200; iter++) {
        unsigned side = iter & 1;
        struct ms_limits lim = ms_limits_default();
        if (iter & 2)
            lim.reasm_wait_pkts = 4;
        gen_conv(c, true, true);
        struct damage dm = { 0, rnd(2) == 0, rnd(2) == 0 };
        size_t n = capture(c, &dm, cap), w = 0;
        for (size_t i = 0; i < n; i++)
            if (cap[i].dir == side)
                cap[w++] = cap[i];
        n = w;
        struct sink *k = sink_new();
        struct ms_tcp_ctx ctx;
        struct ms_tcp_session s;
        ms_tcp_ctx_init(&ctx, &lim, &k_ops);
        ms_tcp_session_init(&s, k);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(feed(&ctx, &s, c, &cap[i], i + 1, 1000000 + 10 * i), MS_TCP_OPEN);
        flush(&ctx, &s, k, n + 1);
        assert_int_equal(k->ngaps, 0);
        assert_int_equal(k->overlaps, 0);
        assert_int_equal(k->pos[side], c->sent[side]);
        assert_memory_equal(k->out[side], c->stream[side], c->sent[side]);
        assert_int_equal(k->pos[side ^ 1u], 0);
        assert_int_equal(ctx.budget.used, 0);
        ms_tcp_session_free(&ctx, &s);
        sink_free(k);
    }
    free(cap);
    conv_free(c);
}

/* ---- hand-made connections ----------------------------------------------- */

struct hand {
    struct ms_tcp_ctx ctx;
    struct ms_tcp_session s;
    struct sink *k;
    uint64_t pkt;
    uint64_t ts;
};

static void hand_init(struct hand *h, const struct ms_limits *lim)
{
    h->k = sink_new();
    ms_tcp_ctx_init(&h->ctx, lim, &k_ops);
    ms_tcp_session_init(&h->s, h->k);
    h->pkt = 0;
    h->ts = 1000000;
}

static void hand_free(struct hand *h)
{
    ms_tcp_session_free(&h->ctx, &h->s);
    sink_free(h->k);
}

static enum ms_tcp_state hp(struct hand *h, unsigned dir, uint32_t seq, uint32_t ack, uint8_t flags,
                            const char *d)
{
    struct ms_pkt p;
    memset(&p, 0, sizeof(p));
    p.seq = seq;
    p.ack = ack;
    p.tcp_flags = flags;
    p.payload = (const uint8_t *)d;
    p.payload_len = d ? strlen(d) : 0;
    h->pkt++;
    h->ts += 1000;
    p.ts_us = h->ts;
    struct ms_seg_meta m = { h->ts, h->pkt, NULL };
    return ms_tcp_session_packet(&h->ctx, &h->s, dir, &p, &m);
}

static void assert_out(const struct sink *k, unsigned dir, const char *want)
{
    size_t n = strlen(want);
    if (k->pos[dir] != n || memcmp(k->out[dir], want, n) != 0)
        fail_msg("dir %u: got %u bytes \"%.*s\", want \"%s\"", dir, k->pos[dir], (int)k->pos[dir],
                 (const char *)k->out[dir], want);
}

#define CI 1000u /* client ISN */
#define SI 5000u /* server ISN */

/* A client segment captured after both FINs and the last ACK: it is still
 * delivered (and the server's reply held for it after it), and only then
 * is the connection DONE. */
static void test_late_segment_after_fins(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct hand h;
    hand_init(&h, &lim);
    assert_int_equal(hp(&h, C, CI, 0, FL_SYN, NULL), MS_TCP_OPEN);
    assert_int_equal(hp(&h, S, SI, CI + 1, FL_SYN | FL_ACK, NULL), MS_TCP_OPEN);
    assert_int_equal(hp(&h, C, CI + 1, SI + 1, FL_ACK, NULL), MS_TCP_OPEN);
    assert_int_equal(hp(&h, C, CI + 1, SI + 1, FL_ACK, "abc"), MS_TCP_OPEN);
    /* "def" at CI + 4 is late */
    assert_int_equal(hp(&h, C, CI + 7, SI + 1, FL_ACK, "ghi"), MS_TCP_OPEN);
    assert_int_equal(hp(&h, S, SI + 1, CI + 10, FL_ACK, "+OK"), MS_TCP_OPEN);
    assert_int_equal(hp(&h, C, CI + 10, SI + 4, FL_FIN | FL_ACK, NULL), MS_TCP_OPEN);
    assert_int_equal(hp(&h, S, SI + 4, CI + 11, FL_FIN | FL_ACK, NULL), MS_TCP_OPEN);
    assert_int_equal(hp(&h, C, CI + 11, SI + 5, FL_ACK, NULL), MS_TCP_OPEN);
    assert_out(h.k, C, "abc");
    assert_out(h.k, S, "");
    assert_int_equal(h.k->ngaps, 0);
    assert_int_equal(hp(&h, C, CI + 4, SI + 1, FL_ACK, "def"), MS_TCP_DONE);
    assert_out(h.k, C, "abcdefghi");
    assert_out(h.k, S, "+OK");
    assert_int_equal(h.k->ngaps, 0);
    assert_int_equal(h.k->nchunks, 4);
    assert_int_equal(h.k->chunks[3].dir, S);
    assert_int_equal(h.k->chunks[3].peer_pos, 9);
    assert_true(TAILQ_EMPTY(&h.ctx.waitq));
    hand_free(&h);
}

/* A hole ends after the window in packets of the connection, counted from
 * the packet at which delivery stalled: stalled at packet 5, window 4,
 * the gap is declared at packet 10, and what waited goes on. */
static void test_window_packets(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    lim.reasm_wait_pkts = 4;
    struct hand h;
    hand_init(&h, &lim);
    hp(&h, C, CI, 0, FL_SYN, NULL);
    hp(&h, S, SI, CI + 1, FL_SYN | FL_ACK, NULL);
    hp(&h, C, CI + 1, SI + 1, FL_ACK, NULL);
    hp(&h, C, CI + 1, SI + 1, FL_ACK, "s1."); /* packet 4 */
    /* s2. (CI + 4) never captured */
    static const char *const seg[] = { "s3.", "s4.", "s5.", "s6.", "s7.", "s8.", "s9." };
    for (unsigned i = 0; i < 7; i++) {
        hp(&h, C, CI + 7 + 3 * i, SI + 1, FL_ACK, seg[i]); /* packets 5..11 */
        if (h.pkt < 10) {
            assert_out(h.k, C, "s1.");
            assert_int_equal(h.k->ngaps, 0);
        } else if (h.pkt == 10) {
            assert_int_equal(h.k->ngaps, 1);
            assert_int_equal(h.k->gaps[0].size, 3);
            assert_int_equal(h.k->gaps[0].pos, 3);
            assert_int_equal(h.k->gaps[0].pkt_no, 10);
            assert_int_equal(h.k->pos[C], 3 + 3 + 3 * 6);
        }
    }
    assert_int_equal(h.k->pos[C], 3 + 3 + 3 * 7);
    assert_int_equal(h.ctx.st.wait_expired, 1);
    assert_true(TAILQ_EMPTY(&h.ctx.waitq));
    hand_free(&h);
}

/* The client's FIN was not captured, but the server's goodbye acknowledges
 * it (one past the client's last byte): once the window is over the
 * goodbye goes on, and no gap is invented for a FIN, which carries no byte. */
static void test_uncaptured_fin_no_gap(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    lim.reasm_wait_pkts = 2;
    struct hand h;
    hand_init(&h, &lim);
    hp(&h, C, CI, 0, FL_SYN, NULL);
    hp(&h, S, SI, CI + 1, FL_SYN | FL_ACK, NULL);
    hp(&h, C, CI + 1, SI + 1, FL_ACK, "QUIT\r\n");
    /* the client's FIN (CI + 7) never captured */
    hp(&h, S, SI + 1, CI + 8, FL_ACK, "+OK bye\r\n"); /* held: acks the FIN */
    assert_out(h.k, S, "");
    hp(&h, S, SI + 10, CI + 8, FL_ACK, NULL);
    hp(&h, S, SI + 10, CI + 8, FL_ACK, NULL);
    hp(&h, S, SI + 10, CI + 8, FL_ACK, NULL);
    assert_out(h.k, S, "+OK bye\r\n");
    assert_int_equal(h.k->ngaps, 0);
    assert_int_equal(h.ctx.st.ack_gaps, 0);
    hand_free(&h);
}

/* Found by review: with the per-direction cap full of segments waiting
 * behind a hole, a segment arriving between the hole and them made room by
 * skipping to the first waiting one, and was then dropped as old. Now the
 * hole before it goes: a 5-byte gap, then it and the rest in order. */
static void test_cap_keeps_segment_in_hand(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    lim.reasm_max_flow = 2 * ms_tcp_seg_cost(5);
    struct hand h;
    hand_init(&h, &lim);
    hp(&h, C, CI, 0, FL_SYN, NULL);
    hp(&h, S, SI, CI + 1, FL_SYN | FL_ACK, NULL);
    hp(&h, C, CI + 1, SI + 1, FL_ACK, "aaaaa");
    /* bbbbb (CI + 6) never captured */
    hp(&h, C, CI + 16, SI + 1, FL_ACK, "ddddd");
    hp(&h, C, CI + 21, SI + 1, FL_ACK, "eeeee"); /* the cap is full */
    hp(&h, C, CI + 11, SI + 1, FL_ACK, "ccccc"); /* in hand */
    assert_int_equal(h.k->ngaps, 1);
    assert_int_equal(h.k->gaps[0].size, 5);
    assert_int_equal(h.k->gaps[0].pos, 5);
    assert_int_equal(h.k->pos[C], 25); /* positions count the gap's bytes */
    assert_memory_equal(h.k->out[C], "aaaaa", 5);
    assert_memory_equal(h.k->out[C] + 10, "cccccdddddeeeee", 15);
    assert_int_equal(h.ctx.budget.overlaps, 0);
    hand_free(&h);
}

/* The server's reply acknowledges a client segment never captured: held
 * for it within the window, then the client's bytes are a gap (the ACK
 * says they were sent) and the reply goes on. */
static void test_window_packets_ack_gap(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    lim.reasm_wait_pkts = 3;
    struct hand h;
    hand_init(&h, &lim);
    hp(&h, C, CI, 0, FL_SYN, NULL);
    hp(&h, S, SI, CI + 1, FL_SYN | FL_ACK, NULL);
    hp(&h, C, CI + 1, SI + 1, FL_ACK, NULL);
    hp(&h, S, SI + 1, CI + 1, FL_ACK, "+OK hello\r\n");
    hp(&h, C, CI + 1, SI + 12, FL_ACK, "USER a\r\n");
    /* "PASS b\r\n" (CI + 9) never captured */
    hp(&h, S, SI + 12, CI + 17, FL_ACK, "+OK\r\n"); /* packet 6: held */
    hp(&h, C, CI + 17, SI + 17, FL_ACK, NULL);
    hp(&h, C, CI + 17, SI + 17, FL_ACK, NULL);
    hp(&h, S, SI + 17, CI + 17, FL_ACK, NULL);
    assert_out(h.k, S, "+OK hello\r\n");
    assert_int_equal(h.k->ngaps, 0);
    hp(&h, S, SI + 17, CI + 17, FL_ACK, NULL); /* packet 10 */
    assert_int_equal(h.k->ngaps, 1);
    assert_int_equal(h.k->gaps[0].dir, C);
    assert_int_equal(h.k->gaps[0].pos, 8);
    assert_int_equal(h.k->gaps[0].size, 8);
    assert_int_equal(h.k->gaps[0].pkt_no, 10);
    assert_out(h.k, S, "+OK hello\r\n+OK\r\n");
    assert_int_equal(h.ctx.st.ack_gaps, 1);
    hand_free(&h);
}

static void tpkt(struct ms_tcp_ctx *ctx, struct ms_tcp_session *s, struct ms_seg_meta *m,
                 unsigned dir, uint32_t seq, uint32_t ack, uint8_t flags, const char *d,
                 uint64_t ts)
{
    struct ms_pkt p;
    memset(&p, 0, sizeof(p));
    p.seq = seq;
    p.ack = ack;
    p.tcp_flags = flags;
    p.payload = (const uint8_t *)d;
    p.payload_len = d ? strlen(d) : 0;
    p.ts_us = ts;
    m->ts_us = ts;
    m->pkt_no++;
    ms_tcp_session_packet(ctx, s, dir, &p, m);
}

/* The window in time: ms_tcp_ctx_overdue names the session once wait_us
 * has passed since delivery stalled (not at exactly wait_us), oldest stall
 * first; ms_tcp_session_expire ends the wait with an exact gap. */
static void test_window_time(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    lim.reasm_wait_pkts = 1000000;
    lim.reasm_wait_us = 2000000;
    struct sink *k1 = sink_new(), *k2 = sink_new();
    struct ms_tcp_ctx ctx;
    struct ms_tcp_session s1, s2;
    ms_tcp_ctx_init(&ctx, &lim, &k_ops);
    ms_tcp_session_init(&s1, k1);
    ms_tcp_session_init(&s2, k2);
    struct ms_seg_meta m = { 0, 0, NULL };
    const char *none = NULL;
    tpkt(&ctx, &s1, &m, C, CI, 0, FL_SYN, none, 1000000);
    tpkt(&ctx, &s1, &m, S, SI, CI + 1, FL_SYN | FL_ACK, none, 1000100);
    tpkt(&ctx, &s1, &m, C, CI + 1, SI + 1, FL_ACK, "abc", 1000200);
    tpkt(&ctx, &s1, &m, C, CI + 7, SI + 1, FL_ACK, "ghi", 1000300); /* s1 stalls at 1000300 */
    tpkt(&ctx, &s2, &m, C, CI, 0, FL_SYN, none, 1500000);
    tpkt(&ctx, &s2, &m, S, SI, CI + 1, FL_SYN | FL_ACK, none, 1500100);
    tpkt(&ctx, &s2, &m, C, CI + 5, SI + 1, FL_ACK, "xyz", 1500200); /* s2 stalls at 1500200 */
    tpkt(&ctx, &s1, &m, S, SI + 1, CI + 10, FL_ACK, none, 2000000); /* no progress: still 1000300 */
    assert_ptr_equal(TAILQ_FIRST(&ctx.waitq), &s1);
    assert_null(ms_tcp_ctx_overdue(&ctx, 2900000));
    assert_null(ms_tcp_ctx_overdue(&ctx, 3000300)); /* exactly wait_us */
    assert_ptr_equal(ms_tcp_ctx_overdue(&ctx, 3000301), &s1);
    m.pkt_no = 77;
    m.ts_us = 3000301;
    assert_int_equal(ms_tcp_session_expire(&ctx, &s1, &m, m.ts_us), MS_TCP_OPEN);
    assert_int_equal(k1->ngaps, 1);
    assert_int_equal(k1->gaps[0].pos, 3);
    assert_int_equal(k1->gaps[0].size, 3);
    assert_int_equal(k1->gaps[0].pkt_no, 77);
    assert_int_equal(k1->pos[C], 9);
    assert_memory_equal(k1->out[C] + 6, "ghi", 3);
    /* s1 waits for nothing now; s2 is next, not before its own time. */
    assert_ptr_equal(TAILQ_FIRST(&ctx.waitq), &s2);
    assert_null(ms_tcp_ctx_overdue(&ctx, 3500200));
    assert_ptr_equal(ms_tcp_ctx_overdue(&ctx, 3500201), &s2);
    m.pkt_no = 78;
    ms_tcp_session_expire(&ctx, &s2, &m, m.ts_us);
    assert_int_equal(k2->ngaps, 1);
    assert_int_equal(k2->gaps[0].size, 4);
    assert_int_equal(k2->pos[C], 7);
    assert_true(TAILQ_EMPTY(&ctx.waitq));
    assert_null(ms_tcp_ctx_overdue(&ctx, UINT64_MAX));
    assert_int_equal(ctx.st.wait_expired, 2);
    ms_tcp_session_free(&ctx, &s1);
    ms_tcp_session_free(&ctx, &s2);
    sink_free(k1);
    sink_free(k2);
}

/* RST: its own data is not used; bytes sent before it may still come (a
 * tap records them later), up to what it acknowledged; then DONE. */
static void test_rst_with_late_data(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct hand h;
    hand_init(&h, &lim);
    hp(&h, C, CI, 0, FL_SYN, NULL);
    hp(&h, S, SI, CI + 1, FL_SYN | FL_ACK, NULL);
    hp(&h, C, CI + 1, SI + 1, FL_ACK, "abc");
    hp(&h, C, CI + 7, SI + 1, FL_ACK, "ghi");
    assert_int_equal(hp(&h, S, SI + 1, CI + 10, FL_RST | FL_ACK, "junk"), MS_TCP_OPEN);
    assert_int_equal(hp(&h, C, CI + 4, SI + 1, FL_ACK, "def"), MS_TCP_DONE);
    assert_out(h.k, C, "abcdefghi");
    assert_out(h.k, S, "");
    assert_int_equal(h.k->ngaps, 0);
    hand_free(&h);

    /* Nothing missing: DONE at once. */
    hand_init(&h, &lim);
    hp(&h, C, CI, 0, FL_SYN, NULL);
    hp(&h, S, SI, CI + 1, FL_SYN | FL_ACK, NULL);
    hp(&h, C, CI + 1, SI + 1, FL_ACK, "abc");
    assert_int_equal(hp(&h, C, CI + 4, SI + 1, FL_RST | FL_ACK, NULL), MS_TCP_DONE);
    assert_out(h.k, C, "abc");
    hand_free(&h);
}

int main(void)
{
    /* MS_TEST_SEED=N: another fixed run (to explore; the default is fixed). */
    const char *seed = getenv("MS_TEST_SEED");
    if (seed && *seed)
        rng = strtoull(seed, NULL, 0) | 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_conversations),
        cmocka_unit_test(test_random_loss),
        cmocka_unit_test(test_one_sided),
        cmocka_unit_test(test_late_segment_after_fins),
        cmocka_unit_test(test_window_packets),
        cmocka_unit_test(test_window_packets_ack_gap),
        cmocka_unit_test(test_uncaptured_fin_no_gap),
        cmocka_unit_test(test_cap_keeps_segment_in_hand),
        cmocka_unit_test(test_window_time),
        cmocka_unit_test(test_rst_with_late_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
