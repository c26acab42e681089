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

void ms_tcp_half_init(struct ms_tcp_half *h)
{
    memset(h, 0, sizeof(*h));
}

void ms_tcp_half_syn(struct ms_tcp_half *h, uint32_t isn)
{
    /* A retransmitted SYN must not rewind a stream already flowing. */
    if (h->started && h->delivered > 0)
        return;
    h->started = true;
    h->next_seq = isn + 1;
}

static void deliver(struct ms_tcp_half *h, const uint8_t *p, size_t n,
                    const struct ms_stream_out *out)
{
    h->next_seq += (uint32_t)n;
    h->delivered += n;
    out->data(out->user, out->dir, p, n);
}

/* Hands on the waiting segments that now touch next_seq. */
static void drain(struct ms_tcp_half *h, struct ms_reasm_budget *b, const struct ms_stream_out *out)
{
    while (h->ooo && SEQ_LEQ(h->ooo->seq, h->next_seq)) {
        struct ms_tcp_seg *s = h->ooo;
        h->ooo = s->next;
        h->ooo_bytes -= s->len;
        b->used -= s->len;
        uint32_t end = s->seq + s->len;
        if (SEQ_GT(end, h->next_seq)) {
            uint32_t skip = h->next_seq - s->seq;
            deliver(h, s->data + skip, s->len - skip, out);
        }
        free(s);
    }
}

/* Declares the hole before the first waiting segment lost, then drains. */
static void skip_hole(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t upto,
                      const struct ms_stream_out *out)
{
    uint32_t missing = upto - h->next_seq;
    if (missing == 0)
        return;
    b->gaps++;
    b->gap_bytes += missing;
    h->next_seq = upto;
    out->gap(out->user, out->dir, missing);
    drain(h, b, out);
}

/* Inserts [seq, seq+n) into the sorted list, keeping bytes already there
 * (first copy wins) and storing only the parts not yet covered. */
static bool insert(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t seq,
                   const uint8_t *p, size_t n)
{
    struct ms_tcp_seg **link = &h->ooo;
    while (n > 0) {
        while (*link && SEQ_LEQ((*link)->seq + (*link)->len, seq))
            link = &(*link)->next;
        struct ms_tcp_seg *succ = *link;
        if (succ && SEQ_LEQ(succ->seq, seq)) {
            /* Starts inside succ: drop the covered front. */
            uint32_t covered = succ->seq + succ->len - seq;
            if (covered >= n)
                return true;
            seq += covered;
            p += covered;
            n -= covered;
            continue;
        }
        size_t piece = n;
        if (succ && SEQ_LT(succ->seq, seq + (uint32_t)n))
            piece = succ->seq - seq;
        if (h->ooo_bytes + piece > b->max_half || b->used + piece > b->max_total)
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
        h->ooo_bytes += piece;
        b->used += piece;
        seq += (uint32_t)piece;
        p += piece;
        n -= piece;
    }
    return true;
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
    if (n == 0)
        return;
    uint32_t end = seq + (uint32_t)n;
    if (SEQ_LEQ(end, h->next_seq))
        return; /* all retransmitted */
    if (SEQ_LT(seq, h->next_seq)) {
        uint32_t skip = h->next_seq - seq;
        p += skip;
        n -= skip;
        seq = h->next_seq;
    }
    if (seq == h->next_seq) {
        deliver(h, p, n, out);
        drain(h, b, out);
        return;
    }
    /* Ahead of a hole: wait for the hole to fill. When a cap is hit, give
     * up on the hole rather than on the new data, and try again. */
    while (!insert(h, b, seq, p, n)) {
        if (!h->ooo) {
            /* Nothing buffered and still no room: skip straight to it. */
            b->forced++;
            skip_hole(h, b, seq, out);
            ms_tcp_half_segment(h, b, seq, p, n, false, out);
            return;
        }
        b->forced++;
        skip_hole(h, b, h->ooo->seq, out);
        if (SEQ_LEQ(seq, h->next_seq)) {
            ms_tcp_half_segment(h, b, seq, p, n, false, out);
            return;
        }
    }
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
    while (h->ooo)
        skip_hole(h, b, h->ooo->seq, out);
}

void ms_tcp_half_free(struct ms_tcp_half *h, struct ms_reasm_budget *b)
{
    while (h->ooo) {
        struct ms_tcp_seg *s = h->ooo;
        h->ooo = s->next;
        b->used -= s->len;
        free(s);
    }
    h->ooo_bytes = 0;
}
