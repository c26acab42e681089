/* TCP reassembly of one direction of a connection (a "half").
 * Segments go in in capture order; bytes come out in sequence order through
 * ms_stream_out, each byte at most once, each chunk with the time and the
 * packet number of the segment that carried it.
 *
 * A segment waits when it lies ahead of a hole, or when the caller holds it
 * back (tcp_session.c: its ACK covers peer bytes not yet delivered, the
 * "gate"). Waiting segments sit in a red-black tree keyed by a 64-bit stream
 * offset (O(log n) insert, wrap-around safe); an in-order segment that may
 * pass goes straight through without being copied. Memory is bounded per
 * half and globally (ms_reasm_budget). The half never guesses across a hole
 * and never gives one up by itself: the caller declares a hole lost
 * (ms_tcp_half_skip) when its wait window is over, the connection ends or a
 * cap leaves no room (ms_tcp_half_put returns MS_ERR_LIMIT).
 *
 * Overlap policy: first copy wins. Bytes already delivered or already
 * buffered are kept; a retransmission can fill only holes. When the bytes
 * of an overlap differ (an evasion attempt, RFC 9293 section 3.10.7.4 leaves
 * the choice to the receiver, and real stacks disagree: Ptacek & Newsham
 * 1998), out->overlap is called once for the segment. Buffered bytes are
 * compared directly; already delivered bytes are compared against the last
 * budget->window bytes of the half, kept in a small ring (overlaps reaching
 * further back are counted but cannot be compared). A keepalive probe (one
 * byte just below the highest sequence seen, RFC 9293 3.8.4) is not an
 * overlap. */
#ifndef MS_TCP_REASM_H
#define MS_TCP_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/rc.h"

/* Sequence arithmetic modulo 2^32 (RFC 9293 section 3.4). */
#define MS_SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define MS_SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define MS_SEQ_GT(a, b) MS_SEQ_LT(b, a)

struct ms_reasm_budget {
    size_t used; /* out-of-order memory buffered across all halves: segment
                            * bytes plus a fixed overhead per segment (ms_tcp_seg_cost) */
    size_t used_peak;
    size_t max_total;
    size_t max_half;
    size_t window;         /* delivered bytes kept per half to compare retransmissions (0: none) */
    size_t window_mem;     /* bytes allocated to those windows across all halves */
    uint64_t gaps;         /* holes declared lost */
    uint64_t gap_bytes;    /* bytes never seen */
    uint64_t forced;       /* packets whose storage hit a cap */
    uint64_t overlaps;     /* segments overlapping bytes already seen */
    uint64_t overlap_diff; /* ... whose overlapping bytes differed */
    uint64_t held;         /* in-order segments held back by the gate */
    uint64_t keepalives;   /* keepalive probes ignored */
};

/* The packet a chunk of bytes came in: events completed by it carry both. */
struct ms_seg_meta {
    uint64_t ts_us;
    uint64_t pkt_no; /* 1-based packet number in the run */
    const void *tag; /* the caller's, carried with the bytes (app/: the
                       * name of the file the packet came from) */
};

struct ms_stream_out {
    void (*data)(void *user, unsigned dir, const uint8_t *p, size_t n, const struct ms_seg_meta *m);
    /* missing bytes were never seen; m: the packet at which that was decided */
    void (*gap)(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m);
    /* Optional (NULL): a segment's overlapping bytes differ from the first
     * copy; seq is where the first differing byte sits. */
    void (*overlap)(void *user, unsigned dir, uint32_t seq, const struct ms_seg_meta *m);
    void *user;
    unsigned dir;
};

/* One segment offered to a half. */
struct ms_tcp_segin {
    uint32_t seq; /* sequence number of p[0] (after the SYN) */
    const uint8_t *p;
    size_t n;
    bool has_ack; /* the packet had ACK set: ack is meaningful */
    uint32_t ack; /* the peer's sequence space */
    struct ms_seg_meta meta;
};

/* What one segment's earlier tries already counted, so that a segment retried
 * after a cap made room is counted (and reported) once. Zero it per segment. */
struct ms_tcp_put_ctx {
    bool overlap_counted;
    bool diff_reported;
    bool tried; /* offered before: seen_end already counts it */
    bool held_counted;
};

/* The first waiting segment of a half (ms_tcp_half_first). */
struct ms_tcp_wait {
    uint32_t seq;
    bool at_hole; /* a hole lies before it */
    bool has_ack; /* it is gated on the peer reaching ack */
    uint32_t ack;
    uint64_t pkt_no; /* when it arrived */
};

struct ms_tcp_seg;
struct ms_tcp_segtree {
    struct ms_tcp_seg *rbh_root; /* bsd/sys/tree.h RB_HEAD layout */
};

struct ms_tcp_half {
    bool started;       /* next_seq is known */
    bool syn;           /* a SYN from this side was seen; isn is valid */
    bool fin;           /* FIN (or its RST) seen: no data past fin_seq */
    bool reset_limit;   /* the peer's RST acknowledged up to limit_seq: */
    uint32_t limit_seq; /* later bytes were never taken (RFC 9293 3.10.7) */
    bool seen_data;     /* seen_end is valid */
    bool skipped;       /* a hole was declared lost (no rewinding the start) */
    bool alone;         /* (tcp_session.c) the peer never showed up within a
                                * window: this side waits for nothing of it */
    uint32_t isn;
    uint32_t next_seq; /* first byte not yet delivered */
    uint32_t fin_seq;
    uint32_t seen_end;          /* highest end of data seen */
    uint64_t next_off;          /* stream offset of next_seq (tree keys) */
    uint32_t rewound;           /* how far a mid-stream start moved back, in all */
    uint32_t keepalive_seq;     /* where the last keepalive probe sat (a SPAN port's */
    bool keepalive_seen;        /* copy of it may come after newer data) */
    struct ms_tcp_segtree segs; /* waiting segments, non-overlapping */
    size_t nsegs;
    size_t seg_bytes;   /* their cost against the caps (bytes + overhead) */
    uint64_t delivered; /* bytes handed on */
    uint8_t *win;       /* ring of the last delivered bytes (lazy) */
    uint32_t win_valid; /* bytes of the ring just before next_seq that are real */
};

void ms_tcp_half_init(struct ms_tcp_half *h);
/* SYN from this side: data starts at isn + 1. */
void ms_tcp_half_syn(struct ms_tcp_half *h, uint32_t isn);
/* Records a FIN at seq (the first one counts): bytes past it are dropped. */
void ms_tcp_half_fin(struct ms_tcp_half *h, uint32_t seq);
/* Whether a FIN or RST of this side at seq can be real: not behind bytes
 * already delivered, nor further ahead of what was seen than window (a
 * forged or stale one would cut the stream; RFC 5961 section 3). */
bool ms_tcp_half_end_plausible(const struct ms_tcp_half *h, uint32_t seq, uint32_t window);
/* The peer reset the connection having acknowledged everything below ack:
 * this side's bytes from ack on are dropped, those below still expected. */
void ms_tcp_half_reset_at(struct ms_tcp_half *h, uint32_t ack);
/* Offers a segment (n may be 0: it only starts the half). gate_open: it may
 * be delivered as soon as it is in order; else it waits, with its ACK, for
 * ms_tcp_half_pump. MS_OK when every new byte was delivered or stored;
 * MS_ERR_LIMIT when a cap left part of it unstored: the caller makes room
 * and calls again with the same ctx; MS_ERR_NOMEM when storing failed for
 * lack of memory (what was stored so far stays). */
enum ms_rc ms_tcp_half_put(struct ms_tcp_half *h, struct ms_reasm_budget *b,
                           const struct ms_tcp_segin *in, bool gate_open, struct ms_tcp_put_ctx *c,
                           const struct ms_stream_out *out);
/* What the peer lets through (tcp_session.c). */
enum ms_gate {
    MS_GATE_OPEN = 0, /* everything in order goes */
    MS_GATE_ACK,      /* segments whose ack is at or below the gate value */
    MS_GATE_SHUT,     /* only segments that carry no ACK: the peer's start is not known yet */
};
/* Delivers waiting segments that are in order and that the gate allows.
 * True when any byte moved. */
bool ms_tcp_half_pump(struct ms_tcp_half *h, struct ms_reasm_budget *b, enum ms_gate g,
                      uint32_t gate, const struct ms_stream_out *out);
/* Declares [next_seq, upto) lost (a gap of that size) if upto is ahead. */
void ms_tcp_half_skip(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t upto,
                      const struct ms_seg_meta *m, const struct ms_stream_out *out);
/* False when nothing waits; else describes the first waiting segment. */
bool ms_tcp_half_first(const struct ms_tcp_half *h, struct ms_tcp_wait *w);
/* The first waiting segment no longer waits for the peer. */
void ms_tcp_half_ungate_first(struct ms_tcp_half *h);
/* The peer's acknowledgement of everything this side has delivered
 * (next_seq, plus one once the FIN is reached). */
uint32_t ms_tcp_half_ack_point(const struct ms_tcp_half *h);
/* Bytes before the end of this side (its FIN, or the peer's RST ack) are
 * still missing; *upto: where they end. */
bool ms_tcp_half_end_hole(const struct ms_tcp_half *h, uint32_t *upto);
/* Frees waiting segments (without delivering them) and the window. */
void ms_tcp_half_free(struct ms_tcp_half *h, struct ms_reasm_budget *b);
/* What buffering n bytes as one segment costs against the caps. */
size_t ms_tcp_seg_cost(size_t n);
/* Heap bytes this half holds now (waiting segments and window). */
size_t ms_tcp_half_mem(const struct ms_tcp_half *h, const struct ms_reasm_budget *b);

#endif
