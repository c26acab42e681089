/* Recently ended flows (capture/flow_recent.c): add, hit, forget, expiry
 * after ttl (a hit keeps an entry longer), replacement of the oldest added
 * when full at max-1, max and max+1 entries, with keys spread over the
 * buckets and with every key in one bucket chain; a randomised test
 * against a FIFO model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../capture/flow_recent.h"

#define TTL 1000u

/* Keys that all fall in one bucket (the table indexes by the low bits). */
static uint64_t same_bucket(uint64_t i)
{
    return (i + 1) << 40;
}

static uint64_t spread(uint64_t i)
{
    return 0x9e3779b97f4a7c15ull * (i + 1);
}

static void test_add_hit_forget(void **state)
{
    (void)state;
    struct ms_flow_recent *r = ms_flow_recent_new(16, TTL);
    assert_non_null(r);
    assert_int_equal(ms_flow_recent_count(r), 0);
    assert_false(ms_flow_recent_hit(r, 42, 0));
    assert_int_equal(ms_flow_recent_add(r, 42, 100), MS_OK);
    assert_int_equal(ms_flow_recent_add(r, 43, 100), MS_OK);
    assert_int_equal(ms_flow_recent_count(r), 2);
    assert_true(ms_flow_recent_hit(r, 42, 200));
    assert_true(ms_flow_recent_hit(r, 43, 200));
    assert_false(ms_flow_recent_hit(r, 44, 200));
    /* Adding again does not add a second entry. */
    assert_int_equal(ms_flow_recent_add(r, 42, 300), MS_OK);
    assert_int_equal(ms_flow_recent_count(r), 2);
    ms_flow_recent_forget(r, 42);
    assert_int_equal(ms_flow_recent_count(r), 1);
    assert_false(ms_flow_recent_hit(r, 42, 300));
    assert_true(ms_flow_recent_hit(r, 43, 300));
    ms_flow_recent_forget(r, 42); /* unknown: nothing */
    ms_flow_recent_forget(r, 7);
    assert_int_equal(ms_flow_recent_count(r), 1);
    /* Forgotten, then added again. */
    assert_int_equal(ms_flow_recent_add(r, 42, 400), MS_OK);
    assert_true(ms_flow_recent_hit(r, 42, 400));
    assert_int_equal(ms_flow_recent_count(r), 2);
    assert_true(ms_flow_recent_mem(r) > 0);
    ms_flow_recent_free(r);
    ms_flow_recent_free(NULL);
    assert_int_equal(ms_flow_recent_count(NULL), 0);
    assert_int_equal(ms_flow_recent_mem(NULL), 0);
}

/* An entry lives ttl after it was added or last hit (exactly ttl is still
 * in), then it is gone for good. */
static void test_ttl(void **state)
{
    (void)state;
    struct ms_flow_recent *r = ms_flow_recent_new(4, TTL);
    assert_non_null(r);
    ms_flow_recent_add(r, 1, 10000);
    ms_flow_recent_add(r, 2, 10000);
    ms_flow_recent_add(r, 3, 10000);
    assert_true(ms_flow_recent_hit(r, 1, 10000 + TTL)); /* exactly ttl: in, kept longer */
    assert_true(ms_flow_recent_hit(r, 1, 10000 + 2 * TTL));
    assert_false(ms_flow_recent_hit(r, 2, 10000 + TTL + 1)); /* past ttl: out */
    assert_false(ms_flow_recent_hit(r, 2, 10000));           /* and gone */
    assert_int_equal(ms_flow_recent_count(r), 2);
    assert_false(ms_flow_recent_hit(r, 1, 10000 + 3 * TTL + 1));
    assert_int_equal(ms_flow_recent_count(r), 1);
    /* Adding again restarts the time. */
    ms_flow_recent_add(r, 3, 10000 + 5 * TTL);
    assert_true(ms_flow_recent_hit(r, 3, 10000 + 6 * TTL));
    /* A clock that went back (files read out of order) is no expiry. */
    assert_true(ms_flow_recent_hit(r, 3, 5));
    assert_true(ms_flow_recent_hit(r, 3, 10000 + 7 * TTL));
    ms_flow_recent_free(r);
}

/* max-1, max and max+1 entries: the table fills up, then the oldest added
 * is replaced by each new one. */
static void fill(uint64_t (*key)(uint64_t), size_t max)
{
    for (size_t extra = 0; extra < 3; extra++) {
        size_t n = max - 1 + extra;
        struct ms_flow_recent *r = ms_flow_recent_new(max, TTL);
        assert_non_null(r);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(ms_flow_recent_add(r, key(i), 100 + i), MS_OK);
        assert_int_equal(ms_flow_recent_count(r), n < max ? n : max);
        size_t lost = n > max ? n - max : 0;
        for (size_t i = 0; i < n; i++) {
            if (i < lost)
                assert_false(ms_flow_recent_hit(r, key(i), 200));
            else
                assert_true(ms_flow_recent_hit(r, key(i), 200));
        }
        /* Then each new one replaces the oldest left. */
        assert_int_equal(ms_flow_recent_add(r, key(n), 300), MS_OK);
        if (n + 1 > max) {
            assert_false(ms_flow_recent_hit(r, key(n - max), 300));
            assert_true(ms_flow_recent_hit(r, key(n - max + 1), 300));
        }
        assert_true(ms_flow_recent_hit(r, key(n), 300));
        assert_int_equal(ms_flow_recent_count(r), n + 1 < max ? n + 1 : max);
        ms_flow_recent_free(r);
    }
}

static void test_full_spread(void **state)
{
    (void)state;
    fill(spread, 1);
    fill(spread, 2);
    fill(spread, 8);
    fill(spread, 1000);
}

static void test_full_same_bucket(void **state)
{
    (void)state;
    fill(same_bucket, 2);
    fill(same_bucket, 8);
    fill(same_bucket, 100);
}

/* max 0 is taken as 1. */
static void test_max_zero(void **state)
{
    (void)state;
    struct ms_flow_recent *r = ms_flow_recent_new(0, TTL);
    assert_non_null(r);
    ms_flow_recent_add(r, 1, 0);
    assert_true(ms_flow_recent_hit(r, 1, 0));
    ms_flow_recent_add(r, 2, 0);
    assert_false(ms_flow_recent_hit(r, 1, 0));
    assert_true(ms_flow_recent_hit(r, 2, 0));
    assert_int_equal(ms_flow_recent_count(r), 1);
    ms_flow_recent_free(r);
}

/* Forgetting in the middle of a bucket chain leaves the rest reachable. */
static void test_forget_in_chain(void **state)
{
    (void)state;
    struct ms_flow_recent *r = ms_flow_recent_new(8, TTL);
    assert_non_null(r);
    for (uint64_t i = 0; i < 6; i++)
        ms_flow_recent_add(r, same_bucket(i), 10);
    ms_flow_recent_forget(r, same_bucket(3));
    ms_flow_recent_forget(r, same_bucket(0));
    ms_flow_recent_forget(r, same_bucket(5));
    for (uint64_t i = 0; i < 6; i++)
        assert_int_equal(ms_flow_recent_hit(r, same_bucket(i), 20), i == 1 || i == 2 || i == 4);
    assert_int_equal(ms_flow_recent_count(r), 3);
    /* An expired entry in the middle of a chain, too. */
    ms_flow_recent_add(r, same_bucket(6), 5000);
    assert_false(ms_flow_recent_hit(r, same_bucket(2), 20 + TTL + 1));
    assert_true(ms_flow_recent_hit(r, same_bucket(6), 5000));
    assert_true(ms_flow_recent_hit(r, same_bucket(4), 20));
    assert_int_equal(ms_flow_recent_count(r), 3);
    ms_flow_recent_free(r);
}

/* "At most max entries, the oldest added is replaced first": replacement
 * is for a full table. With room left (an entry forgotten, or expired),
 * a new entry must not push out a live one. */
static void test_no_replacement_while_room(void **state)
{
    (void)state;
    struct ms_flow_recent *r = ms_flow_recent_new(3, TTL);
    assert_non_null(r);
    ms_flow_recent_add(r, 1, 10);
    ms_flow_recent_add(r, 2, 10);
    ms_flow_recent_add(r, 3, 10);
    ms_flow_recent_forget(r, 2); /* a new connection on 2's endpoints */
    assert_int_equal(ms_flow_recent_count(r), 2);
    ms_flow_recent_add(r, 4, 20); /* room for it: nothing replaced */
    assert_int_equal(ms_flow_recent_count(r), 3);
    assert_true(ms_flow_recent_hit(r, 1, 30));
    assert_true(ms_flow_recent_hit(r, 3, 30));
    assert_true(ms_flow_recent_hit(r, 4, 30));
    ms_flow_recent_free(r);
}

/* Random adds and hits (within ttl: nothing expires, nothing is forgotten)
 * of keys drawn from a small set, many in one bucket, against a list of
 * the keys in the order they were last added. */
static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void test_random_against_fifo(void **state)
{
    (void)state;
    enum { MAX = 37, KEYS = 120 };
    struct ms_flow_recent *r = ms_flow_recent_new(MAX, (uint64_t)1 << 40);
    assert_non_null(r);
    uint64_t fifo[MAX] = { 0 }; /* zeroed for cppcheck: only entries written are read */
    size_t head = 0, count = 0;
    for (int step = 0; step < 200000; step++) {
        uint64_t k = rnd(2) ? same_bucket(rnd(KEYS)) : spread(rnd(KEYS));
        bool in = false;
        for (size_t i = 0; i < count; i++)
            in |= fifo[(head + i) % MAX] == k;
        if (rnd(2)) {
            assert_int_equal(ms_flow_recent_hit(r, k, (uint64_t)step), in);
        } else {
            ms_flow_recent_add(r, k, (uint64_t)step);
            if (in) {
                /* Added again (the flow ended again): it becomes the newest. */
                size_t at = 0;
                while (fifo[(head + at) % MAX] != k)
                    at++;
                for (; at + 1 < count; at++)
                    fifo[(head + at) % MAX] = fifo[(head + at + 1) % MAX];
                count--;
            } else if (count == MAX) {
                head = (head + 1) % MAX;
                count--;
            }
            fifo[(head + count) % MAX] = k;
            count++;
        }
        assert_int_equal(ms_flow_recent_count(r), count);
    }
    ms_flow_recent_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_hit_forget),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_full_spread),
        cmocka_unit_test(test_full_same_bucket),
        cmocka_unit_test(test_max_zero),
        cmocka_unit_test(test_forget_in_chain),
        cmocka_unit_test(test_no_replacement_while_room),
        cmocka_unit_test(test_random_against_fifo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
