/* A bounded single-producer single-consumer queue of variable-length items
 * (the reader's packets for one worker thread, app/engine.c): one ring of
 * bytes, each item a header and its bytes, contiguous in the ring.
 *
 * The producer reserves room, fills it and commits; the consumer takes the
 * front item and releases it once done with it (its bytes stay valid until
 * then). Waiting sleeps on a condition variable after a short spin; to keep
 * wake-ups off the per-packet path the producer wakes a sleeping consumer
 * once per MS_WORKQ_WAKE_ITEMS commits, or at ms_workq_flush (which the
 * producer calls before it may wait for anything). */
#ifndef MS_WORKQ_H
#define MS_WORKQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every item starts with this; the bytes follow it. */
struct ms_work_item {
    uint32_t len; /* bytes after the header */
    uint8_t kind; /* the engine's; MS_WORKQ_WRAP is the queue's own */
    int32_t arg;  /* the engine's (a link type) */
    uint64_t ts_us;
    uint64_t pkt_no;
    uint64_t order;  /* the engine's ordering key */
    const void *ptr; /* the engine's (a file name) */
};

#define MS_WORKQ_WRAP 0xffu

struct ms_workq;

/* cap: bytes of the ring (rounded down to a power of two, at least 64
 * KiB); an item may take up to a quarter of it. NULL when out of memory. */
struct ms_workq *ms_workq_new(size_t cap);
void ms_workq_free(struct ms_workq *q);
/* The largest len an item may have: of a ring of cap bytes, and of q's. */
#define MS_WORKQ_ALIGN 8u
#define MS_WORKQ_MAX_LEN(cap) ((cap) / 4 - sizeof(struct ms_work_item) - MS_WORKQ_ALIGN)
size_t ms_workq_max_len(const struct ms_workq *q);

/* Producer: room for an item of len bytes (len <= ms_workq_max_len); waits
 * while the ring is full when wait, else returns NULL at once. */
struct ms_work_item *ms_workq_reserve(struct ms_workq *q, uint32_t len, bool wait);
/* The reserved item (header and bytes filled in) is the consumer's. */
void ms_workq_commit(struct ms_workq *q, struct ms_work_item *it);
/* Wakes the consumer if it sleeps while items wait. */
void ms_workq_flush(struct ms_workq *q);

/* Consumer: the front item, waiting for one. */
const struct ms_work_item *ms_workq_front(struct ms_workq *q);
/* Consumer: an item is there (ms_workq_front would not wait). */
bool ms_workq_ready(struct ms_workq *q);
/* Done with the front item: its room is the producer's again once
 * published (see ms_workq_drained). */
void ms_workq_release(struct ms_workq *q);

/* Any thread: every committed item has been released, as published (the
 * consumer publishes its releases every so many bytes, and at once when
 * it released the last item it saw). */
bool ms_workq_drained(const struct ms_workq *q);

#endif
