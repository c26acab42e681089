/* Flow table: one entry per TCP connection, keyed by the 5-tuple in either
 * direction. Bounded by a maximum count with least-recently-used eviction;
 * idle flows expire on the capture clock, never the wall clock. When a flow
 * ends (explicitly, by timeout, eviction or at the end of input) the table
 * calls on_end once, then frees the entry.
 *
 * Direction: the client is the sender of a bare SYN (or the receiver of a
 * SYN-ACK). When the capture starts mid-connection it is guessed from the
 * ports (dir_source MS_FLOW_DIR_PORTS) and the pipeline may correct it once
 * with ms_flow_swap when the first bytes say otherwise (a server banner
 * from the side taken for the client).
 * Port reuse: a bare SYN whose ISN is not the one that opened the flow, on
 * a flow that is closing (FIN or RST seen) or silent for
 * MS_FLOW_REUSE_IDLE_US, ends the old flow and starts a new one.
 * Recently ended flows that carried payload are remembered (flow_recent.h):
 * a later packet of theirs other than a SYN opens nothing and is counted
 * (late_packets), so a segment captured after its connection closed, or the
 * rest of an evicted session, does not become a new mid-stream flow.
 *
 * Eviction (table full, or ms_flow_table_evict_lru under memory pressure)
 * does not simply take the least recently used flow: a flood of spoofed
 * SYNs would then push every live session out. It looks at the
 * MS_FLOW_EVICT_SCAN least recently used flows and ends the one that
 * carried the least payload (payload_dirs, set by the pipeline: none, then
 * one direction only, which a blind spoofer can produce, then both), the
 * least recently used among equals; when they all carried data both ways
 * that is the LRU tail, as before. Bounded: O(MS_FLOW_EVICT_SCAN). */
#ifndef MS_FLOW_H
#define MS_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/dir.h"
#include "../common/limits.h"
#include "../common/lru.h"
#include "decode.h"
#include "tcp_session.h"

struct ms_evidence_flow;

/* Why a flow ended (f->end_reason during on_end). */
enum ms_flow_end_reason {
    MS_FLOW_END_CLOSED = 0, /* ms_flow_end: FIN both ways, RST */
    MS_FLOW_END_TIMEOUT,    /* idle past the timeout */
    MS_FLOW_END_EVICTED,    /* table full or memory cap (see Eviction above) */
    MS_FLOW_END_REUSED,     /* a new connection on the same ports */
    MS_FLOW_END_SHUTDOWN,   /* end of input, or the program stops */
    MS_FLOW_END_NOMEM,      /* ms_flow_drop: its state could not be allocated */
};

/* How the client was chosen. */
enum ms_flow_dir_source {
    MS_FLOW_DIR_SYN = 0, /* it sent the bare SYN */
    MS_FLOW_DIR_SYNACK,  /* it received the SYN-ACK (the SYN was missed) */
    MS_FLOW_DIR_PORTS,   /* mid-connection: a port heuristic */
};

struct ms_flow {
    struct ms_flow *hnext;  /* hash chain */
    struct ms_lru_node lru; /* the table's recency list */
    uint8_t ip_version;
    uint8_t cli_addr[16], srv_addr[16]; /* client = who opened the connection */
    uint16_t cli_port, srv_port;
    uint64_t first_ts_us, last_ts_us;
    uint64_t flow_id;          /* stable for the connection's events */
    struct ms_tcp_session tcp; /* both directions' stream state */
    void *app;                 /* the pipeline's per-flow state */
    uint8_t dir_source;        /* enum ms_flow_dir_source */
    bool swapped;              /* ms_flow_swap was applied */
    uint8_t end_reason;        /* enum ms_flow_end_reason, set before on_end */
    uint8_t payload_dirs;      /* bit 1 << enum ms_dir: that side sent payload
                                          * (set by the pipeline; ms_flow_swap keeps it
                                          * right); eviction spares these flows first */
    /* --evidence: the pipeline's frames of this flow (output/evidence.h);
     * NULL: none. */
    struct ms_evidence_flow *evidence;
    /* Over 802.11: the client's station (src), the server side's (dst) and
     * the BSSID, from the packet that opened the flow (events' `ether`);
     * NULL otherwise (or out of memory: the events then go without). */
    struct ms_link_addrs *mac;
};

/* The flow a TCP session is part of. */
static inline struct ms_flow *ms_flow_of_session(struct ms_tcp_session *s)
{
    return (struct ms_flow *)(void *)((char *)s - offsetof(struct ms_flow, tcp));
}

/* A live connection's bare SYN with a new ISN is forged, or the port was
 * reused after a close the capture missed; after this long without a packet
 * it is taken as reuse (a closed port is normally reused only after
 * TIME_WAIT: 60 s on Linux, longer elsewhere). */
#define MS_FLOW_REUSE_IDLE_US (10ull * 1000000)

/* MS_FLOW_EVICT_SCAN: common/limits.h. */

struct ms_flow_table;

typedef void (*ms_flow_end_fn)(void *user, struct ms_flow *f);

struct ms_flow_stats {
    uint64_t created, ended, timed_out, evicted;
    uint64_t reused;       /* ended by a new SYN on the same ports (port reuse) */
    uint64_t swapped;      /* direction corrected after a mid-connection start */
    uint64_t late_packets; /* packets of a recently ended flow: no new flow */
    uint64_t nomem;        /* flows not created for lack of memory */
    size_t active, peak;
};

/* recent_max: ended flows remembered (0: none). */
struct ms_flow_table *ms_flow_table_new(size_t max_flows, uint64_t timeout_us, size_t recent_max,
                                        ms_flow_end_fn on_end, void *user);
/* Finds the packet's flow; when there is none and create is set, creates
 * it (evicting a flow when full, see Eviction), unless it belongs to a
 * recently ended flow and is no SYN. *dir tells which way the packet goes.
 * NULL when not found (and not created) or out of memory. */
struct ms_flow *ms_flow_lookup(struct ms_flow_table *t, const struct ms_pkt *p, bool create,
                               enum ms_dir *dir, bool *created);
/* Ends one flow now (FIN/RST exchange complete). */
void ms_flow_end(struct ms_flow_table *t, struct ms_flow *f);
/* Ends f, whose state could not be allocated while the packet p opening it
 * was handled. When p carried payload, f is remembered as ended (as is a
 * flow that could not be created at all for such a packet, in
 * ms_flow_lookup): its later packets (a new SYN aside) start no flow
 * mid-connection with p's bytes missing unseen, which would pair what
 * follows with what was lost (a reply with the wrong command). A packet
 * without payload loses no byte: a flow may start at the next one. */
void ms_flow_drop(struct ms_flow_table *t, struct ms_flow *f, const struct ms_pkt *p);
/* Ends one flow other than keep (memory pressure), chosen as on a full
 * table (see Eviction). Counted as an eviction. False when there was
 * nothing to end. */
bool ms_flow_table_evict_lru(struct ms_flow_table *t, const struct ms_flow *keep);
/* Exchanges client and server (a mid-connection guess proved wrong). */
void ms_flow_swap(struct ms_flow_table *t, struct ms_flow *f);
/* Ends flows idle for longer than the timeout at capture time now_us. */
void ms_flow_table_expire(struct ms_flow_table *t, uint64_t now_us);
/* The earliest now_us at which ms_flow_table_expire would end a flow
 * (UINT64_MAX: none is open). */
uint64_t ms_flow_table_next_due(const struct ms_flow_table *t);
/* Ends every flow, oldest activity first (end of input). */
void ms_flow_table_end_all(struct ms_flow_table *t);
const struct ms_flow_stats *ms_flow_table_stats(const struct ms_flow_table *t);
/* The most flows one bucket holds (tests: the bucket hash is keyed). */
size_t ms_flow_table_longest_chain(const struct ms_flow_table *t);
void ms_flow_table_free(struct ms_flow_table *t); /* ends all flows first */

#endif
