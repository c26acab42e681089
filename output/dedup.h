/* --dedup SECONDS: a credential alert (server, protocol, mechanism, user,
 * secret, outcome) is reported once per period, as dsniff does and as
 * Suricata's thresholding (type limit) does. The first occurrence is
 * reported at once; repeats within the period after a report are
 * suppressed and counted; the first occurrence after the period carries
 * how many were suppressed since the last report, and starts a new period.
 * Time is the capture clock (the event's timestamp), so a file gives the
 * same output on every run.
 *
 * The table holds no secret and no user name: each entry is keyed by a
 * 128-bit keyed hash (SHA-256 under a random per-run key) of the fields,
 * and holds times and counts. Bounded by MS_DEDUP_MAX_ENTRIES with least
 * recently used eviction; an evicted entry's unreported repeats stay
 * counted (ms_dedup_stats.unreported). Single-threaded, like the output. */
#ifndef MS_DEDUP_H
#define MS_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/event.h"

struct ms_dedup;
struct ms_flow_meta;

/* What a reported alert says about the repeats before it. */
struct ms_dedup_report {
    uint64_t suppressed;        /* repeats suppressed since the last report (0: none) */
    uint64_t first_us, last_us; /* capture times of the first and last of them */
};

struct ms_dedup_stats {
    uint64_t suppressed; /* repeats suppressed in the run */
    uint64_t unreported; /* of those, not (yet) counted in a later report */
    uint64_t evicted;    /* entries ended early: the table was full */
    uint64_t entries;    /* entries held now */
};

/* period_us > 0; max_entries > 0. NULL when out of memory. */
struct ms_dedup *ms_dedup_new(uint64_t period_us, size_t max_entries);
/* True: report ev (at m->ts_us) and fill *rep; false: suppress it (counted).
 * Only credential events are ever suppressed; out of memory reports. */
bool ms_dedup_check(struct ms_dedup *d, const struct ms_flow_meta *m, const struct ms_event *ev,
                    struct ms_dedup_report *rep);
uint64_t ms_dedup_period_us(const struct ms_dedup *d);
void ms_dedup_get_stats(const struct ms_dedup *d, struct ms_dedup_stats *st);
/* Tests: calls fn with every block of memory the table holds for entries. */
void ms_dedup_foreach_block(const struct ms_dedup *d,
                            void (*fn)(void *user, const void *p, size_t n), void *user);
void ms_dedup_free(struct ms_dedup *d); /* NULL is a no-op */

#endif
