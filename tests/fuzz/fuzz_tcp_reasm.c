/* Fuzz target for one direction of TCP reassembly on its own
 * (capture/tcp_reasm.c), against a model of its promise: bytes come out in
 * sequence order, each at most once, and where segments overlap the first
 * copy kept wins (README "Streams"; tcp_reasm.h). Gaps are allowed; a byte
 * delivered that was never kept there, kept differently, or delivered
 * twice aborts, and so do memory left over or a cap passed.
 *
 * Byte 0: bits 0-1 the per-half cap (1 MiB, 2048, 600, 150 bytes), bits
 * 2-3 the window of delivered bytes kept to compare retransmissions (0,
 * 64, 2048, 7), bit 4 a SYN first, bit 5 a global cap of 1000 bytes. Then
 * 5-byte records, r[0] & 7 saying what:
 *
 *   0-3  a segment: offset r[1..2] (12 bits, little endian), length r[3],
 *        then that many payload bytes from the input; r[0] bit 3: held
 *        back (the gate is closed), bit 4: has ACK r[4] * 16
 *   4    pump: gate r[1] % 3 (open, ACK, shut) at r[2..3]
 *   5    the wait window is over: the first wait ends as tcp_session.c
 *        ends it (a hole becomes a gap, a held segment is let go)
 *   6    FIN at offset r[1..2]
 *   7    r[0] bit 3: the peer's RST acknowledging up to offset r[1..2];
 *        else a SYN putting the stream start at that offset
 *
 * Offsets are from BASE, so sequence numbers wrap inside the stream. The
 * model knows, for each offset, the byte the first kept copy put there:
 * after a segment is offered, the offsets it covered from the start of the
 * stream (the half's next_seq as the segment found it, moved back when a
 * mid-stream start was) up to its FIN or RST limit take its bytes unless
 * an earlier copy holds them. A keepalive probe keeps nothing. A segment
 * that a cap (or a failed allocation) left partly stored makes its
 * offsets uncertain: a byte delivered there need only be one the input
 * offered there. Deliveries are checked once the model knows the segment
 * they came from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/tcp_reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE 0xfffff800u /* offset 0; sequence numbers wrap at 2048 */
#define PEER 0x40000000u /* the peer's sequence space, for ACKs */
#define MODEL_N (4096 + 256)

enum { UNSET = 0, KEPT, UNCERTAIN };

struct model {
    uint8_t state[MODEL_N];
    uint8_t value[MODEL_N];       /* KEPT: the first copy's byte */
    uint8_t offered[MODEL_N][32]; /* every byte offered at each offset */
    bool delivered[MODEL_N];
    uint32_t pend_off[MODEL_N]; /* delivered, not yet checked */
    uint8_t pend_val[MODEL_N];
    size_t npend;
};

/* Static: too big for the stack, and reset for each input. */
static struct model M;

struct harness {
    struct ms_tcp_half h;
    struct ms_reasm_budget b;
    struct ms_stream_out out;
    const uint8_t *cur; /* the segment being offered, for the overlap check */
    uint32_t cur_seq;
    size_t cur_n;
};

static uint32_t model_off(uint32_t seq, size_t n)
{
    uint32_t o = seq - BASE;
    if (o > MODEL_N || n > MODEL_N - o)
        abort(); /* delivered where no segment ever was */
    return o;
}

static void on_data(void *user, unsigned dir, const uint8_t *p, size_t n,
                    const struct ms_seg_meta *m)
{
    struct harness *t = user;
    (void)dir;
    (void)m;
    if (n == 0)
        abort();
    /* deliver() has already moved next_seq past the chunk. */
    uint32_t o = model_off(t->h.next_seq - (uint32_t)n, n);
    for (size_t i = 0; i < n; i++) {
        if (M.delivered[o + i])
            abort();
        M.delivered[o + i] = true;
        M.pend_off[M.npend] = o + (uint32_t)i;
        M.pend_val[M.npend++] = p[i];
    }
}

static void on_gap(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m)
{
    (void)user;
    (void)dir;
    (void)m;
    if (missing == 0)
        abort();
}

/* A reported difference must be one: where the model knows the first
 * copy, the segment's byte there differs from it. */
static void on_overlap(void *user, unsigned dir, uint32_t seq, const struct ms_seg_meta *m)
{
    struct harness *t = user;
    (void)dir;
    (void)m;
    uint32_t i = seq - t->cur_seq, o = seq - BASE;
    if (!t->cur || i >= t->cur_n || o >= MODEL_N)
        abort();
    if (M.state[o] == KEPT && M.value[o] == t->cur[i])
        abort();
}

static void check_pending(void)
{
    for (size_t k = 0; k < M.npend; k++) {
        uint32_t o = M.pend_off[k];
        uint8_t v = M.pend_val[k];
        bool ok = M.state[o] == KEPT        ? M.value[o] == v
                  : M.state[o] == UNCERTAIN ? (M.offered[o][v >> 3] >> (v & 7)) & 1
                                            : false;
        if (!ok)
            abort();
        M.state[o] = KEPT;
        M.value[o] = v;
    }
    M.npend = 0;
}

static void check_budget(const struct harness *t)
{
    if (t->b.used != t->h.seg_bytes || t->h.seg_bytes > t->b.max_half || t->b.used > t->b.max_total)
        abort();
}

static void pump_open(struct harness *t)
{
    ms_tcp_half_pump(&t->h, &t->b, MS_GATE_OPEN, 0, &t->out);
}

/* Ends the first wait, as tcp_session.c does when its window is over or a
 * cap needs room. False when nothing waits. */
static bool force_one(struct harness *t, const struct ms_seg_meta *m)
{
    struct ms_tcp_wait w;
    if (!ms_tcp_half_first(&t->h, &w))
        return false;
    if (w.at_hole)
        ms_tcp_half_skip(&t->h, &t->b, w.seq, m, &t->out);
    else
        ms_tcp_half_ungate_first(&t->h);
    pump_open(t);
    return true;
}

/* Seq comparisons are modulo 2^32; these are the ends of a kept range. */
static uint32_t seq_max(uint32_t a, uint32_t b)
{
    return MS_SEQ_GT(a, b) ? a : b;
}

static uint32_t seq_min(uint32_t a, uint32_t b)
{
    return MS_SEQ_LT(a, b) ? a : b;
}

static void segment(struct harness *t, const uint8_t *r, const uint8_t *p, size_t n,
                    const struct ms_seg_meta *m)
{
    struct ms_tcp_half *h = &t->h;
    struct ms_tcp_segin in = { .seq = BASE + ((uint32_t)(r[1] | r[2] << 8) & 0xfffu),
                               .p = p,
                               .n = n,
                               .has_ack = (r[0] & 0x10) != 0,
                               .ack = PEER + r[4] * 16u,
                               .meta = *m };
    bool gate_open = !(r[0] & 0x08);
    uint32_t o0 = in.seq - BASE;
    for (size_t i = 0; i < n; i++)
        M.offered[o0 + i][p[i] >> 3] |= (uint8_t)(1u << (p[i] & 7));

    bool was_started = h->started;
    uint32_t start = was_started ? h->next_seq : in.seq, rewound = h->rewound;
    uint64_t keepalives = t->b.keepalives;
    t->cur = p;
    t->cur_seq = in.seq;
    t->cur_n = n;
    struct ms_tcp_put_ctx c = { 0 };
    enum ms_rc rc = ms_tcp_half_put(h, &t->b, &in, gate_open, &c, &t->out);
    /* A cap left no room: make some as tcp_session.c does (this segment's
     * own hole first), and offer it again. */
    for (int tries = 0; rc == MS_ERR_LIMIT && tries < 1000; tries++) {
        struct ms_tcp_wait w;
        if (MS_SEQ_GT(in.seq, h->next_seq) && ms_tcp_half_first(h, &w) && w.at_hole &&
            MS_SEQ_LT(in.seq, w.seq)) {
            ms_tcp_half_skip(h, &t->b, in.seq, m, &t->out);
            pump_open(t);
        } else if (!force_one(t, m)) {
            if (MS_SEQ_GT(in.seq, h->next_seq))
                ms_tcp_half_skip(h, &t->b, in.seq, m, &t->out);
            gate_open = true;
        }
        rc = ms_tcp_half_put(h, &t->b, &in, gate_open, &c, &t->out);
    }
    t->cur = NULL;

    if (n > 0 && t->b.keepalives == keepalives) {
        /* What the half could take: from the stream start as the segment
         * found it (moved back if it rewound a mid-stream start) up to the
         * end, a FIN or the peer's RST. */
        uint32_t from = seq_max(in.seq, start - (h->rewound - rewound));
        uint32_t to = in.seq + (uint32_t)n;
        if (h->fin)
            to = seq_min(to, h->fin_seq);
        if (h->reset_limit)
            to = seq_min(to, h->limit_seq);
        for (uint32_t s = from; MS_SEQ_LT(s, to); s++) {
            uint32_t o = s - BASE;
            if (M.state[o] != UNSET)
                continue;
            M.state[o] = rc == MS_OK ? KEPT : UNCERTAIN;
            M.value[o] = p[s - in.seq];
        }
    }
    check_pending();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t halves[4] = { 1u << 20, 2048, 600, 150 };
    static const size_t windows[4] = { 0, 64, 2048, 7 };
    if (size < 1)
        return 0;
    memset(&M, 0, sizeof(M));
    struct harness t;
    memset(&t, 0, sizeof(t));
    ms_tcp_half_init(&t.h);
    t.b.max_half = halves[data[0] & 3u];
    t.b.max_total = (data[0] & 0x20) ? 1000 : 1u << 24;
    t.b.window = windows[data[0] >> 2 & 3u];
    t.out = (struct ms_stream_out){ on_data, on_gap, on_overlap, &t, 0 };
    if (data[0] & 0x10)
        ms_tcp_half_syn(&t.h, BASE - 1);
    struct ms_seg_meta m = { 0, 0, NULL };
    size_t at = 1;
    while (at + 5 <= size) {
        const uint8_t *r = data + at;
        uint32_t seq = BASE + ((uint32_t)(r[1] | r[2] << 8) & 0xfffu);
        at += 5;
        m.pkt_no++;
        m.ts_us += 100;
        switch (r[0] & 7u) {
        case 4:
            ms_tcp_half_pump(&t.h, &t.b, (enum ms_gate)(r[1] % 3u),
                             PEER + (uint32_t)(r[2] | r[3] << 8), &t.out);
            break;
        case 5:
            force_one(&t, &m);
            break;
        case 6:
            ms_tcp_half_fin(&t.h, seq);
            break;
        case 7:
            if (r[0] & 0x08)
                ms_tcp_half_reset_at(&t.h, seq);
            else
                ms_tcp_half_syn(&t.h, seq - 1);
            break;
        default: {
            size_t n = r[3] < size - at ? r[3] : size - at;
            segment(&t, r, data + at, n, &m);
            at += n;
            break;
        }
        }
        check_pending();
        check_budget(&t);
    }
    /* The end of the connection, as ms_tcp_session_flush ends a half: with
     * the gate open only holes can hold anything back; each becomes a gap,
     * then the bytes missing before the FIN or the RST's limit. */
    m.pkt_no++;
    for (;;) {
        struct ms_tcp_wait w;
        pump_open(&t);
        if (!ms_tcp_half_first(&t.h, &w))
            break;
        if (!w.at_hole)
            abort();
        ms_tcp_half_skip(&t.h, &t.b, w.seq, &m, &t.out);
    }
    uint32_t upto;
    if (ms_tcp_half_end_hole(&t.h, &upto))
        ms_tcp_half_skip(&t.h, &t.b, upto, &m, &t.out);
    check_pending();
    ms_tcp_half_free(&t.h, &t.b);
    if (t.b.used != 0 || t.b.window_mem != 0)
        abort();
    return 0;
}
