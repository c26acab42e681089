/* The intrusive recency list (common/lru.h) used by the flow table and IP
 * reassembly: push order, touch, remove anywhere, walking oldest to
 * newest, count, and a randomised run against an array model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/lru.h"

struct item {
    int id;
    struct ms_lru_node node;
};

static int id_of(const struct ms_lru_node *n)
{
    return MS_LRU_ENTRY(n, struct item, node)->id;
}

/* The list, oldest first, as ids; returns how many. */
static size_t walk(const struct ms_lru *l, int *out, size_t max)
{
    size_t k = 0;
    for (const struct ms_lru_node *n = ms_lru_oldest(l); n && k < max; n = ms_lru_newer(n))
        out[k++] = id_of(n);
    return k;
}

static void test_empty(void **state)
{
    (void)state;
    struct ms_lru l;
    ms_lru_init(&l);
    assert_null(ms_lru_oldest(&l));
    assert_null(ms_lru_newest(&l));
    assert_int_equal(ms_lru_count(&l), 0);
}

static void test_push_touch_remove(void **state)
{
    (void)state;
    struct ms_lru l;
    struct item it[4];
    int got[8];
    ms_lru_init(&l);
    for (int i = 0; i < 4; i++) {
        it[i].id = i;
        ms_lru_push(&l, &it[i].node);
    }
    assert_int_equal(ms_lru_count(&l), 4);
    assert_int_equal(id_of(ms_lru_oldest(&l)), 0);
    assert_int_equal(id_of(ms_lru_newest(&l)), 3);
    /* Touching the oldest makes it the newest. */
    ms_lru_touch(&l, &it[0].node);
    assert_int_equal(walk(&l, got, 8), 4);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[3], 0);
    /* Touching the newest changes nothing. */
    ms_lru_touch(&l, &it[0].node);
    assert_int_equal(id_of(ms_lru_newest(&l)), 0);
    /* Remove from the middle, the head and the tail. */
    ms_lru_remove(&l, &it[2].node);
    assert_int_equal(walk(&l, got, 8), 3);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 0);
    ms_lru_remove(&l, &it[1].node);
    ms_lru_remove(&l, &it[0].node);
    assert_int_equal(ms_lru_count(&l), 1);
    assert_int_equal(id_of(ms_lru_oldest(&l)), 3);
    assert_ptr_equal(ms_lru_oldest(&l), ms_lru_newest(&l));
    ms_lru_remove(&l, &it[3].node);
    assert_null(ms_lru_oldest(&l));
    assert_int_equal(ms_lru_count(&l), 0);
    /* A removed node can be linked again. */
    ms_lru_push(&l, &it[2].node);
    assert_int_equal(id_of(ms_lru_oldest(&l)), 2);
}

/* Random pushes, touches and removals against an array kept in recency
 * order. */
static void test_random_against_model(void **state)
{
    (void)state;
    enum { N = 64 };
    struct item it[N];
    bool linked[N];
    int model[N], got[N];
    size_t mlen = 0;
    struct ms_lru l;
    ms_lru_init(&l);
    memset(linked, 0, sizeof(linked));
    srand(12345);
    for (int i = 0; i < N; i++)
        it[i].id = i;
    for (int step = 0; step < 20000; step++) {
        int i = rand() % N;
        int op = rand() % 3;
        if (!linked[i]) {
            ms_lru_push(&l, &it[i].node);
            linked[i] = true;
            model[mlen++] = i;
        } else {
            size_t at = 0;
            while (model[at] != i)
                at++;
            memmove(model + at, model + at + 1, (mlen - at - 1) * sizeof(model[0]));
            mlen--;
            if (op == 0) {
                ms_lru_remove(&l, &it[i].node);
                linked[i] = false;
            } else {
                ms_lru_touch(&l, &it[i].node);
                model[mlen++] = i;
            }
        }
        assert_int_equal(ms_lru_count(&l), mlen);
        if (step % 97 == 0 || mlen < 3) {
            assert_int_equal(walk(&l, got, N), mlen);
            assert_memory_equal(got, model, mlen * sizeof(model[0]));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_push_touch_remove),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
