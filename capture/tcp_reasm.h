/* TCP reassembly of one direction of a connection (a "half").
 * Segments go in in capture order; bytes come out in sequence order through
 * ms_stream_out, each byte at most once. Out-of-order segments wait in a
 * sorted list bounded per half and globally (ms_reasm_budget). A hole is
 * never guessed across: it is reported as a gap (with its size) when the
 * peer acknowledges past it, when the buffer cap forces progress, or when
 * the connection ends; then delivery resumes after it.
 *
 * Overlap policy: first copy wins. Bytes already delivered or already
 * buffered are kept; a retransmission can fill only holes. When the bytes
 * of an overlap differ (an evasion attempt, RFC 9293 section 3.10.7.4 leaves
 * the choice to the receiver, and real stacks disagree: Ptacek & Newsham
 * 1998), out->overlap is called once for the segment. Buffered bytes are
 * compared directly; already delivered bytes are compared against the last
 * budget->window bytes of the half, kept in a small ring (overlaps reaching
 * further back are counted but cannot be compared). */
#ifndef MS_TCP_REASM_H
#define MS_TCP_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms_reasm_budget {
    size_t used;           /* out-of-order memory buffered across all halves: segment
                            * bytes plus a fixed overhead per segment (ms_tcp_seg_cost) */
    size_t used_peak;
    size_t max_total;
    size_t max_half;
    size_t window;         /* delivered bytes kept per half to compare retransmissions (0: none) */
    size_t window_mem;     /* bytes allocated to those windows across all halves */
    uint64_t gaps;         /* holes reported */
    uint64_t gap_bytes;    /* bytes never seen */
    uint64_t forced;       /* gaps forced by a cap rather than by evidence */
    uint64_t overlaps;     /* segments overlapping bytes already seen */
    uint64_t overlap_diff; /* ... whose overlapping bytes differed */
};

struct ms_stream_out {
    void (*data)(void *user, unsigned dir, const uint8_t *p, size_t n);
    void (*gap)(void *user, unsigned dir, uint64_t missing);
    /* Optional (NULL): a segment's overlapping bytes differ from the first
     * copy; seq is where the first differing byte sits. */
    void (*overlap)(void *user, unsigned dir, uint32_t seq);
    void *user;
    unsigned dir;
};

struct ms_tcp_seg;

struct ms_tcp_half {
    bool started;              /* next_seq is known */
    bool syn;                  /* a SYN from this side was seen; isn is valid */
    bool fin;                  /* FIN seen: no data expected past fin_seq */
    uint32_t isn;
    uint32_t next_seq;         /* first byte not yet delivered */
    uint32_t fin_seq;
    struct ms_tcp_seg *ooo;    /* waiting segments, sorted, non-overlapping */
    size_t ooo_bytes;          /* their cost against the caps (bytes + overhead) */
    uint64_t delivered;        /* bytes handed on */
    uint8_t *win;              /* ring of the last delivered bytes (lazy) */
    uint32_t win_valid;        /* bytes of the ring just before next_seq that are real */
};

void ms_tcp_half_init(struct ms_tcp_half *h);
/* SYN from this side: data starts at isn + 1. */
void ms_tcp_half_syn(struct ms_tcp_half *h, uint32_t isn);
/* A data segment (and/or FIN) sent by this side. */
void ms_tcp_half_segment(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t seq,
                         const uint8_t *p, size_t n, bool fin, const struct ms_stream_out *out);
/* The other side acknowledged everything below ack: a hole there is final. */
void ms_tcp_half_acked(struct ms_tcp_half *h, struct ms_reasm_budget *b, uint32_t ack,
                       const struct ms_stream_out *out);
/* Connection over: deliver what waits, reporting the holes between. */
void ms_tcp_half_flush(struct ms_tcp_half *h, struct ms_reasm_budget *b,
                       const struct ms_stream_out *out);
/* Frees buffered segments (without delivering them) and the window. */
void ms_tcp_half_free(struct ms_tcp_half *h, struct ms_reasm_budget *b);
/* What buffering n bytes as one segment costs against the caps. */
size_t ms_tcp_seg_cost(size_t n);
/* Heap bytes this half holds now (buffered segments and window). */
size_t ms_tcp_half_mem(const struct ms_tcp_half *h, const struct ms_reasm_budget *b);

#endif
