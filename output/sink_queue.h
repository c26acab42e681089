/* The bounded queue between the pipeline and one sink's writer thread
 * (output/sink.c): one producer (the pipeline), one consumer (the writer).
 * Records are copied into a ring of bytes allocated once, so a queue never
 * allocates after it is made and holds at most max_bytes and max_records.
 *
 * When the queue is full, a push either fails at once (live capture: the
 * record is dropped and counted, capture never waits) or waits for room
 * (reading files: back-pressure, nothing is dropped) until the stop flag is
 * raised. The writer peeks at the oldest records, writes them in place and
 * releases them; what it released, and how, is counted here, under the
 * queue's lock, so one snapshot reads every counter of a sink at once. */
#ifndef MS_SINK_QUEUE_H
#define MS_SINK_QUEUE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* A sink's counters (README "Sinks"; the stats event's output.sink.*). */
struct ms_sink_counters {
    uint64_t written;           /* records delivered */
    uint64_t dropped_full;      /* queue full (live), or undelivered at exit */
    uint64_t dropped_too_large; /* over the sink's record cap: dropped, never cut */
    uint64_t write_errors;      /* a write failed and the record was given up (files) */
    uint64_t reconnects;        /* connections made again after one was lost */
    uint64_t queued;            /* records in the queue now (being written included) */
};

/* How the writer is done with a record. */
enum ms_sinkq_outcome {
    MS_SINKQ_WRITTEN = 0,
    MS_SINKQ_TOO_LARGE,
    MS_SINKQ_FAILED,
};

enum ms_sinkq_push {
    MS_SINKQ_PUSHED = 0,
    MS_SINKQ_FULL,     /* dropped: no room (and not waiting, or the queue is closed) */
    MS_SINKQ_OVERSIZE, /* dropped: larger than the whole queue */
    MS_SINKQ_STOPPED,  /* dropped: the stop flag was raised while waiting for room */
};

struct ms_sinkq;

/* max_bytes: the ring (records take 4 bytes more, rounded up to 8);
 * max_records: at most this many queued. NULL when out of memory. */
struct ms_sinkq *ms_sinkq_new(size_t max_bytes, size_t max_records);
void ms_sinkq_free(struct ms_sinkq *q);

/* Copies a record in. wait: wait for room, checking *stop (when stop is
 * not NULL) every MS_SINK_POLL_MS; otherwise drop it when there is none. */
enum ms_sinkq_push ms_sinkq_push(struct ms_sinkq *q, const void *rec, size_t len, bool wait,
                                 const volatile sig_atomic_t *stop);
/* ms_sinkq_push of n records in turn, under one lock (the writer woken
 * once); how many were pushed (the others are counted as push counts
 * them). */
size_t ms_sinkq_push_n(struct ms_sinkq *q, const struct iovec *recs, size_t n, bool wait,
                       const volatile sig_atomic_t *stop);
/* Counts a record the sink refused before queueing it (over its cap). */
void ms_sinkq_count_too_large(struct ms_sinkq *q);
void ms_sinkq_count_reconnect(struct ms_sinkq *q);

/* Writer: waits until there are records, the queue is closed and empty,
 * it is aborted, or it is kicked; points iov at up to max of the oldest
 * records (in place, valid until released) and returns how many (0: look
 * at ms_sinkq_finished and at why it was kicked). */
size_t ms_sinkq_peek(struct ms_sinkq *q, struct iovec *iov, size_t max);
/* Releases the oldest record peeked at, counted as outcome. */
void ms_sinkq_release(struct ms_sinkq *q, enum ms_sinkq_outcome outcome);
/* Releases the n oldest records peeked at (fewer when fewer were), each
 * counted as outcome: a batch written at once takes the lock once. */
void ms_sinkq_release_n(struct ms_sinkq *q, size_t n, enum ms_sinkq_outcome outcome);
/* True once closed and empty, or aborted: the writer ends. */
bool ms_sinkq_finished(struct ms_sinkq *q);
bool ms_sinkq_aborted(struct ms_sinkq *q);
/* Sleeps up to ms milliseconds (a reconnect's backoff); returns early,
 * false, when the queue is aborted. */
bool ms_sinkq_sleep(struct ms_sinkq *q, unsigned ms);
/* Wakes a waiting peek (with 0 records): the sink has asked something of
 * its writer (a reopen). */
void ms_sinkq_kick(struct ms_sinkq *q);

/* Pipeline side. Close: no more pushes; the writer drains what is left. */
void ms_sinkq_close(struct ms_sinkq *q);
/* Waits until every record is released. timeout_ms < 0: no time limit;
 * stop (may be NULL): when raised, waits at most stop_ms from then on.
 * Returns true when empty. */
bool ms_sinkq_drain(struct ms_sinkq *q, long timeout_ms, const volatile sig_atomic_t *stop,
                    long stop_ms);
/* Gives up: the writer stops at its next look at the queue; a push fails. */
void ms_sinkq_abort(struct ms_sinkq *q);
/* After the writer ended: the records still queued count as dropped. */
void ms_sinkq_drop_rest(struct ms_sinkq *q);

void ms_sinkq_counters(struct ms_sinkq *q, struct ms_sink_counters *c);
/* The longest record a push takes (longer ones: MS_SINKQ_OVERSIZE). */
size_t ms_sinkq_max_record(const struct ms_sinkq *q);

#endif
