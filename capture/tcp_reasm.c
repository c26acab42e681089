#include "tcp_reasm.h"

#include <stdlib.h>
#include <string.h>

/* Sequence arithmetic modulo 2^32 (RFC 9293 section 3.4). */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)

struct ms_tcp_seg {
    struct ms_tcp_seg *next;
    uint32_t seq;
    uint32_t len;
    uint8_t data[];
};

/* What a buffered segment costs against the caps: its bytes plus its
 * header and the allocator's, so a flood of 1-byte segments is bounded
 * by memory, not by payload. */
#define SEG_OVERHEAD (sizeof(struct ms_tcp_seg) + 16)

/* What one call to ms_tcp_half_segment has already counted, so a segment
 * is counted (and reported) once even when a cap makes us retry it. */
struct seg_ctx {
    const struct ms_stream_out *out;
    bool overlap_counted;
    bool diff_reported;
};

void ms_tcp_half_init(struct ms_tcp_half *h)
{
    memset(h, 0, sizeof(*h));
}

void ms_tcp_half_syn(struct ms_tcp_half *h, uint32_t isn)
{
    /* A retransmitted (or forged) SYN must not rewind a stream already
     * flowing, nor move next_seq past or onto data already waiting. */
    if (h->started && (h->delivered > 0 || h->ooo))
        return;
    h->started = true;
    h->syn = true;
    h->isn = isn;
    h->next_seq = isn + 1;
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
        h->win = malloc(w);
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
static bool win_differs(const struct ms_tcp_half *h, const struct ms_reasm_budget *b,
                        uint32_t seq, const uint8_t *p, size_t n, uint32_t *where)
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

static void note_overlap(struct ms_reasm_budget *b, struct seg_ctx *c)
{
    if (!c->overlap_counted) {
        c->overlap_counted = true;
        b->overlaps++;
    }
}

static void note_diff(struct ms_reasm_budget *b, struct seg_ctx *c, uint32_t where)
{
    if (c->diff_reported)
        return;
    c->diff_reported = true;
    b->overlap_diff++;
    if (c->out->overlap)
        c->out->overlap(c->out->user, c->out->dir, where);
}

/* Compares an overlap of new bytes with a buffered first copy. */
static void compare_copy(struct ms_reasm_budget *b, struct seg_ctx *c, uint32_t seq,
                         const uint8_t *first, const uint8_t *p, size_t n)
{
    note_overlap(b, c);
    if (c->diff_reported || memcmp(first, p, n) == 0)
        return;
    size_t i = 0;
    while (first[i] == p[i])
        i++;
    note_diff(b, c, seq + (uint32_t)i);
}

/* ---- delivery --------------------------------------------------------- */

static void deliver(struct ms_tcp_half *h, struct ms_reasm_budget *b, const uint8_t *p,
                    size_t n, const struct ms_stream_out *out)
{
    win_put(h, b, p, n);
    h->next_seq += (uint32_t)n;
    h->delivered += n;
    out->data(out->user, out->dir, p, n);
}

static void unlink_head(struct ms_tcp_half *h, struct ms_reasm_budget *b)
{
    struct ms_tcp_seg *s = h->ooo;
    h->ooo = s->next;
    h->ooo_bytes -= s->len + SEG_OVERHEAD;
    b->used -= s->len + SEG_OVERHEAD;
}

/* Hands on the waiting segments that now touch next_seq. */
static void drain(struct ms_tcp_half *h, struct ms_reasm_budget *b, const struct ms_stream_out *out)
{
    while (h->ooo && SEQ_LEQ(h->ooo->seq, h->next_seq)) {
        struct ms_tcp_seg *s = h->ooo;
        unlink_head(h, b);
        uint32_t end = s->seq + s->len;
        if (SEQ_GT(end, h->next_seq)) {
            uint32_t skip = h->next_seq - s->seq;
            deliver(h, b, s->data + skip, s->len - skip, out);
        }
        free(s);
    }
}

/* New bytes starting exactly at next_seq. Where they run into buffered
 * segments, the buffered (first) copy is delivered instead, after
 * comparing the two. */
static void deliver_in_order(struct ms_tcp_half *h, struct ms_reasm_budget *b, const uint8_t *p,
                             size_t n, struct seg_ctx *c)
{
    const struct ms_stream_out *out = c->out;
    uint32_t seq = h->next_seq;
    while (n > 0) {
        struct ms_tcp_seg *s = h->ooo;
        if (!s || !SEQ_LT(s->seq, seq + (uint32_t)n)) {
            deliver(h, b, p, n, out);
            break;
        }
        if (SEQ_GT(s->seq, seq)) {
            size_t k = s->seq - seq;
            deliver(h, b, p, k, out);
            p += k;
            n -= k;
            seq += (uint32_t)k;
        }
        /* Segments at rest start after next_seq, so s starts at seq. */
        size_t ov = n < s->len ? n : s->len;
        compare_copy(b, c, seq, s->data, p, ov);
        unlink_head(h, b);
        deliver(h, b, s->data, s->len, out);
        free(s);
        p += ov;
        n -= ov;
        seq += (uint32_t)ov;
    }
    drain(h, b, out);
}

/* Declares the hole before the first waiting segment lost, then drains. */
static void skip_hole(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t upto,
                      const struct ms_stream_out *out)
{
    /* Nothing is missing when the first waiting segment already touches
     * next_seq: hand it on instead (callers rely on progress). */
    if (!SEQ_GT(upto, h->next_seq)) {
        drain(h, b, out);
        return;
    }
    uint32_t missing = upto - h->next_seq;
    b->gaps++;
    b->gap_bytes += missing;
    h->next_seq = upto;
    h->win_valid = 0; /* the bytes just before next_seq were never seen */
    out->gap(out->user, out->dir, missing);
    drain(h, b, out);
}

/* Inserts [seq, seq+n) into the sorted list, keeping bytes already there
 * (first copy wins) and storing only the parts not yet covered. */
static bool insert(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t seq,
                   const uint8_t *p, size_t n, struct seg_ctx *c)
{
    struct ms_tcp_seg **link = &h->ooo;
    while (n > 0) {
        while (*link && SEQ_LEQ((*link)->seq + (*link)->len, seq))
            link = &(*link)->next;
        struct ms_tcp_seg *succ = *link;
        if (succ && SEQ_LEQ(succ->seq, seq)) {
            /* Starts inside succ: the covered front is succ's. */
            uint32_t off = seq - succ->seq;
            size_t covered = succ->len - off;
            if (covered > n)
                covered = n;
            compare_copy(b, c, seq, succ->data + off, p, covered);
            seq += (uint32_t)covered;
            p += covered;
            n -= covered;
            continue;
        }
        size_t piece = n;
        if (succ && SEQ_LT(succ->seq, seq + (uint32_t)n))
            piece = succ->seq - seq;
        size_t cost = piece + SEG_OVERHEAD;
        if (h->ooo_bytes + cost > b->max_half || b->used + cost > b->max_total)
            return false;
        struct ms_tcp_seg *s = malloc(sizeof(*s) + piece);
        if (!s)
            return false;
        s->seq = seq;
        s->len = (uint32_t)piece;
        memcpy(s->data, p, piece);
        s->next = succ;
        *link = s;
        link = &s->next;
        h->ooo_bytes += cost;
        b->used += cost;
        if (b->used > b->used_peak)
            b->used_peak = b->used;
        seq += (uint32_t)piece;
        p += piece;
        n -= piece;
    }
    return true;
}

static void segment(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t seq,
                    const uint8_t *p, size_t n, struct seg_ctx *c)
{
    if (n == 0)
        return;
    uint32_t end = seq + (uint32_t)n;
    if (SEQ_LT(seq, h->next_seq)) {
        /* Retransmitted bytes: compare with what was delivered, drop. */
        size_t old = SEQ_LEQ(end, h->next_seq) ? n : (size_t)(h->next_seq - seq);
        uint32_t where;
        note_overlap(b, c);
        if (!c->diff_reported && win_differs(h, b, seq, p, old, &where))
            note_diff(b, c, where);
        if (old == n)
            return;
        p += old;
        n -= old;
        seq = h->next_seq;
    }
    if (seq == h->next_seq) {
        deliver_in_order(h, b, p, n, c);
        return;
    }
    /* Ahead of a hole: wait for the hole to fill. When a cap is hit, give
     * up on the hole rather than on the new data, and try again. */
    while (!insert(h, b, seq, p, n, c)) {
        b->forced++;
        if (!h->ooo) {
            /* Nothing buffered and still no room: skip straight to it. */
            skip_hole(h, b, seq, c->out);
            segment(h, b, seq, p, n, c);
            return;
        }
        skip_hole(h, b, h->ooo->seq, c->out);
        if (SEQ_LEQ(seq, h->next_seq)) {
            segment(h, b, seq, p, n, c);
            return;
        }
    }
}

void ms_tcp_half_segment(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t seq,
                         const uint8_t *p, size_t n, bool fin, const struct ms_stream_out *out)
{
    if (!h->started) {
        /* Capture began mid-connection: take the first byte we see. */
        h->started = true;
        h->next_seq = seq;
    }
    if (fin && !h->fin) {
        h->fin = true;
        h->fin_seq = seq + (uint32_t)n;
    }
    struct seg_ctx c = { out, false, false };
    segment(h, b, seq, p, n, &c);
}

void ms_tcp_half_acked(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t ack,
                       const struct ms_stream_out *out)
{
    /* The receiver got bytes we never saw: the hole will not fill. Only act
     * when data waits behind it; otherwise the next segment settles it. */
    if (!h->started || !h->ooo || !SEQ_GT(ack, h->next_seq))
        return;
    uint32_t upto = SEQ_LT(ack, h->ooo->seq) ? ack : h->ooo->seq;
    skip_hole(h, b, upto, out);
}

void ms_tcp_half_flush(struct ms_tcp_half *h, struct ms_reasm_budget *b,
                       const struct ms_stream_out *out)
{
    /* Every pass hands on or drops the first waiting segment. */
    while (h->ooo)
        skip_hole(h, b, h->ooo->seq, out);
}

void ms_tcp_half_free(struct ms_tcp_half *h, struct ms_reasm_budget *b)
{
    while (h->ooo) {
        struct ms_tcp_seg *s = h->ooo;
        h->ooo = s->next;
        b->used -= s->len + SEG_OVERHEAD;
        free(s);
    }
    h->ooo_bytes = 0;
    if (h->win) {
        free(h->win);
        h->win = NULL;
        b->window_mem -= b->window;
    }
    h->win_valid = 0;
}

size_t ms_tcp_half_mem(const struct ms_tcp_half *h, const struct ms_reasm_budget *b)
{
    return h->ooo_bytes + (h->win ? b->window : 0);
}

size_t ms_tcp_seg_cost(size_t n)
{
    return n + SEG_OVERHEAD;
}
