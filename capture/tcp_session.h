/* One TCP connection as a passive observer sees it: what SYN, FIN, RST and
 * ACK do to each direction, and in what order the two directions' bytes
 * reach the app layer. A capture is not an endpoint: a tap or a SPAN port
 * records frames in an order neither host saw. The rules (README, Streams):
 *
 * - An ACK past a hole is a hint, not proof: the missing bytes are waited
 *   for within a window (packets of this connection, seconds, bytes held),
 *   and the hole is declared a gap only when the window is over, a cap needs
 *   the memory, or the connection ends.
 * - Conversation order: a segment is delivered no earlier than the peer
 *   bytes its ACK covers (the sender had received them before it sent it),
 *   so a reply captured before its request is parsed after it. Before the
 *   peer's first packet a direction waits for it, one window at most; a
 *   peer that never shows up (a one-sided capture) then holds nothing back,
 *   and no gap is reported for it.
 * - RST ends the connection once the bytes it acknowledges are in (its
 *   data is not used); FIN both ways ends it once nothing waits. A FIN or
 *   RST behind bytes already delivered, or far ahead of what was seen, is
 *   ignored (RFC 5961: a stale or forged one must not cut the stream).
 * - The window runs from the moment delivery stalls, and again from each
 *   step of progress while something still waits.
 *
 * Sessions whose delivery is stalled are kept on the context's wait list,
 * oldest stall first, so time-outs cost O(1) per packet. */
#ifndef MS_TCP_SESSION_H
#define MS_TCP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include "../common/limits.h"
#include "../common/rc.h"
#include "decode.h"
#include "tcp_reasm.h"

/* The app layer's side of every session of one context. */
struct ms_stream_ops {
    void (*data)(void *user, unsigned dir, const uint8_t *p, size_t n, const struct ms_seg_meta *m);
    void (*gap)(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m);
    void (*overlap)(void *user, unsigned dir, uint32_t seq, const struct ms_seg_meta *m);
};

struct ms_tcp_session {
    struct ms_tcp_half dir[2]; /* indexed by enum ms_dir */
    bool rst;
    uint64_t pkts;                     /* packets of this connection */
    uint64_t wait_pkt, wait_ts_us;     /* when the current wait began */
    TAILQ_ENTRY(ms_tcp_session) wlink; /* the context's wait list */
    bool waiting;                      /* on the context's wait list */
    bool bytes_off;                    /* nobody wants the bytes: flags only */
    void *user;                        /* for the stream ops */
};

struct ms_tcp_stats {
    /* Sessions whose bytes were turned off because a segment could not be
     * stored for lack of memory: nothing more is delivered (the caller
     * sees the count move and drops the flow). */
    uint64_t nomem;
    uint64_t wait_expired;  /* holes or holds ended by the window */
    uint64_t ack_gaps;      /* peer bytes acknowledged but never captured */
    uint64_t gate_released; /* holds released without the peer's bytes */
    uint64_t bad_ends;      /* FIN or RST behind delivered bytes or far ahead: ignored */
};

struct ms_tcp_ctx {
    struct ms_reasm_budget budget;
    struct ms_tcp_stats st;
    const struct ms_stream_ops *ops;
    uint64_t wait_pkts; /* window: packets of the connection */
    uint64_t wait_us;   /* window: seconds (capture or wall clock) */
    /* Stalled sessions, oldest stall first. The context must not move
     * once initialised (the list head points into itself). */
    TAILQ_HEAD(ms_tcp_waitq, ms_tcp_session) waitq;
};

enum ms_tcp_state { MS_TCP_OPEN = 0, MS_TCP_DONE };

void ms_tcp_ctx_init(struct ms_tcp_ctx *c, const struct ms_limits *lim,
                     const struct ms_stream_ops *ops);
void ms_tcp_session_init(struct ms_tcp_session *s, void *user);
/* One packet of the connection, in direction dir. MS_TCP_DONE: the
 * connection is over (RST, or FIN both ways with nothing waiting); what
 * waited was delivered. */
enum ms_tcp_state ms_tcp_session_packet(struct ms_tcp_ctx *c, struct ms_tcp_session *s,
                                        unsigned dir, const struct ms_pkt *p,
                                        const struct ms_seg_meta *m);
/* The stalled session whose window's time ran out at now_us, or NULL. Each
 * is then given to ms_tcp_session_expire, which moves it on. */
struct ms_tcp_session *ms_tcp_ctx_overdue(struct ms_tcp_ctx *c, uint64_t now_us);
/* The earliest now_us at which ms_tcp_ctx_overdue would return a session
 * (UINT64_MAX: none waits). */
uint64_t ms_tcp_ctx_next_due(const struct ms_tcp_ctx *c);
/* m: what the bytes and gap it delivers are told with; now_us: when (the
 * next window, if one is needed, starts then). */
enum ms_tcp_state ms_tcp_session_expire(struct ms_tcp_ctx *c, struct ms_tcp_session *s,
                                        const struct ms_seg_meta *m, uint64_t now_us);
/* The connection ends: everything waiting is delivered, holes as gaps. */
void ms_tcp_session_flush(struct ms_tcp_ctx *c, struct ms_tcp_session *s,
                          const struct ms_seg_meta *m);
/* Frees what the session holds (nothing is delivered). */
void ms_tcp_session_free(struct ms_tcp_ctx *c, struct ms_tcp_session *s);
/* Nobody wants this connection's bytes (not mail): what waits is freed,
 * and from now on only SYN, FIN and RST are followed. */
void ms_tcp_session_ignore_bytes(struct ms_tcp_ctx *c, struct ms_tcp_session *s);
/* FIN or RST seen (a new SYN may then be port reuse). */
bool ms_tcp_session_closing(const struct ms_tcp_session *s);
/* Exchanges the directions (a mid-connection guess proved wrong). */
void ms_tcp_session_swap(struct ms_tcp_session *s);

#endif
