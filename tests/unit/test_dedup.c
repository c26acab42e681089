/* The --dedup table (output/dedup.h): the period on the capture clock,
 * what makes two alerts the same, eviction at the cap with the counts
 * kept, and that no secret and no user name is in its memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "../../output/dedup.h"
#include "../../output/output.h"

#define SEC 1000000ull

static const uint8_t srv[4] = { 10, 0, 0, 1 }, cli[4] = { 10, 0, 0, 5 };
static const char secret[] = "Tr0ub4dor&3-horse-battery";
static const char uname[] = "alice.wonderland@example.org";

static bool see(struct ms_dedup *d, uint64_t ts, const char *pw, enum ms_outcome o,
                struct ms_dedup_report *rep)
{
    struct ms_flow_meta m = { .ts_us = ts,
                              .flow_id = 1,
                              .ip_version = 4,
                              .src_addr = cli,
                              .src_port = 40000,
                              .dest_addr = srv,
                              .dest_port = 110 };
    struct ms_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = MS_EV_CREDENTIAL;
    ev.app_proto = "pop3";
    ev.u.cred.command = "USER";
    ev.u.cred.mechanism = "USER";
    ev.u.cred.username = ms_bytes_of(uname, strlen(uname));
    ev.u.cred.password = ms_bytes_of(pw, strlen(pw));
    ev.u.cred.outcome = o;
    return ms_dedup_check(d, &m, &ev, rep);
}

static void test_period(void **state)
{
    (void)state;
    struct ms_dedup *d = ms_dedup_new(3600 * SEC, 16);
    struct ms_dedup_report rep;
    assert_non_null(d);
    assert_true(see(d, 1000 * SEC, secret, MS_OUTCOME_SUCCESS, &rep));
    assert_int_equal(rep.suppressed, 0);
    assert_false(see(d, 1800 * SEC, secret, MS_OUTCOME_SUCCESS, &rep));
    assert_false(see(d, 4599 * SEC, secret, MS_OUTCOME_SUCCESS, &rep));
    /* Another secret, another outcome: other alerts. */
    assert_true(see(d, 1900 * SEC, "other", MS_OUTCOME_SUCCESS, &rep));
    assert_true(see(d, 1900 * SEC, secret, MS_OUTCOME_FAILURE, &rep));
    /* A clock that went back counts as within the period. */
    assert_false(see(d, 10 * SEC, secret, MS_OUTCOME_SUCCESS, &rep));
    assert_true(see(d, 4600 * SEC, secret, MS_OUTCOME_SUCCESS, &rep));
    assert_int_equal(rep.suppressed, 3);
    assert_int_equal(rep.first_us, 1800 * SEC);
    assert_int_equal(rep.last_us, 10 * SEC);
    struct ms_dedup_stats st;
    ms_dedup_get_stats(d, &st);
    assert_int_equal(st.suppressed, 3);
    assert_int_equal(st.unreported, 0);
    assert_int_equal(st.entries, 3);
    /* A clock that went back a period or more starts a new one: the
     * same login a month later, then days earlier (an older capture read
     * after), is reported each time, and held back within its period. */
    const uint64_t day = 86400 * SEC;
    assert_true(see(d, 4600 * SEC + 30 * day, secret, MS_OUTCOME_SUCCESS, &rep));
    assert_true(see(d, 4600 * SEC + 2 * day, secret, MS_OUTCOME_SUCCESS, &rep));
    assert_int_equal(rep.suppressed, 0);
    assert_false(see(d, 4600 * SEC + 2 * day + 100 * SEC, secret, MS_OUTCOME_SUCCESS, &rep));
    assert_true(see(d, 4600 * SEC + 1 * day, secret, MS_OUTCOME_SUCCESS, &rep));
    assert_int_equal(rep.suppressed, 1);
    ms_dedup_free(d);
}

static void test_evict_keeps_counts(void **state)
{
    (void)state;
    struct ms_dedup *d = ms_dedup_new(3600 * SEC, 2);
    struct ms_dedup_report rep;
    assert_true(see(d, 1 * SEC, "a", MS_OUTCOME_SUCCESS, &rep));
    assert_false(see(d, 2 * SEC, "a", MS_OUTCOME_SUCCESS, &rep));
    assert_true(see(d, 3 * SEC, "b", MS_OUTCOME_SUCCESS, &rep));
    assert_true(see(d, 4 * SEC, "c", MS_OUTCOME_SUCCESS, &rep)); /* "a" goes */
    struct ms_dedup_stats st;
    ms_dedup_get_stats(d, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.unreported, 1);
    /* "a" forgotten: reported again at once. */
    assert_true(see(d, 5 * SEC, "a", MS_OUTCOME_SUCCESS, &rep));
    assert_int_equal(rep.suppressed, 0);
    ms_dedup_free(d);
}

struct scan {
    const char *needle;
    size_t n;
    bool found;
    size_t blocks;
};

static void scan_block(void *user, const void *p, size_t n)
{
    struct scan *s = user;
    s->blocks++;
    for (size_t i = 0; i + s->n <= n; i++)
        if (memcmp((const char *)p + i, s->needle, s->n) == 0)
            s->found = true;
}

/* No part of the secret or the user name of 4 bytes or more is in the
 * table's memory: only the digest. */
static void test_no_secret_in_state(void **state)
{
    (void)state;
    struct ms_dedup *d = ms_dedup_new(3600 * SEC, 16);
    struct ms_dedup_report rep;
    see(d, 1 * SEC, secret, MS_OUTCOME_SUCCESS, &rep);
    see(d, 2 * SEC, secret, MS_OUTCOME_SUCCESS, &rep);
    see(d, 3 * SEC, secret, MS_OUTCOME_FAILURE, &rep);
    const char *texts[] = { secret, uname };
    for (size_t t = 0; t < 2; t++) {
        size_t len = strlen(texts[t]);
        for (size_t at = 0; at + 4 <= len; at++) {
            struct scan s = { texts[t] + at, 4, false, 0 };
            ms_dedup_foreach_block(d, scan_block, &s);
            assert_int_equal(s.blocks, 3); /* the table and its 2 entries */
            assert_false(s.found);
        }
    }
    ms_dedup_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period),
        cmocka_unit_test(test_evict_keeps_counts),
        cmocka_unit_test(test_no_secret_in_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
