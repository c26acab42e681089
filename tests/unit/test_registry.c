/* The registries: anomaly codes (common/anomalies.def), protocols
 * (common/protocols.def) against the dissectors' names, and the stats
 * counters (app/stats.def) with their merge rules. README and source
 * agreement is tests/registry's job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../app/pipeline.h"
#include "../../common/anomaly.h"
#include "../../common/proto.h"
#include "../../dissectors/dissector.h"

static void test_anomaly_lookup(void **state)
{
    (void)state;
    for (unsigned i = 0; i < MS_ANOM_COUNT; i++) {
        enum ms_anomaly a = (enum ms_anomaly)i;
        const char *code = ms_anomaly_code(a);
        assert_non_null(code);
        assert_true(strlen(code) > 0);
        assert_true(strlen(ms_anomaly_description(a)) > 0);
        assert_null(strchr(ms_anomaly_description(a), '\n'));
        enum ms_anomaly back;
        assert_true(ms_anomaly_lookup(code, &back));
        assert_int_equal(back, a);
        /* Codes are unique: the lookup finds this entry, not an earlier one. */
        for (unsigned k = 0; k < i; k++)
            assert_string_not_equal(ms_anomaly_code((enum ms_anomaly)k), code);
    }
    enum ms_anomaly a;
    assert_false(ms_anomaly_lookup("no_such_code", &a));
    assert_string_equal(ms_anomaly_code(MS_ANOM_REASSEMBLY_GAP), "reassembly_gap");
    assert_int_equal(ms_anomaly_type_of(MS_ANOM_REASSEMBLY_GAP), MS_ANOMALY_STREAM);
    assert_int_equal(ms_anomaly_type_of(MS_ANOM_FRAG_INVALID), MS_ANOMALY_DECODE);
    assert_int_equal(ms_anomaly_type_of(MS_ANOM_EXTRACT_WRITE_FAILED), MS_ANOMALY_EXTRACT);
    assert_int_equal(ms_anomaly_type_of(MS_ANOM_LINE_TOO_LONG), MS_ANOMALY_APPLAYER);
    assert_string_equal(ms_anomaly_type_name(MS_ANOMALY_APPLAYER), "applayer");
    assert_string_equal(ms_anomaly_type_name(MS_ANOMALY_STREAM), "stream");
    assert_string_equal(ms_anomaly_type_name(MS_ANOMALY_DECODE), "decode");
    assert_string_equal(ms_anomaly_type_name(MS_ANOMALY_EXTRACT), "extract");
    /* Out of range: safe answers, never a crash. */
    assert_string_equal(ms_anomaly_code(MS_ANOM_COUNT), "unknown");
    assert_string_equal(ms_anomaly_description(MS_ANOM_COUNT), "");
}

static void test_anomaly_event(void **state)
{
    (void)state;
    struct ms_event ev;
    ms_anomaly_event(&ev, MS_ANOM_FRAG_TOO_LARGE, NULL);
    assert_int_equal(ev.kind, MS_EV_ANOMALY);
    assert_null(ev.app_proto);
    assert_string_equal(ev.u.anomaly.type, "decode");
    assert_string_equal(ev.u.anomaly.code, "frag_too_large");
    const char *d = ms_anomaly_description(MS_ANOM_FRAG_TOO_LARGE);
    assert_int_equal(ev.u.anomaly.detail.len, strlen(d));
    assert_memory_equal(ev.u.anomaly.detail.p, d, strlen(d));
    ms_anomaly_event(&ev, MS_ANOM_DISSECTOR_STOPPED, "why");
    assert_string_equal(ev.u.anomaly.type, "applayer");
    assert_int_equal(ev.u.anomaly.detail.len, 3);
}

/* Every dissector is a registered protocol and every protocol has its
 * dissector: app_proto names come from the one list. */
static void test_protocols_match_dissectors(void **state)
{
    (void)state;
    size_t n = 0;
    for (; ms_dissectors[n]; n++) {
        enum ms_proto p;
        assert_true(ms_proto_by_name(ms_dissectors[n]->name, &p));
        assert_string_equal(ms_proto_name(p), ms_dissectors[n]->name);
    }
    assert_int_equal(n, MS_PROTO_COUNT);
    assert_true(n <= MS_MAX_DISSECTORS);
    unsigned seen = 0;
    for (unsigned i = 0; i < MS_PROTO_COUNT; i++) {
        enum ms_proto p = (enum ms_proto)i;
        assert_non_null(ms_dissector_by_name(ms_proto_name(p)));
        assert_non_null(ms_proto_label(p));
        /* Signature slots 1-8, unique, never the "other" slot. */
        unsigned slot = ms_proto_sid_slot(p);
        assert_true(slot >= 1 && slot < MS_PROTO_SLOT_OTHER);
        assert_false(seen & (1u << slot));
        seen |= 1u << slot;
    }
    enum ms_proto p;
    assert_false(ms_proto_by_name("http", &p));
    assert_null(ms_proto_name(MS_PROTO_COUNT));
    assert_int_equal(ms_proto_sid_slot(MS_PROTO_COUNT), MS_PROTO_SLOT_OTHER);
}

static void test_stats_registry(void **state)
{
    (void)state;
    assert_true(ms_stat_ndefs > 40);
    for (size_t i = 0; i < ms_stat_ndefs; i++) {
        const struct ms_stat_def *d = &ms_stat_defs[i];
        assert_non_null(strchr(d->name, '.'));
        assert_true(d->offset + sizeof(uint64_t) <= sizeof(struct ms_pipeline_stats));
        /* Peaks take the largest; everything else, memory in use now
         * included (each worker holds its share), adds up. */
        bool peak = strstr(d->name, "peak") != NULL;
        assert_int_equal(d->merge, peak ? MS_STAT_MAX : MS_STAT_SUM);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(ms_stat_defs[k].name, d->name);
    }
}

static uint64_t *field(struct ms_pipeline_stats *st, const char *name)
{
    for (size_t i = 0; i < ms_stat_ndefs; i++) {
        if (strcmp(ms_stat_defs[i].name, name) == 0)
            return (uint64_t *)(void *)((char *)st + ms_stat_defs[i].offset);
    }
    fail_msg("no counter %s", name);
    return NULL;
}

static void test_stats_merge(void **state)
{
    (void)state;
    struct ms_pipeline_stats a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    *field(&a, "decoder.pkts") = 10;
    *field(&b, "decoder.pkts") = 5;
    *field(&a, "flow.active_peak") = 7;
    *field(&b, "flow.active_peak") = 9;
    *field(&a, "tcp.reassembly_memuse") = 100;
    *field(&b, "tcp.reassembly_memuse") = 40;
    *field(&a, "flow.active") = 3;
    *field(&b, "flow.active") = 4;
    field(&a, "app_layer.flow")[1] = 2;
    field(&b, "app_layer.flow")[1] = 3;
    ms_pipeline_stats_merge(&a, &b);
    assert_int_equal(a.packets, 15);
    assert_int_equal(a.flows_peak, 9);
    assert_int_equal(a.reasm_memuse, 140);
    assert_int_equal(a.flows_active, 7);
    assert_int_equal(a.per_dissector[1], 5);
    assert_int_equal(a.per_dissector[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anomaly_lookup),
        cmocka_unit_test(test_anomaly_event),
        cmocka_unit_test(test_protocols_match_dissectors),
        cmocka_unit_test(test_stats_registry),
        cmocka_unit_test(test_stats_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
