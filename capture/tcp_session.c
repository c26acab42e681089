#include "tcp_session.h"

#include <string.h>

/* An ACK more than MS_ACK_GAP_MAX past what was delivered from the peer
 * is not evidence of bytes in flight (common/limits.h). */

void ms_tcp_ctx_init(struct ms_tcp_ctx *c, const struct ms_limits *lim,
                     const struct ms_stream_ops *ops)
{
    memset(c, 0, sizeof(*c));
    c->budget.max_total = lim->reasm_max_total;
    c->budget.max_half = lim->reasm_max_flow;
    c->budget.window = lim->reasm_window;
    c->wait_pkts = lim->reasm_wait_pkts;
    c->wait_us = lim->reasm_wait_us;
    c->ops = ops;
    TAILQ_INIT(&c->waitq);
}

void ms_tcp_session_init(struct ms_tcp_session *s, void *user)
{
    memset(s, 0, sizeof(*s));
    ms_tcp_half_init(&s->dir[0]);
    ms_tcp_half_init(&s->dir[1]);
    s->user = user;
}

static struct ms_stream_out out_of(const struct ms_tcp_ctx *c, const struct ms_tcp_session *s,
                                   unsigned dir)
{
    struct ms_stream_out o = { c->ops->data, c->ops->gap, c->ops->overlap, s->user, dir };
    return o;
}

/* ---- wait list -------------------------------------------------------- */

static void wait_unlink(struct ms_tcp_ctx *c, struct ms_tcp_session *s)
{
    if (!s->waiting)
        return;
    TAILQ_REMOVE(&c->waitq, s, wlink);
    s->waiting = false;
}

static void wait_append(struct ms_tcp_ctx *c, struct ms_tcp_session *s, uint64_t now_us)
{
    s->wait_pkt = s->pkts;
    s->wait_ts_us = now_us;
    TAILQ_INSERT_TAIL(&c->waitq, s, wlink);
    s->waiting = true;
}

static bool half_waits(const struct ms_tcp_half *h)
{
    uint32_t upto;
    return h->nsegs > 0 || ms_tcp_half_end_hole(h, &upto);
}

/* How far delivery has got in both directions (progress resets the window). */
static uint64_t progress_mark(const struct ms_tcp_session *s)
{
    /* A mid-stream start moving back is no progress. */
    return s->dir[0].next_off + s->dir[0].rewound + s->dir[1].next_off + s->dir[1].rewound;
}

/* After any change: on the wait list while something waits, its window
 * restarted when delivery moved. */
static void update_wait(struct ms_tcp_ctx *c, struct ms_tcp_session *s, uint64_t before,
                        uint64_t now_us)
{
    bool waits = half_waits(&s->dir[0]) || half_waits(&s->dir[1]);
    if (!waits) {
        wait_unlink(c, s);
        return;
    }
    if (s->waiting && progress_mark(s) == before)
        return;
    wait_unlink(c, s);
    wait_append(c, s, now_us);
}

/* ---- delivery in conversation order ----------------------------------- */

/* Direction dir may deliver a segment whose ACK is at or below the peer's
 * acknowledgement point. Before the peer's first packet its start is not
 * known: a segment that acknowledges something waits for it (a tap records
 * a reply before the request it answers, mid-stream as well; one recorded
 * a POP3 server's SYN-ACK and 90 data packets before the client's SYN),
 * one wait window at most; after that the capture is one-sided and the
 * direction gates nothing (alone). */
static enum ms_gate gate_of(const struct ms_tcp_session *s, unsigned dir, uint32_t *gate)
{
    const struct ms_tcp_half *me = &s->dir[dir], *peer = &s->dir[dir ^ 1u];
    if (me->alone)
        return MS_GATE_OPEN;
    if (!peer->started)
        return MS_GATE_SHUT;
    *gate = ms_tcp_half_ack_point(peer);
    return MS_GATE_ACK;
}

static bool pump(struct ms_tcp_ctx *c, struct ms_tcp_session *s)
{
    bool any = false, moved;
    do {
        moved = false;
        for (unsigned d = 0; d < 2; d++) {
            uint32_t gate = 0;
            enum ms_gate g = gate_of(s, d, &gate);
            struct ms_stream_out o = out_of(c, s, d);
            if (ms_tcp_half_pump(&s->dir[d], &c->budget, g, gate, &o))
                moved = true;
        }
        any |= moved;
    } while (moved);
    return any;
}

static void skip(struct ms_tcp_ctx *c, struct ms_tcp_session *s, unsigned d, uint32_t upto,
                 const struct ms_seg_meta *m)
{
    struct ms_stream_out o = out_of(c, s, d);
    ms_tcp_half_skip(&s->dir[d], &c->budget, upto, m, &o);
}

/* Ends the oldest wait of the session: a hole becomes a gap, or a held
 * segment goes on without the peer bytes it waited for (those become a gap
 * when the peer is known to have sent them). False when nothing waits. */
static bool force_one(struct ms_tcp_ctx *c, struct ms_tcp_session *s, const struct ms_seg_meta *m)
{
    struct ms_tcp_wait w[2];
    bool has[2];
    for (unsigned d = 0; d < 2; d++)
        has[d] = ms_tcp_half_first(&s->dir[d], &w[d]);
    int d = -1;
    if (has[0] && has[1])
        d = w[0].pkt_no <= w[1].pkt_no ? 0 : 1;
    else if (has[0] || has[1])
        d = has[0] ? 0 : 1;
    if (d < 0) {
        /* Only bytes before a FIN (or a RST's ack) are missing. */
        for (unsigned k = 0; k < 2; k++) {
            uint32_t upto;
            if (ms_tcp_half_end_hole(&s->dir[k], &upto)) {
                skip(c, s, k, upto, m);
                pump(c, s);
                return true;
            }
        }
        return false;
    }
    unsigned me = (unsigned)d, peer = me ^ 1u;
    if (w[me].at_hole) {
        skip(c, s, me, w[me].seq, m);
    } else if (w[me].has_ack) {
        /* Held for the peer's bytes below w.ack. */
        struct ms_tcp_half *ph = &s->dir[peer];
        uint32_t ack = w[me].ack;
        if (!ph->started) {
            /* A whole window and still no packet of the peer: a one-sided
             * capture. It gates nothing from now on. */
            s->dir[me].alone = true;
            c->st.gate_released++;
            pump(c, s);
            return true;
        }
        if (ph->fin && MS_SEQ_GT(ack, ph->fin_seq))
            ack = ph->fin_seq;
        if (has[peer] && MS_SEQ_LT(w[peer].seq, ack)) {
            if (w[peer].at_hole)
                skip(c, s, peer, w[peer].seq, m); /* the peer's own hole first */
            else {
                ms_tcp_half_ungate_first(&s->dir[me]); /* each waits for the other */
                c->st.gate_released++;
            }
        } else if (MS_SEQ_GT(ack, ph->next_seq + 1) &&
                   (uint32_t)(ack - ph->next_seq) <= MS_ACK_GAP_MAX) {
            /* Acknowledged, never captured (Wireshark: "ACKed segment
             * that wasn't captured"), and the window is over. Just one
             * past what was delivered is a FIN whose packet was missed:
             * no byte, no gap (the else branch). */
            c->st.ack_gaps++;
            skip(c, s, peer, ack, m);
        } else {
            ms_tcp_half_ungate_first(&s->dir[me]);
            c->st.gate_released++;
        }
    }
    /* else: nothing holds it any more; the pump hands it on. */
    pump(c, s);
    return true;
}

static bool done(const struct ms_tcp_session *s)
{
    if (s->rst)
        return s->bytes_off || (!half_waits(&s->dir[0]) && !half_waits(&s->dir[1]));
    for (unsigned d = 0; d < 2; d++) {
        const struct ms_tcp_half *h = &s->dir[d];
        if (!h->fin || (!s->bytes_off && half_waits(h)))
            return false;
    }
    return true;
}

/* ---- packets ---------------------------------------------------------- */

/* Offers the segment until it is stored: when a cap leaves no room, the
 * session's oldest waits are ended; with nothing left waiting, the segment
 * goes on at once (its own hole a gap, its gate open). Out of memory is no
 * cap: making room would turn a hole the capture may still fill into a
 * gap, so the session's bytes are off (false; c->st.nomem counts it). */
static bool put(struct ms_tcp_ctx *c, struct ms_tcp_session *s, unsigned dir,
                const struct ms_tcp_segin *in, bool gate_open, const struct ms_seg_meta *m)
{
    struct ms_tcp_half *h = &s->dir[dir];
    struct ms_stream_out o = out_of(c, s, dir);
    struct ms_tcp_put_ctx pc = { 0 };
    bool counted = false;
    enum ms_rc rc;
    while ((rc = ms_tcp_half_put(h, &c->budget, in, gate_open, &pc, &o)) != MS_OK) {
        if (rc == MS_ERR_NOMEM) {
            ms_tcp_session_ignore_bytes(c, s);
            c->st.nomem++;
            return false;
        }
        if (!counted) {
            counted = true;
            c->budget.forced++;
        }
        /* The hole before this very segment goes first: skipping past it
         * to a later waiting one would drop it as old. */
        struct ms_tcp_wait w;
        if (MS_SEQ_GT(in->seq, h->next_seq) && ms_tcp_half_first(h, &w) && w.at_hole &&
            MS_SEQ_LT(in->seq, w.seq)) {
            ms_tcp_half_skip(h, &c->budget, in->seq, m, &o);
            pump(c, s);
            continue;
        }
        if (force_one(c, s, m))
            continue;
        if (MS_SEQ_GT(in->seq, h->next_seq))
            ms_tcp_half_skip(h, &c->budget, in->seq, m, &o);
        gate_open = true;
    }
    return true;
}

enum ms_tcp_state ms_tcp_session_packet(struct ms_tcp_ctx *c, struct ms_tcp_session *s,
                                        unsigned dir, const struct ms_pkt *p,
                                        const struct ms_seg_meta *m)
{
    struct ms_tcp_half *h = &s->dir[dir];
    uint64_t before = progress_mark(s);
    s->pkts++;
    if (p->tcp_flags & MS_TH_SYN)
        ms_tcp_half_syn(h, p->seq);
    /* How far past the bytes seen a FIN or RST may sit: as far as this side
     * may have bytes waiting (a tap records the end before them); further
     * is a forged or stale one, which would cut the stream. */
    uint32_t end_window = (uint32_t)(c->budget.max_half < UINT32_MAX / 2 ? c->budget.max_half
                                                                         : UINT32_MAX / 2);
    if ((p->tcp_flags & MS_TH_RST) && !ms_tcp_half_end_plausible(h, p->seq, end_window)) {
        c->st.bad_ends++;
        return MS_TCP_OPEN;
    }
    if (p->tcp_flags & MS_TH_RST) {
        /* RFC 9293 lets a RST carry data, but receivers do not deliver it,
         * so neither do we (Suricata bug 6244). Bytes sent before it are
         * still expected (a tap may record them after it): this side's up
         * to the RST, the peer's up to what the RST acknowledged. */
        s->rst = true;
        if (!h->started) {
            h->started = true;
            h->next_seq = p->seq;
        }
        ms_tcp_half_fin(h, p->seq);
        if (p->tcp_flags & MS_TH_ACK)
            ms_tcp_half_reset_at(&s->dir[dir ^ 1u], p->ack);
        pump(c, s);
        update_wait(c, s, before, m->ts_us);
        return done(s) ? MS_TCP_DONE : MS_TCP_OPEN;
    }
    struct ms_tcp_segin in = {
        .seq = (p->tcp_flags & MS_TH_SYN) ? p->seq + 1 : p->seq,
        .p = p->payload,
        .n = p->payload_len,
        .has_ack = (p->tcp_flags & MS_TH_ACK) != 0,
        .ack = p->ack,
        .meta = *m,
    };
    if (p->tcp_flags & MS_TH_FIN) {
        if (ms_tcp_half_end_plausible(h, in.seq + (uint32_t)in.n, end_window))
            ms_tcp_half_fin(h, in.seq + (uint32_t)in.n);
        else
            c->st.bad_ends++;
    }
    if (s->bytes_off)
        return done(s) ? MS_TCP_DONE : MS_TCP_OPEN;
    uint32_t gate = 0;
    enum ms_gate g = gate_of(s, dir, &gate);
    bool gate_open = !in.has_ack || g == MS_GATE_OPEN ||
                     (g == MS_GATE_ACK && MS_SEQ_LEQ(in.ack, gate));
    if (!put(c, s, dir, &in, gate_open, m))
        return done(s) ? MS_TCP_DONE : MS_TCP_OPEN;
    pump(c, s);
    update_wait(c, s, before, m->ts_us);
    /* The window in packets: one wait ended per packet past it (each
     * restarts the window when something is still waiting). */
    if (s->waiting && s->pkts - s->wait_pkt > c->wait_pkts) {
        uint64_t mark = progress_mark(s);
        c->st.wait_expired++;
        force_one(c, s, m);
        update_wait(c, s, mark, m->ts_us);
    }
    return done(s) ? MS_TCP_DONE : MS_TCP_OPEN;
}

struct ms_tcp_session *ms_tcp_ctx_overdue(struct ms_tcp_ctx *c, uint64_t now_us)
{
    struct ms_tcp_session *s = TAILQ_FIRST(&c->waitq);
    if (s && now_us > s->wait_ts_us && now_us - s->wait_ts_us > c->wait_us)
        return s;
    return NULL;
}

uint64_t ms_tcp_ctx_next_due(const struct ms_tcp_ctx *c)
{
    const struct ms_tcp_session *s = TAILQ_FIRST(&c->waitq);
    if (!s || s->wait_ts_us > UINT64_MAX - 1 - c->wait_us)
        return UINT64_MAX;
    return s->wait_ts_us + c->wait_us + 1;
}

enum ms_tcp_state ms_tcp_session_expire(struct ms_tcp_ctx *c, struct ms_tcp_session *s,
                                        const struct ms_seg_meta *m, uint64_t now_us)
{
    uint64_t mark = progress_mark(s);
    c->st.wait_expired++;
    force_one(c, s, m);
    /* Moved to the tail even without progress (a hold released): the
     * next overdue session is another one. */
    wait_unlink(c, s);
    update_wait(c, s, mark, now_us);
    return done(s) ? MS_TCP_DONE : MS_TCP_OPEN;
}

void ms_tcp_session_flush(struct ms_tcp_ctx *c, struct ms_tcp_session *s,
                          const struct ms_seg_meta *m)
{
    if (s->bytes_off)
        return;
    pump(c, s);
    while (force_one(c, s, m))
        ;
    wait_unlink(c, s);
}

void ms_tcp_session_free(struct ms_tcp_ctx *c, struct ms_tcp_session *s)
{
    wait_unlink(c, s);
    ms_tcp_half_free(&s->dir[0], &c->budget);
    ms_tcp_half_free(&s->dir[1], &c->budget);
}

void ms_tcp_session_ignore_bytes(struct ms_tcp_ctx *c, struct ms_tcp_session *s)
{
    if (s->bytes_off)
        return;
    s->bytes_off = true;
    ms_tcp_session_free(c, s);
}

bool ms_tcp_session_closing(const struct ms_tcp_session *s)
{
    return s->rst || s->dir[0].fin || s->dir[1].fin;
}

void ms_tcp_session_swap(struct ms_tcp_session *s)
{
    struct ms_tcp_half h = s->dir[0];
    s->dir[0] = s->dir[1];
    s->dir[1] = h;
}
