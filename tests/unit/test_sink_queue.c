/* The sink queue (output/sink_queue.h): the record and byte caps, the live
 * drop policy (a full queue drops and counts at once), the offline one (a
 * push waits for the writer, and the stop flag ends the wait), records
 * larger than the queue, the drain's time limit, abort and kick, and a
 * randomised run of pushes and releases across the ring's end against a
 * FIFO model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/limits.h"
#include "../../output/sink_queue.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void push_ok(struct ms_sinkq *q, const char *s)
{
    assert_int_equal(ms_sinkq_push(q, s, strlen(s), false, NULL), MS_SINKQ_PUSHED);
}

/* Peeks one record and checks it is s; released as written. */
static void pop_is(struct ms_sinkq *q, const char *s)
{
    struct iovec iov;
    assert_int_equal(ms_sinkq_peek(q, &iov, 1), 1);
    assert_int_equal(iov.iov_len, strlen(s));
    assert_memory_equal(iov.iov_base, s, strlen(s));
    ms_sinkq_release(q, MS_SINKQ_WRITTEN);
}

static void test_record_cap_drops_live(void **state)
{
    (void)state;
    struct ms_sinkq *q = ms_sinkq_new(4096, 3);
    assert_non_null(q);
    push_ok(q, "one");
    push_ok(q, "two");
    push_ok(q, "three");
    /* Live: no waiting, the fourth is dropped and counted. */
    assert_int_equal(ms_sinkq_push(q, "four", 4, false, NULL), MS_SINKQ_FULL);
    struct ms_sink_counters c;
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.dropped_full, 1);
    assert_int_equal(c.queued, 3);
    pop_is(q, "one");
    push_ok(q, "five"); /* room again */
    pop_is(q, "two");
    pop_is(q, "three");
    pop_is(q, "five");
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.written, 4);
    assert_int_equal(c.queued, 0);
    ms_sinkq_free(q);
}

static void test_byte_cap_and_wrap(void **state)
{
    (void)state;
    /* 64 bytes: a 20-byte record takes 24 (length prefix, 8-aligned). */
    struct ms_sinkq *q = ms_sinkq_new(64, 100);
    assert_non_null(q);
    const char *a = "aaaaaaaaaaaaaaaaaaaa", *b = "bbbbbbbbbbbbbbbbbbbb",
               *c = "cccccccccccccccccccc";
    push_ok(q, a);
    push_ok(q, b);
    assert_int_equal(ms_sinkq_push(q, c, 20, false, NULL), MS_SINKQ_FULL);
    pop_is(q, a);
    /* 16 bytes left at the end, 24 free at the start: c goes to the start. */
    push_ok(q, c);
    assert_int_equal(ms_sinkq_push(q, "d", 1, false, NULL), MS_SINKQ_FULL);
    pop_is(q, b);
    pop_is(q, c);
    struct ms_sink_counters cnt;
    ms_sinkq_counters(q, &cnt);
    assert_int_equal(cnt.dropped_full, 2);
    assert_int_equal(cnt.written, 3);
    /* Over the whole ring: too large, whether waiting or not. */
    char big[80];
    memset(big, 'x', sizeof(big));
    assert_int_equal(ms_sinkq_push(q, big, sizeof(big), true, NULL), MS_SINKQ_OVERSIZE);
    assert_int_equal(ms_sinkq_push(q, big, 61, false, NULL), MS_SINKQ_OVERSIZE);
    assert_int_equal(ms_sinkq_push(q, big, 60, false, NULL), MS_SINKQ_PUSHED); /* 64 exactly */
    ms_sinkq_counters(q, &cnt);
    assert_int_equal(cnt.dropped_too_large, 2);
    ms_sinkq_free(q);
}

/* A writer that keeps a few records behind (taking them by the batch)
 * keeps its records in the ring's first MS_SINK_RING_HOT bytes and a
 * little: the ring goes back to its start early, and every record still
 * comes out whole and in order across those early wraps. */
static void test_ring_stays_hot(void **state)
{
    (void)state;
    size_t cap = 8 * MS_SINK_RING_HOT;
    struct ms_sinkq *q = ms_sinkq_new(cap, MS_SINK_QUEUE_RECORDS);
    assert_non_null(q);
    static char rec[1000];
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    unsigned pushed = 0, popped = 0;
    for (unsigned round = 0; round < 5000; round++) {
        for (int k = 0; k < 7; k++, pushed++) {
            memset(rec, 'a' + (int)(pushed % 26), sizeof(rec));
            memcpy(rec, &pushed, sizeof(pushed));
            assert_int_equal(ms_sinkq_push(q, rec, sizeof(rec), false, NULL), MS_SINKQ_PUSHED);
        }
        /* Leave a few behind, as a batch being gathered does. */
        while (pushed - popped > 5) {
            struct iovec iov;
            assert_int_equal(ms_sinkq_peek(q, &iov, 1), 1);
            assert_int_equal(iov.iov_len, sizeof(rec));
            unsigned n;
            memcpy(&n, iov.iov_base, sizeof(n));
            assert_int_equal(n, popped);
            assert_int_equal(((const char *)iov.iov_base)[sizeof(rec) - 1], 'a' + (int)(n % 26));
            uintptr_t at = (uintptr_t)iov.iov_base;
            lo = at < lo ? at : lo;
            hi = at > hi ? at : hi;
            ms_sinkq_release(q, MS_SINKQ_WRITTEN);
            popped++;
        }
    }
    assert_true(hi - lo < MS_SINK_RING_HOT + 16 * sizeof(rec));
    struct ms_sink_counters c;
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.written, popped);
    assert_int_equal(c.dropped_full, 0);
    ms_sinkq_free(q);
}

struct consumer {
    struct ms_sinkq *q;
    long delay_ms;
    long released_at;
    pthread_t raise_in; /* raiser: the thread whose stop flag it raises */
};

static void *slow_consumer(void *arg)
{
    struct consumer *k = arg;
    usleep((useconds_t)k->delay_ms * 1000);
    struct iovec iov;
    if (ms_sinkq_peek(k->q, &iov, 1) == 1) {
        k->released_at = now_ms();
        ms_sinkq_release(k->q, MS_SINKQ_WRITTEN);
    }
    return NULL;
}

/* Takes n records, one at a time, 20 ms apart (a slow writer). */
struct popper {
    struct ms_sinkq *q;
    size_t n;
    char seen[4][8];
};

static void *popper_main(void *arg)
{
    struct popper *k = arg;
    for (size_t i = 0; i < k->n; i++) {
        usleep(20000);
        struct iovec iov;
        if (ms_sinkq_peek(k->q, &iov, 1) != 1 || iov.iov_len >= sizeof(k->seen[i]))
            break;
        memcpy(k->seen[i], iov.iov_base, iov.iov_len);
        ms_sinkq_release(k->q, MS_SINKQ_WRITTEN);
    }
    return NULL;
}

/* The stop flag is raised as mailspill raises it: by a signal handler, in
 * the thread that waits (writing it from another thread would be a data
 * race on a sig_atomic_t). */
static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void *raiser(void *arg)
{
    struct consumer *k = arg;
    usleep((useconds_t)k->delay_ms * 1000);
    pthread_kill(k->raise_in, SIGUSR1);
    return NULL;
}

static void test_offline_push_waits_for_room(void **state)
{
    (void)state;
    struct ms_sinkq *q = ms_sinkq_new(4096, 1);
    assert_non_null(q);
    push_ok(q, "first");
    struct consumer k = { .q = q, .delay_ms = 150 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_consumer, &k), 0);
    long t0 = now_ms();
    volatile sig_atomic_t stop = 0;
    /* Offline: waits until the writer released "first", drops nothing. */
    assert_int_equal(ms_sinkq_push(q, "second", 6, true, &stop), MS_SINKQ_PUSHED);
    long t1 = now_ms();
    pthread_join(t, NULL);
    assert_true(t1 - t0 >= 100);
    assert_true(k.released_at != 0 && t1 >= k.released_at);
    struct ms_sink_counters c;
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.dropped_full, 0);
    pop_is(q, "second");
    ms_sinkq_free(q);
}

static void test_offline_wait_ends_on_stop(void **state)
{
    (void)state;
    struct ms_sinkq *q = ms_sinkq_new(4096, 1);
    assert_non_null(q);
    push_ok(q, "first");
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    stop_flag = 0;
    struct consumer k = { q, 100, 0, pthread_self() };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raiser, &k), 0);
    long t0 = now_ms();
    /* No writer: only the stop flag (SIGINT) ends the wait. */
    assert_int_equal(ms_sinkq_push(q, "second", 6, true, &stop_flag), MS_SINKQ_STOPPED);
    long took = now_ms() - t0;
    pthread_join(t, NULL);
    sigaction(SIGUSR1, &old, NULL);
    assert_true(took >= 90 && took < 1000);
    struct ms_sink_counters c;
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.dropped_full, 1);
    assert_int_equal(c.queued, 1);
    ms_sinkq_free(q);
}

static void test_drain_limits_and_abort(void **state)
{
    (void)state;
    struct ms_sinkq *q = ms_sinkq_new(4096, 8);
    assert_non_null(q);
    push_ok(q, "stuck");
    ms_sinkq_close(q);
    /* Closed: pushes drop at once, even waiting ones. */
    assert_int_equal(ms_sinkq_push(q, "late", 4, true, NULL), MS_SINKQ_FULL);
    long t0 = now_ms();
    assert_false(ms_sinkq_drain(q, 120, NULL, 0));
    long took = now_ms() - t0;
    assert_true(took >= 110 && took < 1000);
    /* Stop raised: an unbounded drain waits stop_ms at most. */
    volatile sig_atomic_t stop = 1;
    t0 = now_ms();
    assert_false(ms_sinkq_drain(q, -1, &stop, 100));
    took = now_ms() - t0;
    assert_true(took >= 90 && took < 1000);
    assert_false(ms_sinkq_finished(q));
    /* Abort: the writer's sleep ends early, and peek gives nothing. */
    ms_sinkq_abort(q);
    t0 = now_ms();
    assert_false(ms_sinkq_sleep(q, 5000));
    assert_true(now_ms() - t0 < 1000);
    struct iovec iov;
    assert_int_equal(ms_sinkq_peek(q, &iov, 1), 0);
    assert_true(ms_sinkq_finished(q));
    ms_sinkq_drop_rest(q);
    struct ms_sink_counters c;
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.dropped_full, 2); /* "late", then "stuck" at the end */
    assert_int_equal(c.queued, 0);
    ms_sinkq_free(q);
}

static void *kicker(void *arg)
{
    usleep(50000);
    ms_sinkq_kick(arg);
    return NULL;
}

static void test_kick_wakes_peek(void **state)
{
    (void)state;
    struct ms_sinkq *q = ms_sinkq_new(4096, 8);
    assert_non_null(q);
    /* A kick given before the writer waits is not lost. */
    ms_sinkq_kick(q);
    struct iovec iov;
    assert_int_equal(ms_sinkq_peek(q, &iov, 1), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, kicker, q), 0);
    assert_int_equal(ms_sinkq_peek(q, &iov, 1), 0);
    pthread_join(t, NULL);
    assert_false(ms_sinkq_finished(q));
    ms_sinkq_free(q);
}

/* A writer taking one record at a time, until the queue is closed. */
static void *one_by_one(void *arg)
{
    struct ms_sinkq *q = arg;
    struct iovec iov;
    for (;;) {
        if (ms_sinkq_peek(q, &iov, 1) == 1)
            ms_sinkq_release(q, MS_SINKQ_WRITTEN);
        else if (ms_sinkq_finished(q))
            return NULL;
    }
}

/* Reading files, a drain (a stats event's sync) has the writer take every
 * record there is at once, however many peeks it takes: with a kick
 * alone, each peek after the first gathered a batch for MS_SINK_POLL_MS
 * again (50 ms at the end of a run whose last port batch was still
 * queued). 11 records, a peek each: 10 x 50 ms with that bug; the bound
 * only leaves room for a loaded machine. */
static void test_drain_takes_all_at_once(void **state)
{
    (void)state;
    struct ms_sinkq *q = ms_sinkq_new(1 << 16, 64);
    assert_non_null(q);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, one_by_one, q), 0);
    volatile sig_atomic_t stop = 0;
    static char rec[11][100];
    struct iovec v[11];
    for (int i = 0; i < 11; i++) {
        memset(rec[i], 'a' + i, sizeof(rec[i]));
        v[i] = (struct iovec){ rec[i], sizeof(rec[i]) };
    }
    assert_int_equal(ms_sinkq_push_n(q, v, 11, true, &stop), 11);
    long t0 = now_ms();
    assert_true(ms_sinkq_drain(q, -1, NULL, 0));
    long took = now_ms() - t0;
    assert_true(took < 5L * MS_SINK_POLL_MS);
    ms_sinkq_close(q);
    pthread_join(t, NULL);
    struct ms_sink_counters c;
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.written, 11);
    ms_sinkq_free(q);
}

/* Random sizes through a small ring: every record comes out whole, in
 * order, and the counters add up. */
/* ms_sinkq_push_n: in order, each record as a push of its own would be
 * (an oversize one and, live, those past a full queue dropped and
 * counted; the others queued); reading files, it waits for room. */
static void test_push_n(void **state)
{
    (void)state;
    struct ms_sinkq *q = ms_sinkq_new(1024, 64);
    assert_non_null(q);
    static char big[2000], rec[12][100];
    memset(big, 'x', sizeof(big));
    struct iovec v[12] = { { "first", 5 }, { big, sizeof(big) }, { "second", 6 } };
    assert_int_equal(ms_sinkq_push_n(q, v, 3, false, NULL), 2);
    struct ms_sink_counters c;
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.dropped_too_large, 1);
    assert_int_equal(c.queued, 2);
    pop_is(q, "first");
    pop_is(q, "second");
    /* 104 bytes each in the ring: 9 fit in 1024; live, the rest drop. */
    for (int i = 0; i < 12; i++) {
        memset(rec[i], 'a' + i, sizeof(rec[i]));
        v[i] = (struct iovec){ rec[i], sizeof(rec[i]) };
    }
    assert_int_equal(ms_sinkq_push_n(q, v, 12, false, NULL), 9);
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.dropped_full, 3);
    for (int i = 0; i < 9; i++) {
        struct iovec iov;
        assert_int_equal(ms_sinkq_peek(q, &iov, 1), 1);
        assert_memory_equal(iov.iov_base, rec[i], sizeof(rec[i]));
        ms_sinkq_release(q, MS_SINKQ_WRITTEN);
    }
    ms_sinkq_free(q);

    /* Offline: a queue of one record takes two more, each as the writer
     * frees room, in order. */
    q = ms_sinkq_new(4096, 1);
    assert_non_null(q);
    push_ok(q, "zero");
    struct popper k = { .q = q, .n = 2 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, popper_main, &k), 0);
    volatile sig_atomic_t stop = 0;
    struct iovec w[2] = { { "one", 3 }, { "two", 3 } };
    assert_int_equal(ms_sinkq_push_n(q, w, 2, true, &stop), 2);
    pthread_join(t, NULL);
    assert_string_equal(k.seen[0], "zero");
    assert_string_equal(k.seen[1], "one");
    pop_is(q, "two");
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.dropped_full, 0);
    assert_int_equal(c.written, 3);
    ms_sinkq_free(q);
}

/* A writer that takes records by the batch, each batch written slowly,
 * until the queue is closed. */
static void *batch_writer(void *arg)
{
    struct ms_sinkq *q = arg;
    struct iovec iov[MS_SINK_BATCH];
    for (;;) {
        size_t n = ms_sinkq_peek(q, iov, MS_SINK_BATCH);
        if (n == 0) {
            if (ms_sinkq_finished(q))
                return NULL;
            continue;
        }
        usleep(30000);
        ms_sinkq_release_n(q, n, MS_SINKQ_WRITTEN);
    }
}

/* Reading files, a push that waited for room let go of the lock; the
 * writer took all there was and went to sleep with nothing to take. The
 * records pushed after must wake it, or they stay queued for as long as
 * the input is quiet (a review found them so in 20 trials of 20, with
 * push and with push_n; and a pipe paused 2 s with --threads lost lines
 * of its output for that long). */
static void test_no_lost_wakeup(void **state)
{
    (void)state;
    static char rec[5][1000];
    for (int i = 0; i < 5; i++)
        memset(rec[i], 'a' + i, sizeof(rec[i]));
    for (int by_n = 0; by_n < 2; by_n++) {
        for (int trial = 0; trial < 3; trial++) {
            struct ms_sinkq *q = ms_sinkq_new(4096, 64);
            assert_non_null(q);
            pthread_t t;
            assert_int_equal(pthread_create(&t, NULL, batch_writer, q), 0);
            usleep(20000); /* the writer waits, idle */
            volatile sig_atomic_t stop = 0;
            assert_int_equal(ms_sinkq_push(q, rec[0], 1000, true, &stop), MS_SINKQ_PUSHED);
            if (by_n) {
                struct iovec v[4] = {
                    { rec[1], 1000 }, { rec[2], 1000 }, { rec[3], 1000 }, { rec[4], 1000 }
                };
                assert_int_equal(ms_sinkq_push_n(q, v, 4, true, &stop), 4);
            } else {
                for (int i = 1; i < 5; i++)
                    assert_int_equal(ms_sinkq_push(q, rec[i], 1000, true, &stop), MS_SINKQ_PUSHED);
            }
            /* Nothing more comes: all is written within a few batches'
             * time (the bound only leaves room for a loaded machine). */
            struct ms_sink_counters c;
            long t0 = now_ms();
            do {
                usleep(10000);
                ms_sinkq_counters(q, &c);
            } while (c.queued > 0 && now_ms() - t0 < 3000);
            assert_int_equal(c.queued, 0);
            assert_int_equal(c.written, 5);
            ms_sinkq_close(q);
            pthread_join(t, NULL);
            ms_sinkq_free(q);
        }
    }
}

static void test_random_fifo(void **state)
{
    (void)state;
    enum { N = 20000, MAXLEN = 300 };
    struct ms_sinkq *q = ms_sinkq_new(1000, 16);
    assert_non_null(q);
    srand(12345);
    unsigned next_in = 0, next_out = 0, dropped = 0, too_large = 0;
    uint8_t rec[MAXLEN + 1100];
    for (unsigned step = 0; step < N; step++) {
        if (rand() % 3) {
            size_t len = (size_t)(rand() % MAXLEN) + (rand() % 50 == 0 ? 1000 : 0);
            memset(rec, 0, sizeof(rec));
            memcpy(rec, &next_in, sizeof(next_in));
            enum ms_sinkq_push r = ms_sinkq_push(q, rec, len < 4 ? 4 : len, false, NULL);
            if (r == MS_SINKQ_PUSHED)
                next_in++;
            else if (r == MS_SINKQ_FULL)
                dropped++;
            else
                too_large++;
        } else {
            struct ms_sink_counters c;
            ms_sinkq_counters(q, &c);
            if (c.queued == 0)
                continue;
            struct iovec iov[4];
            size_t n = ms_sinkq_peek(q, iov, (size_t)(rand() % 4) + 1);
            for (size_t i = 0; i < n; i++) {
                unsigned id;
                memcpy(&id, iov[i].iov_base, sizeof(id));
                assert_int_equal(id, next_out);
                next_out++;
                ms_sinkq_release(q, MS_SINKQ_WRITTEN);
            }
        }
    }
    struct ms_sink_counters c;
    ms_sinkq_counters(q, &c);
    assert_int_equal(c.written, next_out);
    assert_int_equal(c.queued, next_in - next_out);
    assert_int_equal(c.dropped_full, dropped);
    assert_int_equal(c.dropped_too_large, too_large);
    assert_true(dropped > 0 && too_large > 0 && next_out > 1000);
    ms_sinkq_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_cap_drops_live),
        cmocka_unit_test(test_byte_cap_and_wrap),
        cmocka_unit_test(test_ring_stays_hot),
        cmocka_unit_test(test_offline_push_waits_for_room),
        cmocka_unit_test(test_offline_wait_ends_on_stop),
        cmocka_unit_test(test_drain_limits_and_abort),
        cmocka_unit_test(test_drain_takes_all_at_once),
        cmocka_unit_test(test_kick_wakes_peek),
        cmocka_unit_test(test_push_n),
        cmocka_unit_test(test_no_lost_wakeup),
        cmocka_unit_test(test_random_fifo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
