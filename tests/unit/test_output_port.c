/* A worker's port of the output (output.h's ms_output_port_new): it holds
 * its records until a batch is full or it is flushed, hands them over in
 * the order they were made (one larger than a batch after those held),
 * counts them on its root at once, puts its records before a stats event
 * written through it, and passes each event to its root at once where the
 * root needs its lock per event (--dedup). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/anomaly.h"
#include "../../common/limits.h"
#include "../../output/dedup.h"
#include "../../output/output.h"
#include "../../output/sink.h"

struct run {
    FILE *fp;
    char *buf;
    size_t len;
    struct ms_sinks *sinks;
    struct ms_output *root, *port;
};

static void start(struct run *r, struct ms_dedup *dedup)
{
    memset(r, 0, sizeof(*r));
    r->fp = open_memstream(&r->buf, &r->len);
    assert_non_null(r->fp);
    struct ms_output_opts o = { .format = MS_OUTPUT_JSON, .dedup = dedup };
    struct ms_sinks_opts so = { 0 };
    char err[256];
    r->sinks = ms_sinks_new(&so);
    assert_non_null(r->sinks);
    assert_int_equal(ms_sinks_add_stream(r->sinks, r->fp, "memstream"), MS_OK);
    assert_int_equal(ms_sinks_start(r->sinks, err, sizeof(err)), MS_OK);
    r->root = ms_output_new(r->sinks, &o);
    assert_non_null(r->root);
    r->port = ms_output_port_new(r->root);
    assert_non_null(r->port);
}

/* Records delivered so far (the writer is waited for). */
static uint64_t written(struct run *r)
{
    ms_sinks_sync(r->sinks);
    struct ms_sink_counters c;
    ms_sinks_kind_counters(r->sinks, MS_SINK_FILE, &c);
    return c.written;
}

/* An anomaly event of flow id, whose detail is len bytes of 'd'. */
static void emit(struct ms_output *out, uint64_t id, size_t len)
{
    char *detail = malloc(len + 1);
    assert_non_null(detail);
    memset(detail, 'd', len);
    detail[len] = '\0';
    static const uint8_t cli[4] = { 10, 0, 0, 5 }, srv[4] = { 10, 0, 0, 1 };
    struct ms_flow_meta m = { .ts_us = id * 1000000u,
                              .flow_id = id,
                              .ip_version = 4,
                              .src_addr = cli,
                              .src_port = 40000,
                              .dest_addr = srv,
                              .dest_port = 110 };
    struct ms_event ev;
    ms_anomaly_event(&ev, MS_ANOM_OUT_OF_MEMORY, detail);
    ev.app_proto = "pop3";
    assert_int_equal(ms_output_event(out, &m, &ev), MS_OK);
    free(detail);
}

/* Closes the sinks and returns each line's flow_id (0: the stats event). */
static size_t finish(struct run *r, uint64_t *ids, size_t max)
{
    ms_output_free(r->port);
    ms_sinks_close(r->sinks);
    assert_int_equal(fflush(r->fp), 0);
    size_t n = 0;
    for (char *line = r->buf; line && *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        struct json_object *o = json_tokener_parse(line), *v;
        assert_non_null(o);
        assert_true(n < max);
        ids[n++] = json_object_object_get_ex(o, "flow_id", &v) ? (uint64_t)json_object_get_int64(v)
                                                               : 0;
        json_object_put(o);
        line = nl + 1;
    }
    ms_output_free(r->root);
    ms_sinks_free(r->sinks);
    assert_int_equal(fclose(r->fp), 0);
    free(r->buf);
    return n;
}

static void test_held_until_flush(void **state)
{
    (void)state;
    struct run r;
    start(&r, NULL);
    emit(r.port, 1, 10);
    emit(r.port, 2, 10);
    emit(r.root, 3, 10); /* the root's own: at once */
    assert_int_equal(written(&r), 1);
    /* Counted on the root when made, not when handed over. */
    assert_int_equal(ms_output_count(r.root, MS_EV_ANOMALY), 3);
    assert_int_equal(ms_output_count(r.port, MS_EV_ANOMALY), 3);
    assert_int_equal(ms_output_anomaly_count(r.root, MS_ANOM_OUT_OF_MEMORY), 3);
    ms_output_flush(r.port);
    assert_int_equal(written(&r), 3);
    emit(r.port, 4, 10);
    /* A stats event through the port comes after the port's records. */
    static const struct ms_stat st[] = { { "flow.total", 4 } };
    assert_int_equal(ms_output_stats(r.port, 5000000, st, 1), MS_OK);
    assert_int_equal(written(&r), 5);
    uint64_t ids[8];
    assert_int_equal(finish(&r, ids, 8), 5);
    const uint64_t want[] = { 3, 1, 2, 4, 0 };
    assert_memory_equal(ids, want, sizeof(want));
}

static void test_full_batch_and_large_record(void **state)
{
    (void)state;
    struct run r;
    start(&r, NULL);
    /* Records of about 1 KiB: a batch's worth goes out by itself. */
    size_t n = MS_OUTPUT_BATCH_BYTES / 1024 + 8;
    for (uint64_t i = 1; i <= n; i++)
        emit(r.port, i, 1000);
    uint64_t out = written(&r);
    assert_true(out > 0 && out < n);
    /* One larger than a batch: what is held goes first, then it. */
    emit(r.port, n + 1, MS_OUTPUT_BATCH_BYTES + 100);
    assert_int_equal(written(&r), n + 1);
    emit(r.port, n + 2, 10);
    uint64_t ids[400];
    assert_true(n + 2 <= 400);
    assert_int_equal(finish(&r, ids, 400), n + 2); /* freed: flushed */
    for (size_t i = 0; i < n + 2; i++)
        assert_int_equal(ids[i], i + 1);
}

static void test_dedup_passes_through(void **state)
{
    (void)state;
    struct ms_dedup *d = ms_dedup_new(60000000u, 16);
    assert_non_null(d);
    struct run r;
    start(&r, d);
    emit(r.port, 1, 10);
    assert_int_equal(written(&r), 1); /* not held */
    uint64_t ids[4];
    assert_int_equal(finish(&r, ids, 4), 1);
    ms_dedup_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_until_flush),
        cmocka_unit_test(test_full_batch_and_large_record),
        cmocka_unit_test(test_dedup_passes_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
