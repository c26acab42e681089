/* The reader-to-worker queue (app/workq.h): items come out whole and in
 * order across the ring's end; ms_workq_drained is true as soon as the
 * consumer released the last item it saw, with no further look (a
 * worker's last item ends its thread, and another worker's memo_order
 * may wait for that); a producer that does not wait (live capture) finds
 * the room of every released item once the consumer caught up; items
 * at the ring's very end (a header's room left, and less); and two
 * threads pass random-sized items through a small ring, each side made
 * to wait for the other now and then. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../app/workq.h"

#define SMALL ((size_t)64 * 1024) /* the least ring there is */

/* Item i's bytes: a pattern of i, so a torn or misplaced item shows. */
static uint8_t byte_of(uint64_t i, size_t k)
{
    return (uint8_t)(i * 131u + k * 7u);
}

/* A reserved item made item i (its len bytes, and len again in order),
 * then committed. */
static void fill_commit(struct ms_workq *q, struct ms_work_item *it, uint64_t i)
{
    it->kind = 1;
    it->pkt_no = i;
    it->order = it->len;
    uint8_t *p = (uint8_t *)(it + 1);
    for (size_t k = 0; k < it->len; k++)
        p[k] = byte_of(i, k);
    ms_workq_commit(q, it);
}

/* The front item is item i, whole. */
static void check_item(const struct ms_work_item *it, uint64_t i)
{
    if (it->pkt_no != i || it->order != it->len)
        fail_msg("item %llu: got %llu", (unsigned long long)i, (unsigned long long)it->pkt_no);
    const uint8_t *p = (const uint8_t *)(it + 1);
    for (size_t k = 0; k < it->len; k++) {
        if (p[k] != byte_of(i, k))
            fail_msg("item %llu byte %zu", (unsigned long long)i, k);
    }
}

static void put(struct ms_workq *q, uint64_t i, uint32_t len, bool wait)
{
    struct ms_work_item *it = ms_workq_reserve(q, len, wait);
    assert_non_null(it);
    fill_commit(q, it, i);
}

/* Takes the front item, checks it is item i of len bytes, releases it. */
static void take(struct ms_workq *q, uint64_t i, uint32_t len)
{
    const struct ms_work_item *it = ms_workq_front(q);
    assert_int_equal(it->len, len);
    check_item(it, i);
    ms_workq_release(q);
}

static void test_drained_after_last_release(void **state)
{
    (void)state;
    struct ms_workq *q = ms_workq_new(SMALL);
    assert_non_null(q);
    assert_true(ms_workq_drained(q));
    for (uint64_t i = 0; i < 3; i++)
        put(q, i, 10, true);
    ms_workq_flush(q);
    assert_false(ms_workq_drained(q));
    take(q, 0, 10);
    take(q, 1, 10);
    assert_false(ms_workq_drained(q));
    take(q, 2, 10);
    /* No front() after the last: drained at once. */
    assert_true(ms_workq_drained(q));
    put(q, 3, 0, true);
    assert_false(ms_workq_drained(q));
    take(q, 3, 0);
    assert_true(ms_workq_drained(q));
    ms_workq_free(q);
}

/* One thread: the ring filled until a non-waiting reserve fails, then
 * drained and filled again, with lengths that make items skip the ring's
 * end; once everything taken was released, an item of the largest
 * length always fits. */
static void test_order_across_wrap(void **state)
{
    (void)state;
    struct ms_workq *q = ms_workq_new(SMALL);
    assert_non_null(q);
    uint32_t max = (uint32_t)ms_workq_max_len(q);
    assert_true(max >= SMALL / 4 - 64);
    srand(7);
    uint64_t next_put = 0, next_take = 0;
    uint32_t lens[4096];
    for (int round = 0; round < 300; round++) {
        for (;;) {
            uint32_t len = (uint32_t)rand() % (round % 3 == 0 ? max + 1 : 600);
            struct ms_work_item *it = ms_workq_reserve(q, len, false);
            if (!it)
                break;
            fill_commit(q, it, next_put);
            lens[next_put % 4096] = len;
            next_put++;
            assert_true(next_put - next_take < 4096);
        }
        /* Some rounds take only part, to leave items across the end. */
        uint64_t upto = round % 2 ? next_put : next_take + (next_put - next_take) / 2;
        while (next_take < upto) {
            take(q, next_take, lens[next_take % 4096]);
            next_take++;
        }
        if (next_take == next_put) {
            assert_true(ms_workq_drained(q));
            put(q, next_put, max, false);
            lens[next_put % 4096] = max;
            next_put++;
        }
    }
    while (next_take < next_put) {
        take(q, next_take, lens[next_take % 4096]);
        next_take++;
    }
    assert_true(ms_workq_drained(q));
    ms_workq_free(q);
}

/* Items of total size bytes (each a multiple of 8, at most a quarter of
 * the ring), numbered from *next. */
static void fill_to(struct ms_workq *q, size_t bytes, uint64_t *next, uint32_t *lens)
{
    size_t hdr = sizeof(struct ms_work_item), most = hdr + ms_workq_max_len(q);
    most &= ~(size_t)7;
    while (bytes > 0) {
        size_t size = bytes < most ? bytes : most;
        if (bytes - size != 0 && bytes - size < hdr)
            size -= hdr; /* leave room for a whole last item */
        lens[*next] = (uint32_t)(size - hdr);
        put(q, *next, lens[*next], false);
        ++*next;
        bytes -= size;
    }
}

/* The ring's end exactly: an item whose header just fits before it is
 * taken there; with less room than a header left, the producer skips
 * the rest without a WRAP header and the consumer skips it too. */
static void test_ring_end_edges(void **state)
{
    (void)state;
    size_t hdr = sizeof(struct ms_work_item);
    for (int room = 0; room < 2; room++) {
        struct ms_workq *q = ms_workq_new(SMALL);
        assert_non_null(q);
        uint32_t lens[16];
        uint64_t n = 0, t = 0;
        if (room == 0) {
            fill_to(q, SMALL - hdr, &n, lens);
            lens[n] = 0; /* takes the last hdr bytes, no more */
            put(q, n++, 0, false);
            /* One more at the ring's start, so that a consumer skipping
             * the last item meets this one (and fails) rather than
             * waiting for ever. */
            take(q, t, lens[t]);
            t++;
            lens[n] = 8;
            put(q, n++, 8, false);
        } else {
            fill_to(q, SMALL - hdr + 8, &n, lens);
            while (t < n) {
                take(q, t, lens[t]);
                t++;
            }
            lens[n] = 8; /* does not fit in the hdr - 8 bytes left */
            put(q, n++, 8, false);
        }
        assert_true(n < 16);
        while (t < n) {
            take(q, t, lens[t]);
            t++;
        }
        assert_true(ms_workq_drained(q));
        ms_workq_free(q);
    }
}

#define THREAD_ITEMS 200000u

static void pause_us(long us)
{
    struct timespec ts = { 0, us * 1000 };
    nanosleep(&ts, NULL);
}

static void *producer(void *arg)
{
    struct ms_workq *q = arg;
    unsigned seed = 11;
    uint32_t max = (uint32_t)ms_workq_max_len(q);
    for (uint64_t i = 0; i < THREAD_ITEMS; i++) {
        uint32_t r = (uint32_t)rand_r(&seed);
        uint32_t len = r % 64 == 0 ? r % (max + 1) : r % 1600;
        fill_commit(q, ms_workq_reserve(q, len, true), i);
        /* Now and then the consumer runs dry and sleeps. */
        if (i % 20000 == 19999) {
            ms_workq_flush(q);
            pause_us(3000);
        }
    }
    ms_workq_flush(q);
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    struct ms_workq *q = ms_workq_new(SMALL);
    assert_non_null(q);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, q), 0);
    for (uint64_t i = 0; i < THREAD_ITEMS; i++) {
        check_item(ms_workq_front(q), i);
        ms_workq_release(q);
        /* ... and now and then the producer finds the ring full. */
        if (i % 25000 == 24999)
            pause_us(3000);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(ms_workq_drained(q));
    ms_workq_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drained_after_last_release),
        cmocka_unit_test(test_order_across_wrap),
        cmocka_unit_test(test_ring_end_edges),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
