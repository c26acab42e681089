/* A ring of bytes holding length-prefixed records, each contiguous: a
 * record that does not fit before the end of the ring goes to its start,
 * and the bytes skipped are marked (MS_SINKQ_WRAP) and counted as used
 * until the writer passes them. The writer reads records in place, so a
 * record is copied once, by the producer. */
#include "sink_queue.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../common/alloc.h"
#include "../common/limits.h"

#define MS_SINKQ_HDR sizeof(uint32_t)
#define MS_SINKQ_WRAP UINT32_MAX

struct ms_sinkq {
    pthread_mutex_t mu;
    pthread_cond_t room;  /* the producer waits for it */
    pthread_cond_t avail; /* the writer waits for records (or close, abort, kick) */
    pthread_cond_t idle;  /* drain waits for an empty queue; sleep for abort */
    uint8_t *buf;
    size_t cap; /* bytes of buf, a multiple of 8 */
    size_t max_records;
    size_t head;     /* where the next record goes */
    size_t tail;     /* the oldest record */
    size_t peek_pos; /* the oldest record not peeked at yet */
    size_t used;     /* bytes held: records and skipped ends */
    size_t skipped;  /* of which the skipped end (one at a time) */
    size_t nrec;     /* records held, those peeked at included */
    size_t npeeked;
    unsigned kicks, kicks_seen; /* a kick not seen yet by peek wakes it */
    unsigned draining;          /* drains waiting: peek gathers no batch */
    /* Who sleeps on avail and room: a push or a release signals only a
     * thread that waits, not one futex call per record. */
    bool writer_waits, producer_waits;
    /* The writer waits with nothing to take, for no time limit: only a
     * push wakes it (one that found records queued may not: a push that
     * waited for room let go of the lock, and the writer took them). */
    bool writer_idle;
    bool gather; /* the last push may wait (reading files): records go by the batch */
    bool closed, aborted;
    struct ms_sink_counters c;
};

static size_t rec_size(size_t len)
{
    return (MS_SINKQ_HDR + len + 7) & ~(size_t)7;
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms)
{
    struct timespec ts;
    deadline_in(&ts, ms);
    pthread_cond_timedwait(cv, mu, &ts);
}

struct ms_sinkq *ms_sinkq_new(size_t max_bytes, size_t max_records)
{
    size_t cap = max_bytes & ~(size_t)7;
    if (cap < 2 * MS_SINKQ_HDR || max_records == 0)
        return NULL;
    struct ms_sinkq *q = ms_calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->buf = ms_malloc(cap);
    pthread_condattr_t ca;
    bool ok = q->buf && pthread_condattr_init(&ca) == 0;
    if (ok) {
        /* Timed waits on the monotonic clock: a clock step is no timeout. */
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        ok = pthread_mutex_init(&q->mu, NULL) == 0;
        ok = ok && pthread_cond_init(&q->room, &ca) == 0;
        ok = ok && pthread_cond_init(&q->avail, &ca) == 0;
        ok = ok && pthread_cond_init(&q->idle, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        /* Only allocation can fail on Linux: nothing else to undo. */
        ms_free(q->buf);
        ms_free(q);
        return NULL;
    }
    q->cap = cap;
    q->max_records = max_records;
    return q;
}

void ms_sinkq_free(struct ms_sinkq *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->room);
    pthread_cond_destroy(&q->avail);
    pthread_cond_destroy(&q->idle);
    pthread_mutex_destroy(&q->mu);
    ms_free(q->buf);
    ms_free(q);
}

/* Where a record of sz bytes goes, and the bytes skipped at the end of the
 * ring to put it there; false when there is no room. */
static bool place(struct ms_sinkq *q, size_t sz, size_t *at, size_t *skip)
{
    *skip = 0;
    if (q->nrec >= q->max_records)
        return false;
    if (q->nrec == 0) {
        q->head = q->tail = q->peek_pos = 0;
        q->used = q->skipped = 0;
    }
    if (q->used == 0) {
        *at = 0;
        return sz <= q->cap;
    }
    if (q->head > q->tail) {
        /* Back to the start as soon as the writer has freed room there
         * and the records have gone past MS_SINK_RING_HOT: a writer that
         * keeps up, taking records by the batch, then keeps the ring's
         * first pages in use, not all of its memory. */
        bool early = q->head >= MS_SINK_RING_HOT && q->tail >= sz;
        if (q->cap - q->head >= sz && !early) {
            *at = q->head;
            return true;
        }
        *at = 0;
        *skip = q->cap - q->head;
        return q->tail >= sz;
    }
    /* head <= tail with records held: the free bytes are between them. */
    *at = q->head;
    return q->tail - q->head >= sz;
}

static void put_len(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint32_t get_len(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Enough records wait to be written at once: a batch, or half the queue. */
static bool batch_ready(const struct ms_sinkq *q)
{
    return q->nrec - q->npeeked >= MS_SINK_BATCH || q->used - q->skipped >= q->cap / 2 ||
           q->nrec >= q->max_records / 2;
}

/* One record in, with q->mu held (wait: see ms_sinkq_push). */
static enum ms_sinkq_push push_locked(struct ms_sinkq *q, const void *rec, size_t len, bool wait,
                                      const volatile sig_atomic_t *stop)
{
    size_t sz = rec_size(len);
    if (len >= MS_SINKQ_WRAP || sz > q->cap) {
        q->c.dropped_too_large++;
        return MS_SINKQ_OVERSIZE;
    }
    size_t at, skip;
    enum ms_sinkq_push why = MS_SINKQ_FULL;
    if (q->closed || q->aborted)
        goto dropped;
    while (!place(q, sz, &at, &skip)) {
        if (!wait || q->closed || q->aborted)
            goto dropped;
        if (stop && *stop) {
            why = MS_SINKQ_STOPPED;
            goto dropped;
        }
        if (q->writer_waits)
            pthread_cond_signal(&q->avail); /* what is queued makes the room */
        q->producer_waits = true;
        wait_ms(&q->room, &q->mu, MS_SINK_POLL_MS);
        q->producer_waits = false;
    }
    if (skip) {
        /* The end of the ring is skipped: say so where the writer looks
         * next (there is always room for the mark: records are 8-aligned). */
        put_len(q->buf + q->head, MS_SINKQ_WRAP);
        q->used += skip;
        q->skipped = skip;
    }
    put_len(q->buf + at, (uint32_t)len);
    memcpy(q->buf + at + MS_SINKQ_HDR, rec, len);
    q->head = at + sz;
    q->used += sz;
    q->nrec++;
    return MS_SINKQ_PUSHED;
dropped:
    q->c.dropped_full++;
    return why;
}

/* After records were pushed, whether to wake the writer: reading files,
 * it is not woken for each record (a system call each) but when it waits
 * idle, for the first, and then for a batch (see peek). Live, each record
 * goes out at once: nothing waits for a batch. The caller signals after
 * letting go of the lock: a writer woken with it held went back to sleep
 * on it at once. */
static bool wake_writer(struct ms_sinkq *q, bool wait)
{
    q->gather = wait;
    return q->writer_waits && (!wait || q->writer_idle || batch_ready(q));
}

enum ms_sinkq_push ms_sinkq_push(struct ms_sinkq *q, const void *rec, size_t len, bool wait,
                                 const volatile sig_atomic_t *stop)
{
    pthread_mutex_lock(&q->mu);
    enum ms_sinkq_push r = push_locked(q, rec, len, wait, stop);
    bool wake = r == MS_SINKQ_PUSHED && wake_writer(q, wait);
    pthread_mutex_unlock(&q->mu);
    if (wake)
        pthread_cond_signal(&q->avail);
    return r;
}

size_t ms_sinkq_push_n(struct ms_sinkq *q, const struct iovec *recs, size_t n, bool wait,
                       const volatile sig_atomic_t *stop)
{
    size_t pushed = 0;
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < n; i++)
        pushed += push_locked(q, recs[i].iov_base, recs[i].iov_len, wait, stop) == MS_SINKQ_PUSHED;
    bool wake = pushed > 0 && wake_writer(q, wait);
    pthread_mutex_unlock(&q->mu);
    if (wake)
        pthread_cond_signal(&q->avail);
    return pushed;
}

void ms_sinkq_count_too_large(struct ms_sinkq *q)
{
    pthread_mutex_lock(&q->mu);
    q->c.dropped_too_large++;
    pthread_mutex_unlock(&q->mu);
}

void ms_sinkq_count_reconnect(struct ms_sinkq *q)
{
    pthread_mutex_lock(&q->mu);
    q->c.reconnects++;
    pthread_mutex_unlock(&q->mu);
}

/* pos, moved past the skipped end of the ring when it is there. */
static size_t unwrap(const struct ms_sinkq *q, size_t pos)
{
    if (pos == q->cap || get_len(q->buf + pos) == MS_SINKQ_WRAP)
        return 0;
    return pos;
}

size_t ms_sinkq_peek(struct ms_sinkq *q, struct iovec *iov, size_t max)
{
    pthread_mutex_lock(&q->mu);
    /* Reading files, records are taken by the batch: an idle writer woken
     * by the first record waits up to MS_SINK_POLL_MS for a batch to
     * gather (a push wakes it when one has), then takes what there is. */
    bool gathered = false;
    while (!q->closed && !q->aborted && q->kicks == q->kicks_seen) {
        size_t ready = q->nrec - q->npeeked;
        if (ready > 0 && (gathered || !q->gather || q->draining || batch_ready(q)))
            break;
        q->writer_waits = true;
        if (ready == 0) {
            q->writer_idle = true;
            pthread_cond_wait(&q->avail, &q->mu);
            q->writer_idle = false;
        } else {
            wait_ms(&q->avail, &q->mu, MS_SINK_POLL_MS);
            gathered = true;
        }
        q->writer_waits = false;
    }
    q->kicks_seen = q->kicks;
    size_t n = 0;
    if (!q->aborted) {
        size_t pos = q->peek_pos;
        while (n < max && q->npeeked < q->nrec) {
            pos = unwrap(q, pos);
            uint32_t len = get_len(q->buf + pos);
            iov[n].iov_base = q->buf + pos + MS_SINKQ_HDR;
            iov[n++].iov_len = len;
            pos += rec_size(len);
            q->npeeked++;
        }
        q->peek_pos = pos;
    }
    pthread_mutex_unlock(&q->mu);
    return n;
}

void ms_sinkq_release_n(struct ms_sinkq *q, size_t n, enum ms_sinkq_outcome outcome)
{
    pthread_mutex_lock(&q->mu);
    bool released = n > 0 && q->npeeked > 0;
    for (; n > 0 && q->npeeked > 0; n--) {
        size_t pos = unwrap(q, q->tail);
        if (pos != q->tail) {
            q->used -= q->cap - q->tail;
            q->skipped = 0;
        }
        size_t sz = rec_size(get_len(q->buf + pos));
        q->tail = pos + sz;
        q->used -= sz;
        q->nrec--;
        q->npeeked--;
        if (outcome == MS_SINKQ_WRITTEN)
            q->c.written++;
        else if (outcome == MS_SINKQ_TOO_LARGE)
            q->c.dropped_too_large++;
        else
            q->c.write_errors++;
    }
    if (released && q->producer_waits)
        pthread_cond_signal(&q->room);
    if (released && q->nrec == 0)
        pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(&q->mu);
}

void ms_sinkq_release(struct ms_sinkq *q, enum ms_sinkq_outcome outcome)
{
    ms_sinkq_release_n(q, 1, outcome);
}

bool ms_sinkq_finished(struct ms_sinkq *q)
{
    pthread_mutex_lock(&q->mu);
    bool done = q->aborted || (q->closed && q->nrec == 0);
    pthread_mutex_unlock(&q->mu);
    return done;
}

bool ms_sinkq_aborted(struct ms_sinkq *q)
{
    pthread_mutex_lock(&q->mu);
    bool a = q->aborted;
    pthread_mutex_unlock(&q->mu);
    return a;
}

bool ms_sinkq_sleep(struct ms_sinkq *q, unsigned ms)
{
    struct timespec until;
    deadline_in(&until, (long)ms);
    pthread_mutex_lock(&q->mu);
    while (!q->aborted && pthread_cond_timedwait(&q->idle, &q->mu, &until) != ETIMEDOUT)
        ;
    bool ok = !q->aborted;
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void ms_sinkq_kick(struct ms_sinkq *q)
{
    pthread_mutex_lock(&q->mu);
    q->kicks++;
    pthread_cond_signal(&q->avail);
    pthread_mutex_unlock(&q->mu);
}

void ms_sinkq_close(struct ms_sinkq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->avail);
    pthread_cond_broadcast(&q->room);
    pthread_mutex_unlock(&q->mu);
}

bool ms_sinkq_drain(struct ms_sinkq *q, long timeout_ms, const volatile sig_atomic_t *stop,
                    long stop_ms)
{
    struct timespec now, until;
    bool bounded = timeout_ms >= 0;
    if (bounded)
        deadline_in(&until, timeout_ms);
    pthread_mutex_lock(&q->mu);
    /* A writer gathering a batch takes what there is now, and until the
     * drain ends, all it finds: a kick woke it once, and with more than a
     * peek's records queued it gathered again for MS_SINK_POLL_MS (50 ms
     * at a stats event's sync that found a port's batch queued, as at the
     * end of a run reading a file). */
    q->draining++;
    pthread_cond_signal(&q->avail);
    while (q->nrec > 0 && !q->aborted) {
        if (stop && *stop && (!bounded || stop_ms < timeout_ms)) {
            /* The user asked to stop: wait at most stop_ms more. */
            deadline_in(&until, stop_ms);
            bounded = true;
            timeout_ms = stop_ms;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (bounded && (now.tv_sec > until.tv_sec ||
                        (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec)))
            break;
        wait_ms(&q->idle, &q->mu, MS_SINK_POLL_MS);
    }
    q->draining--;
    bool empty = q->nrec == 0;
    pthread_mutex_unlock(&q->mu);
    return empty;
}

void ms_sinkq_abort(struct ms_sinkq *q)
{
    pthread_mutex_lock(&q->mu);
    q->aborted = true;
    pthread_cond_broadcast(&q->avail);
    pthread_cond_broadcast(&q->room);
    pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(&q->mu);
}

void ms_sinkq_drop_rest(struct ms_sinkq *q)
{
    pthread_mutex_lock(&q->mu);
    q->c.dropped_full += q->nrec;
    q->nrec = q->npeeked = 0;
    q->used = q->skipped = 0;
    q->head = q->tail = q->peek_pos = 0;
    pthread_mutex_unlock(&q->mu);
}

void ms_sinkq_counters(struct ms_sinkq *q, struct ms_sink_counters *c)
{
    pthread_mutex_lock(&q->mu);
    *c = q->c;
    c->queued = q->nrec;
    pthread_mutex_unlock(&q->mu);
}

size_t ms_sinkq_max_record(const struct ms_sinkq *q)
{
    return q->cap - MS_SINKQ_HDR;
}
