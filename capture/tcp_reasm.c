#include "tcp_reasm.h"

#include <stdlib.h>
/* libbsd's tree.h (OpenBSD's red-black tree macros) marks the static
 * functions it generates __unused, which glibc does not define. */
#ifndef __unused
#define __unused __attribute__((unused))
#endif
#include <bsd/sys/tree.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/limits.h"

#define SEQ_LT MS_SEQ_LT
#define SEQ_LEQ MS_SEQ_LEQ
#define SEQ_GT MS_SEQ_GT

struct ms_tcp_seg {
    RB_ENTRY(ms_tcp_seg) rb;
    uint64_t off; /* stream offset of data[0] */
    uint32_t len;
    uint32_t ack;
    bool has_ack; /* waits for the peer to reach ack */
    struct ms_seg_meta meta;
    uint8_t data[];
};

static int seg_cmp(const struct ms_tcp_seg *a, const struct ms_tcp_seg *b)
{
    return a->off < b->off ? -1 : a->off > b->off;
}

RB_GENERATE_STATIC(ms_tcp_segtree, ms_tcp_seg, rb, seg_cmp)

/* What a buffered segment costs against the caps: its bytes plus its
 * header and the allocator's, so a flood of 1-byte segments is bounded
 * by memory, not by payload. */
#define SEG_OVERHEAD (sizeof(struct ms_tcp_seg) + 16)

/* Offsets start here so that a half started mid-stream can move its start
 * back (a segment from before the first one seen) without going below 0. */
#define OFF_BASE (1ull << 40)

void ms_tcp_half_init(struct ms_tcp_half *h)
{
    memset(h, 0, sizeof(*h));
    RB_INIT(&h->segs);
    h->next_off = OFF_BASE;
}

void ms_tcp_half_syn(struct ms_tcp_half *h, uint32_t isn)
{
    /* A retransmitted (or forged) SYN must not rewind a stream already
     * flowing, nor move next_seq past or onto data already waiting. */
    if (h->started && (h->delivered > 0 || h->nsegs > 0 || h->skipped))
        return;
    h->started = true;
    h->syn = true;
    h->isn = isn;
    h->next_seq = isn + 1;
}

void ms_tcp_half_fin(struct ms_tcp_half *h, uint32_t seq)
{
    if (h->fin)
        return;
    h->fin = true;
    h->fin_seq = seq;
}

/* Stream offset of seq, which must not lie more than 2^31 from next_seq. */
static uint64_t off_of(const struct ms_tcp_half *h, uint32_t seq)
{
    return h->next_off + (uint64_t)(int64_t)(int32_t)(seq - h->next_seq);
}

/* ---- window of delivered bytes (for comparing retransmissions) -------- */

static void win_put(struct ms_tcp_half *h, struct ms_reasm_budget *b, const uint8_t *p, size_t n)
{
    size_t w = b->window;
    if (w == 0 || n == 0)
        return;
    if (!h->win) {
        /* Allocated only once the half carries data: a flood of
         * handshakes costs nothing here. */
        h->win = ms_malloc(w);
        if (!h->win)
            return;
        b->window_mem += w;
    }
    uint64_t idx = h->delivered;
    if (n > w) {
        idx += n - w;
        p += n - w;
        n = w;
    }
    h->win_valid = (uint32_t)((size_t)h->win_valid + n > w ? w : h->win_valid + n);
    while (n > 0) {
        size_t pos = (size_t)(idx % w);
        size_t take = w - pos < n ? w - pos : n;
        memcpy(h->win + pos, p, take);
        idx += take;
        p += take;
        n -= take;
    }
}

/* Compares [seq, seq+n), which lies before next_seq, with what was
 * delivered, as far as the window reaches. */
static bool win_differs(const struct ms_tcp_half *h, const struct ms_reasm_budget *b, uint32_t seq,
                        const uint8_t *p, size_t n, uint32_t *where)
{
    if (!h->win || h->win_valid == 0)
        return false;
    uint32_t back = h->next_seq - seq;
    if (back > h->win_valid) {
        uint32_t skip = back - h->win_valid;
        if (skip >= n)
            return false;
        seq += skip;
        p += skip;
        n -= skip;
        back = h->win_valid;
    }
    uint64_t idx = h->delivered - back;
    for (size_t i = 0; i < n; i++) {
        if (h->win[(idx + i) % b->window] != p[i]) {
            *where = seq + (uint32_t)i;
            return true;
        }
    }
    return false;
}

/* ---- overlaps --------------------------------------------------------- */

struct put {
    struct ms_tcp_put_ctx *c;
    const struct ms_stream_out *out;
    const struct ms_seg_meta *meta;
};

static void note_overlap(struct ms_reasm_budget *b, struct put *u)
{
    if (!u->c->overlap_counted) {
        u->c->overlap_counted = true;
        b->overlaps++;
    }
}

static void note_diff(struct ms_reasm_budget *b, struct put *u, uint32_t where)
{
    if (u->c->diff_reported)
        return;
    u->c->diff_reported = true;
    b->overlap_diff++;
    if (u->out->overlap)
        u->out->overlap(u->out->user, u->out->dir, where, u->meta);
}

/* Compares an overlap of new bytes with a buffered first copy. */
static void compare_copy(struct ms_reasm_budget *b, struct put *u, uint32_t seq,
                         const uint8_t *first, const uint8_t *p, size_t n)
{
    note_overlap(b, u);
    if (u->c->diff_reported || memcmp(first, p, n) == 0)
        return;
    size_t i = 0;
    while (first[i] == p[i])
        i++;
    note_diff(b, u, seq + (uint32_t)i);
}

/* ---- delivery --------------------------------------------------------- */

static void deliver(struct ms_tcp_half *h, struct ms_reasm_budget *b, const uint8_t *p, size_t n,
                    const struct ms_seg_meta *m, const struct ms_stream_out *out)
{
    win_put(h, b, p, n);
    h->next_seq += (uint32_t)n;
    h->next_off += n;
    h->delivered += n;
    out->data(out->user, out->dir, p, n, m);
}

static void seg_remove(struct ms_tcp_half *h, struct ms_reasm_budget *b, struct ms_tcp_seg *s)
{
    RB_REMOVE(ms_tcp_segtree, &h->segs, s);
    h->nsegs--;
    h->seg_bytes -= s->len + SEG_OVERHEAD;
    b->used -= s->len + SEG_OVERHEAD;
    ms_free(s);
}

bool ms_tcp_half_pump(struct ms_tcp_half *h, struct ms_reasm_budget *b, enum ms_gate g,
                      uint32_t gate, const struct ms_stream_out *out)
{
    bool moved = false;
    struct ms_tcp_seg *s;
    while ((s = RB_MIN(ms_tcp_segtree, &h->segs)) && s->off <= h->next_off) {
        uint64_t end = s->off + s->len;
        if (end <= h->next_off) {
            seg_remove(h, b, s); /* wholly behind: can only follow a skip */
            continue;
        }
        if (s->has_ack && (g == MS_GATE_SHUT || (g == MS_GATE_ACK && SEQ_GT(s->ack, gate))))
            break;
        size_t skip = (size_t)(h->next_off - s->off);
        /* Unlinked before the callback: it may end up freeing the half. */
        RB_REMOVE(ms_tcp_segtree, &h->segs, s);
        h->nsegs--;
        h->seg_bytes -= s->len + SEG_OVERHEAD;
        b->used -= s->len + SEG_OVERHEAD;
        deliver(h, b, s->data + skip, s->len - skip, &s->meta, out);
        ms_free(s);
        moved = true;
    }
    return moved;
}

void ms_tcp_half_skip(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t upto,
                      const struct ms_seg_meta *m, const struct ms_stream_out *out)
{
    if (!h->started || !SEQ_GT(upto, h->next_seq))
        return;
    uint32_t missing = upto - h->next_seq;
    b->gaps++;
    b->gap_bytes += missing;
    h->next_seq = upto;
    h->next_off += missing;
    h->skipped = true;
    h->win_valid = 0; /* the bytes just before next_seq were never seen */
    out->gap(out->user, out->dir, missing, m);
}

bool ms_tcp_half_first(const struct ms_tcp_half *h, struct ms_tcp_wait *w)
{
    struct ms_tcp_seg *s = RB_MIN(ms_tcp_segtree, (struct ms_tcp_segtree *)&h->segs);
    if (!s)
        return false;
    w->at_hole = s->off > h->next_off;
    w->seq = h->next_seq + (uint32_t)(s->off - h->next_off);
    if (!w->at_hole)
        w->seq = h->next_seq;
    w->has_ack = s->has_ack;
    w->ack = s->ack;
    w->pkt_no = s->meta.pkt_no;
    return true;
}

void ms_tcp_half_ungate_first(struct ms_tcp_half *h)
{
    struct ms_tcp_seg *s = RB_MIN(ms_tcp_segtree, &h->segs);
    if (s)
        s->has_ack = false;
}

uint32_t ms_tcp_half_ack_point(const struct ms_tcp_half *h)
{
    return h->next_seq + (h->fin && h->next_seq == h->fin_seq ? 1u : 0u);
}

bool ms_tcp_half_end_plausible(const struct ms_tcp_half *h, uint32_t seq, uint32_t window)
{
    if (!h->started)
        return true;
    if (SEQ_LT(seq, h->next_seq))
        return false;
    uint32_t seen = h->seen_data && SEQ_GT(h->seen_end, h->next_seq) ? h->seen_end : h->next_seq;
    return !SEQ_GT(seq, seen + window);
}

void ms_tcp_half_reset_at(struct ms_tcp_half *h, uint32_t ack)
{
    if (h->reset_limit)
        return;
    h->reset_limit = true;
    h->limit_seq = ack;
}

bool ms_tcp_half_end_hole(const struct ms_tcp_half *h, uint32_t *upto)
{
    if (!h->started)
        return false;
    if (h->fin && SEQ_LT(h->next_seq, h->fin_seq)) {
        *upto = h->fin_seq;
        return true;
    }
    /* The ack covers the FIN too when there was one: one short is whole. */
    if (h->reset_limit && !h->fin && SEQ_LT(h->next_seq + 1, h->limit_seq)) {
        *upto = h->limit_seq - 1;
        return true;
    }
    return false;
}

/* ---- storage ---------------------------------------------------------- */

/* A copy of bytes already waiting: they were sent no later than the
 * earliest copy's ACK says (a retransmission carries a later one, a forged
 * copy may carry any), so the waiting segment keeps the lowest. */
static void lower_gate(struct ms_tcp_seg *s, const struct ms_tcp_segin *in, bool gated)
{
    if (!gated || !in->has_ack)
        s->has_ack = false;
    else if (s->has_ack && SEQ_LT(in->ack, s->ack))
        s->ack = in->ack;
}

/* Stores [off, off+n) where no segment is, keeping bytes already stored
 * (first copy wins, compared) and storing only the parts not yet covered.
 * MS_ERR_LIMIT when a cap stopped it, MS_ERR_NOMEM when memory did; what
 * was stored so far stays. */
static enum ms_rc store(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint64_t off,
                        const uint8_t *p, size_t n, const struct ms_tcp_segin *in, bool gated,
                        struct put *u)
{
    struct ms_tcp_seg key = { .off = off }; /* seg_cmp reads off only */
    /* The segment that starts at or before off may cover its front. */
    struct ms_tcp_seg *succ = RB_NFIND(ms_tcp_segtree, &h->segs, &key);
    struct ms_tcp_seg *pred = succ ? RB_PREV(ms_tcp_segtree, &h->segs, succ)
                                   : RB_MAX(ms_tcp_segtree, &h->segs);
    if (succ && succ->off == off) {
        pred = succ;
        succ = RB_NEXT(ms_tcp_segtree, &h->segs, succ);
    }
    if (pred && pred->off + pred->len > off) {
        size_t covered = (size_t)(pred->off + pred->len - off);
        if (covered > n)
            covered = n;
        compare_copy(b, u, in->seq + (uint32_t)(off - off_of(h, in->seq)),
                     pred->data + (off - pred->off), p, covered);
        lower_gate(pred, in, gated);
        off += covered;
        p += covered;
        n -= covered;
    }
    while (n > 0) {
        /* succ: the first stored segment starting after off. */
        size_t piece = n;
        if (succ && succ->off < off + n)
            piece = (size_t)(succ->off - off);
        if (piece > 0) {
            size_t cost = piece + SEG_OVERHEAD;
            if (h->seg_bytes + cost > b->max_half || b->used + cost > b->max_total)
                return MS_ERR_LIMIT;
            struct ms_tcp_seg *s = ms_malloc(sizeof(*s) + piece);
            if (!s)
                return MS_ERR_NOMEM;
            s->off = off;
            s->len = (uint32_t)piece;
            s->ack = in->ack;
            s->has_ack = gated && in->has_ack;
            s->meta = in->meta;
            memcpy(s->data, p, piece);
            /* RB_INSERT returns the segment already at off, if any. None
             * is: stored segments are disjoint and non-empty, off is past
             * pred's end and before succ's start. Should that ever break,
             * the new copy is dropped rather than leaked. */
            if (RB_INSERT(ms_tcp_segtree, &h->segs, s)) {
                ms_free(s);
                return MS_ERR_LIMIT;
            }
            h->nsegs++;
            h->seg_bytes += cost;
            b->used += cost;
            if (b->used > b->used_peak)
                b->used_peak = b->used;
            off += piece;
            p += piece;
            n -= piece;
        }
        if (n == 0)
            break;
        /* Now at succ: its bytes are the first copy. */
        size_t covered = succ->len < n ? succ->len : n;
        compare_copy(b, u, in->seq + (uint32_t)(off - off_of(h, in->seq)), succ->data, p, covered);
        lower_gate(succ, in, gated);
        off += covered;
        p += covered;
        n -= covered;
        succ = RB_NEXT(ms_tcp_segtree, &h->segs, succ);
    }
    return MS_OK;
}

enum ms_rc ms_tcp_half_put(struct ms_tcp_half *h, struct ms_reasm_budget *b,
                           const struct ms_tcp_segin *in, bool gate_open, struct ms_tcp_put_ctx *c,
                           const struct ms_stream_out *out)
{
    struct put u = { c, out, &in->meta };
    uint32_t seq = in->seq;
    const uint8_t *p = in->p;
    size_t n = in->n;
    if (!h->started) {
        /* Capture began mid-connection: take the first byte we see. */
        h->started = true;
        h->next_seq = seq;
    }
    /* Nothing is taken past a FIN, nor past what the peer's RST
     * acknowledged. */
    if (n > 0 && h->fin && SEQ_GT(seq + (uint32_t)n, h->fin_seq))
        n = SEQ_LT(seq, h->fin_seq) ? (size_t)(h->fin_seq - seq) : 0;
    if (n > 0 && h->reset_limit && SEQ_GT(seq + (uint32_t)n, h->limit_seq))
        n = SEQ_LT(seq, h->limit_seq) ? (size_t)(h->limit_seq - seq) : 0;
    if (n == 0)
        return MS_OK;
    uint32_t end = seq + (uint32_t)n;
    /* A keepalive probe: one byte (often garbage) just below what the
     * sender has sent; never new data. */
    if (n == 1 && !c->tried &&
        ((h->seen_data && end == h->seen_end) ||
         (h->keepalive_seen && seq == h->keepalive_seq && SEQ_LT(seq, h->next_seq)))) {
        b->keepalives++;
        h->keepalive_seen = true;
        h->keepalive_seq = seq;
        return MS_OK;
    }
    c->tried = true;
    /* Mid-stream start (no SYN): the first segment seen need not be the
     * lowest (a tap reorders, a pure ACK came first). Until a byte is
     * delivered or a hole given up, the start moves back to it, by
     * MS_REASM_REWIND_MAX in all. */
    if (!h->syn && !h->skipped && h->delivered == 0 && SEQ_LT(seq, h->next_seq) &&
        (uint32_t)(h->next_seq - seq) <= MS_REASM_REWIND_MAX - h->rewound) {
        uint32_t back = h->next_seq - seq;
        h->next_seq = seq;
        h->next_off -= back;
        h->rewound += back;
    }
    if (!h->seen_data || SEQ_GT(end, h->seen_end)) {
        h->seen_data = true;
        h->seen_end = end;
    }
    if (SEQ_LT(seq, h->next_seq)) {
        /* Retransmitted bytes: compare with what was delivered, drop. */
        size_t old = SEQ_LEQ(end, h->next_seq) ? n : (size_t)(h->next_seq - seq);
        uint32_t where;
        note_overlap(b, &u);
        if (!c->diff_reported && win_differs(h, b, seq, p, old, &where))
            note_diff(b, &u, where);
        if (old == n)
            return MS_OK;
        p += old;
        n -= old;
        seq = h->next_seq;
    }
    uint64_t off = off_of(h, seq);
    /* The fast path: in order, allowed through, nothing stored in its way. */
    if (off == h->next_off && gate_open) {
        struct ms_tcp_seg *first = RB_MIN(ms_tcp_segtree, &h->segs);
        if (!first || first->off >= off + n) {
            deliver(h, b, p, n, &in->meta, out);
            return MS_OK;
        }
    }
    if (off == h->next_off && !gate_open && !c->held_counted) {
        c->held_counted = true;
        b->held++;
    }
    /* Ahead of a hole, or held back: it waits. Gated only when the gate is
     * closed now; once open it stays open (the peer only moves forward). */
    return store(h, b, off, p, n, in, !gate_open, &u);
}

void ms_tcp_half_free(struct ms_tcp_half *h, struct ms_reasm_budget *b)
{
    struct ms_tcp_seg *s;
    while ((s = RB_MIN(ms_tcp_segtree, &h->segs)))
        seg_remove(h, b, s);
    if (h->win) {
        ms_free(h->win);
        h->win = NULL;
        b->window_mem -= b->window;
    }
    h->win_valid = 0;
}

size_t ms_tcp_half_mem(const struct ms_tcp_half *h, const struct ms_reasm_budget *b)
{
    return h->seg_bytes + (h->win ? b->window : 0);
}

size_t ms_tcp_seg_cost(size_t n)
{
    return n + SEG_OVERHEAD;
}
