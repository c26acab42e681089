/* Recently ended flows, remembered by the hash of their endpoints, so that a
 * late segment of a closed connection, or the rest of an evicted one, is
 * recognised instead of opening a new mid-stream flow. Bounded: at most max
 * entries (when full, the one added longest ago is replaced; adding a key
 * again makes it the newest), each forgotten ttl_us after it was last seen. */
#ifndef MS_FLOW_RECENT_H
#define MS_FLOW_RECENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/rc.h"

struct ms_flow_recent;

/* NULL when out of memory; max 0 is taken as 1. */
struct ms_flow_recent *ms_flow_recent_new(size_t max, uint64_t ttl_us);
/* Remembers key (again) as ended at now_us. */
enum ms_rc ms_flow_recent_add(struct ms_flow_recent *r, uint64_t key, uint64_t now_us);
/* True when key ended less than ttl_us before now_us; a hit keeps it longer. */
bool ms_flow_recent_hit(struct ms_flow_recent *r, uint64_t key, uint64_t now_us);
/* The ended connection's opening SYN, when it was seen: a copy of it that
 * comes late (a SPAN port's duplicate) is no new connection. */
void ms_flow_recent_set_isn(struct ms_flow_recent *r, uint64_t key, uint32_t isn);
/* True when key is remembered with its client's ISN (*isn). */
bool ms_flow_recent_isn(struct ms_flow_recent *r, uint64_t key, uint32_t *isn);
/* A new connection on these endpoints: forget the old one. */
void ms_flow_recent_forget(struct ms_flow_recent *r, uint64_t key);
size_t ms_flow_recent_count(const struct ms_flow_recent *r);
size_t ms_flow_recent_mem(const struct ms_flow_recent *r);
void ms_flow_recent_free(struct ms_flow_recent *r); /* NULL is a no-op */

#endif
