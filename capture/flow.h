/* Flow table: one entry per TCP connection, keyed by the 5-tuple in either
 * direction. Bounded by a maximum count with least-recently-used eviction;
 * idle flows expire on the capture clock, never the wall clock. When a flow
 * ends (explicitly, by timeout, eviction or at the end of input) the table
 * calls on_end once, then frees the entry. */
#ifndef MS_FLOW_H
#define MS_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "decode.h"
#include "tcp_reasm.h"

enum ms_dir { MS_TO_SERVER = 0, MS_TO_CLIENT = 1 };

struct ms_flow {
    struct ms_flow *hnext;               /* hash chain */
    struct ms_flow *lru_prev, *lru_next; /* most recent at the head */
    uint8_t ip_version;
    uint8_t cli_addr[16], srv_addr[16];  /* client = who opened the connection */
    uint16_t cli_port, srv_port;
    uint64_t first_ts_us, last_ts_us;
    uint64_t flow_id;                    /* stable for the connection's events */
    struct ms_tcp_half half[2];          /* indexed by enum ms_dir */
    void *app;                           /* the pipeline's per-flow state */
};

struct ms_flow_table;

typedef void (*ms_flow_end_fn)(void *user, struct ms_flow *f);

struct ms_flow_stats {
    uint64_t created, ended, timed_out, evicted;
    size_t active, peak;
};

struct ms_flow_table *ms_flow_table_new(size_t max_flows, uint64_t timeout_us,
                                        ms_flow_end_fn on_end, void *user);
/* Finds the packet's flow, creating it (and evicting the LRU flow when
 * full). *dir tells which way the packet goes. NULL when out of memory. */
struct ms_flow *ms_flow_lookup(struct ms_flow_table *t, const struct ms_pkt *p,
                               enum ms_dir *dir, bool *created);
/* Ends one flow now (FIN/RST exchange complete). */
void ms_flow_end(struct ms_flow_table *t, struct ms_flow *f);
/* Ends flows idle for longer than the timeout at capture time now_us. */
void ms_flow_table_expire(struct ms_flow_table *t, uint64_t now_us);
/* Ends every flow, oldest activity first (end of input). */
void ms_flow_table_end_all(struct ms_flow_table *t);
const struct ms_flow_stats *ms_flow_table_stats(const struct ms_flow_table *t);
void ms_flow_table_free(struct ms_flow_table *t); /* ends all flows first */

#endif
