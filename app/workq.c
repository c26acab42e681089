/* See workq.h. Offsets are monotonic 64-bit counts of bytes; the ring
 * index is the offset masked. An item never wraps: when it does not fit
 * before the end of the ring, the rest of the ring is skipped (with a
 * WRAP header when there is room for one).
 *
 * Each side keeps its last look at the other's offset and looks again
 * only when that look says full (the producer) or empty (the consumer).
 * The consumer publishes its head (a store with a full barrier, and a
 * look at whether the producer sleeps) when it has released every item
 * it saw, and else once per PUBLISH bytes: a worker that keeps up still
 * publishes at every item, one that lags behind once per batch. Before,
 * both sides looked at the other's offset and the consumer published at
 * every item, whatever the lag. */
#include "workq.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "../common/alloc.h"
#include "../common/limits.h"

#define HDR sizeof(struct ms_work_item)
#define ALIGN MS_WORKQ_ALIGN
/* At most this many bytes released go unpublished (the room a live
 * reader may find missing, README "Back-pressure"). */
#define PUBLISH(q) ((q)->cap / 32)

/* The producer's and the consumer's fields on cache lines of their own
 * (the padding is the point: no line bounces between the two threads).
 * Padding, not _Alignas: the queue comes from calloc, which aligns to 16
 * bytes only, so an aligned member could still share a line with the
 * other side's (a review found it; engine.c's workers had the same). */
/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): see above */
struct ms_workq {
    uint8_t *ring;
    size_t cap, mask;
    uint8_t pad_before_producer[64];
    /* Producer's side. */
    _Atomic uint64_t tail; /* committed */
    uint64_t ptail;        /* reserved (the producer's own) */
    uint64_t seen_head;    /* head at the producer's last look */
    unsigned unsignaled;   /* commits since the last wake-up */
    _Atomic int prod_sleeping;
    uint8_t pad_before_consumer[64];
    /* Consumer's side. */
    _Atomic uint64_t head; /* released and published */
    uint64_t chead;        /* released (the consumer's own) */
    uint64_t seen_tail;    /* tail at the consumer's last look */
    uint64_t front_end;    /* offset after the front item */
    _Atomic int cons_sleeping;
    pthread_mutex_t mu;
    pthread_cond_t cons_cv, prod_cv;
};

static size_t item_size(uint32_t len)
{
    return (HDR + len + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

struct ms_workq *ms_workq_new(size_t cap)
{
    size_t c = (size_t)64 * 1024;
    while (c * 2 <= cap && c < ((size_t)1 << 30))
        c <<= 1;
    struct ms_workq *q = ms_calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->ring = ms_malloc(c);
    if (!q->ring) {
        ms_free(q);
        return NULL;
    }
    q->cap = c;
    q->mask = c - 1;
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        ms_free(q->ring);
        ms_free(q);
        return NULL;
    }
    if (pthread_cond_init(&q->cons_cv, NULL) != 0 || pthread_cond_init(&q->prod_cv, NULL) != 0) {
        pthread_mutex_destroy(&q->mu);
        ms_free(q->ring);
        ms_free(q);
        return NULL;
    }
    return q;
}

void ms_workq_free(struct ms_workq *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cons_cv);
    pthread_cond_destroy(&q->prod_cv);
    ms_free(q->ring);
    ms_free(q);
}

size_t ms_workq_max_len(const struct ms_workq *q)
{
    return MS_WORKQ_MAX_LEN(q->cap);
}

static void wake(struct ms_workq *q, pthread_cond_t *cv)
{
    pthread_mutex_lock(&q->mu);
    pthread_cond_signal(cv);
    pthread_mutex_unlock(&q->mu);
}

struct ms_work_item *ms_workq_reserve(struct ms_workq *q, uint32_t len, bool wait)
{
    size_t size = item_size(len);
    size_t idx = (size_t)(q->ptail & q->mask);
    size_t skip = q->cap - idx < size ? q->cap - idx : 0;
    for (unsigned spins = 0;; spins++) {
        if (q->cap - (size_t)(q->ptail - q->seen_head) >= skip + size)
            break;
        /* Acquire: the consumer is done with the bytes it released. */
        q->seen_head = atomic_load_explicit(&q->head, memory_order_acquire);
        if (q->cap - (size_t)(q->ptail - q->seen_head) >= skip + size)
            break;
        if (!wait)
            return NULL;
        ms_workq_flush(q);
        if (spins < MS_WORKQ_SPINS) {
            sched_yield();
            continue;
        }
        pthread_mutex_lock(&q->mu);
        atomic_store(&q->prod_sleeping, 1);
        q->seen_head = atomic_load(&q->head);
        if (q->cap - (size_t)(q->ptail - q->seen_head) < skip + size)
            pthread_cond_wait(&q->prod_cv, &q->mu);
        atomic_store(&q->prod_sleeping, 0);
        pthread_mutex_unlock(&q->mu);
    }
    if (skip) {
        if (skip >= HDR) {
            struct ms_work_item *w = (struct ms_work_item *)(void *)(q->ring + idx);
            w->kind = MS_WORKQ_WRAP;
        }
        q->ptail += skip;
        idx = 0;
    }
    struct ms_work_item *it = (struct ms_work_item *)(void *)(q->ring + idx);
    it->len = len;
    return it;
}

void ms_workq_commit(struct ms_workq *q, struct ms_work_item *it)
{
    q->ptail += item_size(it->len);
    /* Release, not a full barrier per item: the barrier a sleeping
     * consumer needs is in ms_workq_flush. */
    atomic_store_explicit(&q->tail, q->ptail, memory_order_release);
    if (++q->unsignaled >= MS_WORKQ_WAKE_ITEMS) {
        q->unsignaled = 0;
        ms_workq_flush(q);
    }
}

void ms_workq_flush(struct ms_workq *q)
{
    /* The tail stored before is seen by a consumer that goes to sleep
     * after this look, or this look sees it asleep (its store of
     * cons_sleeping and look at tail are seq_cst, ms_workq_front). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&q->cons_sleeping))
        wake(q, &q->cons_cv);
}

/* The consumer's releases, seen by the producer, which is woken if it
 * sleeps for room that is now there. */
static void publish(struct ms_workq *q)
{
    /* seq_cst: a producer going to sleep after this sees the head, or
     * this look sees it asleep (its store of prod_sleeping and look at
     * head are seq_cst, ms_workq_reserve). */
    atomic_store(&q->head, q->chead);
    if (atomic_load(&q->prod_sleeping) &&
        q->cap - (size_t)(atomic_load(&q->tail) - q->chead) >= q->cap / 2)
        wake(q, &q->prod_cv);
}

const struct ms_work_item *ms_workq_front(struct ms_workq *q)
{
    for (unsigned spins = 0;; spins++) {
        uint64_t h = q->chead;
        if (h == q->seen_tail)
            q->seen_tail = atomic_load(&q->tail); /* acquire: the items' bytes */
        while (h != q->seen_tail) {
            size_t idx = (size_t)(h & q->mask), rem = q->cap - idx;
            const struct ms_work_item *it = (const struct ms_work_item *)(void *)(q->ring + idx);
            if (rem < HDR || it->kind == MS_WORKQ_WRAP) {
                h += rem;
                q->chead = h;
                continue;
            }
            q->front_end = h + item_size(it->len);
            return it;
        }
        /* Out of items: the last release published (ms_workq_release),
         * and a skip of the ring's end is always followed by its item. */
        if (spins < MS_WORKQ_SPINS) {
            sched_yield();
            continue;
        }
        pthread_mutex_lock(&q->mu);
        atomic_store(&q->cons_sleeping, 1);
        if (atomic_load(&q->tail) == q->chead)
            pthread_cond_wait(&q->cons_cv, &q->mu);
        atomic_store(&q->cons_sleeping, 0);
        pthread_mutex_unlock(&q->mu);
        spins = 0;
    }
}

bool ms_workq_ready(struct ms_workq *q)
{
    if (q->chead == q->seen_tail)
        q->seen_tail = atomic_load(&q->tail); /* acquire, as ms_workq_front */
    /* A skip of the ring's end is always followed by its item. */
    return q->chead != q->seen_tail;
}

void ms_workq_release(struct ms_workq *q)
{
    q->chead = q->front_end;
    /* At once when it was the last item seen: ms_workq_drained is then
     * true before the consumer looks for the next (a worker's last item
     * ends its thread, and another's memo_order may wait for that). */
    if (q->chead == q->seen_tail ||
        q->chead - atomic_load_explicit(&q->head, memory_order_relaxed) >= PUBLISH(q))
        publish(q);
}

bool ms_workq_drained(const struct ms_workq *q)
{
    return atomic_load(&q->head) == atomic_load(&q->tail);
}
