/* The JSON writer (output/jsonw.c) against json-c, which wrote every
 * record before it and still writes the stats event: the same bytes for
 * every string (every byte value, invalid UTF-8, names with escapes), every
 * integer, the dropped empty containers, and whole event records, which
 * json-c parses and writes again unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/community_id.h"
#include "../../output/json.h"
#include "../../output/jsonw.h"

#define JSONC_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* What the writer holds now, as a string (it is not NUL-terminated). */
static char *text_of(const struct ms_jw *w)
{
    char *s = malloc(w->b.len + 1);
    assert_non_null(s);
    if (w->b.len)
        memcpy(s, w->b.p, w->b.len);
    s[w->b.len] = '\0';
    return s;
}

/* {"k":<bytes b as ms_jw_bytes writes them>} against json-c's object of
 * ms_json_bytes (the way records were made before). */
static void check_bytes(struct ms_jw *w, const char *key, const uint8_t *p, size_t n)
{
    struct ms_bytes b = ms_bytes_of(p, n);
    ms_jw_reset(w);
    ms_jw_open_object(w, NULL);
    ms_jw_bytes(w, key, b);
    ms_jw_close_object(w);
    assert_int_equal(w->rc, MS_OK);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, key, ms_json_bytes(b));
    char *mine = text_of(w);
    assert_string_equal(mine, json_object_to_json_string_ext(o, JSONC_FLAGS));
    free(mine);
    json_object_put(o);
}

static void test_every_byte(void **state)
{
    (void)state;
    struct ms_jw w;
    ms_jw_init(&w);
    for (unsigned c = 0; c < 256; c++) {
        uint8_t s[3] = { 'a', (uint8_t)c, 'z' };
        check_bytes(&w, "k", s, sizeof(s));
        check_bytes(&w, "k", s + 1, 1);
    }
    /* One byte of each value at each place of a longer clean run: the
     * scan takes eight bytes at a time. */
    for (unsigned c = 0; c < 256; c++) {
        for (size_t at = 0; at < 20; at++) {
            uint8_t s[21];
            memset(s, 'x', sizeof(s));
            s[at] = (uint8_t)c;
            check_bytes(&w, "k", s, sizeof(s));
            check_bytes(&w, "k", s, at + 1);
        }
    }
    /* Names are ours and written as they are (jsonw.h): every name-like
     * byte json-c leaves alone. */
    static const uint8_t v[] = "v";
    check_bytes(&w, "a/b.c-d_e:f g~0123456789", v, 1);
    ms_jw_free(&w);
}

/* Random strings of bytes weighted towards what needs care: controls,
 * quotes, backslashes, UTF-8 lead and continuation bytes. */
static void test_random_strings(void **state)
{
    (void)state;
    static const uint8_t pick[] = { 0x00, 0x01, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1f, '"',
                                    '\\', '/',  'a',  ' ',  0x7f, 0x80, 0xbf, 0xc0, 0xc2,
                                    0xc3, 0xe2, 0x9c, 0x93, 0xed, 0xa0, 0xf0, 0xf4, 0xff };
    struct ms_jw w;
    ms_jw_init(&w);
    uint32_t x = 13;
    uint8_t s[64];
    for (int t = 0; t < 20000; t++) {
        x = x * 1103515245u + 12345u;
        size_t n = (x >> 16) % sizeof(s);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            s[i] = (x >> 20) & 1 ? pick[(x >> 8) % sizeof(pick)] : (uint8_t)(x >> 24);
        }
        check_bytes(&w, "k", s, n);
    }
    ms_jw_free(&w);
}

/* Our own ASCII, written without the scan for escapes: the same bytes as
 * the scanning writer, in a writer with room for it and in a new one
 * (no memory yet: the path through put). */
static void test_ascii_as_string(void **state)
{
    (void)state;
    static const char abc[] = " !#$%&'()*+,-./0123456789:;<=>?@AZ[]^_`az{|}~";
    char s[72];
    for (size_t n = 0; n < sizeof(s); n++) {
        for (size_t i = 0; i < n; i++)
            s[i] = abc[(i * 7 + n) % (sizeof(abc) - 1)];
        struct ms_jw a, b;
        ms_jw_init(&a);
        ms_jw_init(&b);
        for (int room = 0; room < 2; room++) {
            if (room) {
                assert_int_equal(ms_jw_reserve(&a, 256), MS_OK);
                assert_int_equal(ms_jw_reserve(&b, 256), MS_OK);
            }
            ms_jw_reset(&a);
            ms_jw_reset(&b);
            ms_jw_open_object(&a, NULL);
            ms_jw_open_object(&b, NULL);
            ms_jw_ascii_k(&a, "k", 1, s, n);
            ms_jw_string_k(&b, "k", 1, s, n);
            ms_jw_close_object(&a);
            ms_jw_close_object(&b);
            assert_int_equal(a.rc, MS_OK);
            assert_int_equal(a.b.len, b.b.len);
            assert_memory_equal(a.b.p, b.b.p, a.b.len);
        }
        ms_jw_free(&a);
        ms_jw_free(&b);
    }
}

static void test_integers(void **state)
{
    (void)state;
    static const int64_t v[] = { 0, 1, -1, 9, 10, 65535, 2247388444215873, INT64_MAX, INT64_MIN };
    struct ms_jw w;
    ms_jw_init(&w);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        ms_jw_reset(&w);
        ms_jw_int(&w, NULL, v[i]);
        struct json_object *o = json_object_new_int64(v[i]);
        char *mine = text_of(&w);
        assert_string_equal(mine, json_object_to_json_string_ext(o, JSONC_FLAGS));
        free(mine);
        json_object_put(o);
    }
    ms_jw_free(&w);
}

/* Nesting, commas, booleans, and containers dropped with their mark, the
 * same tree built with json-c. */
static void test_structure_and_drop(void **state)
{
    (void)state;
    struct ms_jw w;
    ms_jw_init(&w);
    ms_jw_open_object(&w, NULL);
    struct ms_jw_mark m = ms_jw_mark(&w);
    ms_jw_open_array(&w, "empty");
    assert_true(ms_jw_empty(&w));
    ms_jw_drop(&w, m); /* the first member dropped: no comma left behind */
    ms_jw_bool(&w, "t", true);
    ms_jw_open_array(&w, "l");
    ms_jw_cstring(&w, NULL, "x");
    ms_jw_open_object(&w, NULL);
    ms_jw_bool(&w, "f", false);
    ms_jw_close_object(&w);
    ms_jw_close_array(&w);
    m = ms_jw_mark(&w);
    ms_jw_open_object(&w, "gone");
    ms_jw_close_object(&w); /* written, then taken back */
    ms_jw_drop(&w, m);
    ms_jw_int(&w, "n", 3);
    ms_jw_close_object(&w);
    assert_int_equal(w.rc, MS_OK);
    assert_int_equal(w.depth, 0);

    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "t", json_object_new_boolean(1));
    struct json_object *l = json_object_new_array();
    json_object_array_add(l, json_object_new_string("x"));
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "f", json_object_new_boolean(0));
    json_object_array_add(l, e);
    json_object_object_add(o, "l", l);
    json_object_object_add(o, "n", json_object_new_int(3));
    char *mine = text_of(&w);
    assert_string_equal(mine, json_object_to_json_string_ext(o, JSONC_FLAGS));
    free(mine);
    json_object_put(o);
    ms_jw_free(&w);
}

/* A rendered record is what json-c writes when it reads it back: same
 * key order, same escapes, nothing json-c would write otherwise. */
static void check_record(struct ms_jw *w, enum ms_rc rc)
{
    assert_int_equal(rc, MS_OK);
    char *mine = text_of(w);
    struct json_object *o = json_tokener_parse(mine);
    assert_non_null(o);
    assert_string_equal(mine, json_object_to_json_string_ext(o, JSONC_FLAGS));
    json_object_put(o);
    free(mine);
}

static void test_records_round_trip(void **state)
{
    (void)state;
    static const uint8_t cli[4] = { 10, 0, 0, 5 }, srv[4] = { 10, 0, 0, 1 };
    struct ms_flow_meta m = { .ts_us = 1764460400002784u,
                              .flow_id = 2247388444215873u,
                              .ip_version = 4,
                              .src_addr = cli,
                              .src_port = 5215,
                              .dest_addr = srv,
                              .dest_port = 25,
                              .pcap_filename = "dir/a \"b\".pcap",
                              .pcap_cnt = 25 };
    static const uint8_t key[] = "hmac key";
    struct ms_output_opts opts = { .format = MS_OUTPUT_JSON,
                                   .secrets = MS_SECRETS_CLEAR,
                                   .hmac_key = key,
                                   .hmac_key_len = sizeof(key) - 1,
                                   .host = "h\\1" };
    struct ms_jw w;
    ms_jw_init(&w);

    struct ms_event c = { .kind = MS_EV_CREDENTIAL, .app_proto = "smtp" };
    c.u.cred.command = "AUTH";
    c.u.cred.mechanism = "LOGIN";
    c.u.cred.username = ms_bytes_of("\xd1\x8e\xd0\xb7\xd0\xb5\xd1\x80\xff\x01", 10);
    c.u.cred.password = ms_bytes_of("back\\slash \"dq\"\n\xe2\x9c\x93\xe2\x9c", 21);
    c.u.cred.server_reply = ms_bytes_of("235 ok", 6);
    c.u.cred.starttls_offered = MS_TRI_FALSE;
    struct ms_dedup_report rep = { .suppressed = 0 };
    check_record(&w, ms_json_render_event(&w, &m, &c, &opts, &rep));
    const enum ms_secrets modes[] = { MS_SECRETS_MASK, MS_SECRETS_HASH, MS_SECRETS_REDACT };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        opts.secrets = modes[i];
        check_record(&w, ms_json_render_event(&w, &m, &c, &opts, NULL));
    }
    opts.secrets = MS_SECRETS_CLEAR;

    struct ms_bytes rcpt[2] = { ms_bytes_of("<b@x>", 5), ms_bytes_of("<c\t@x>", 6) };
    struct ms_attachment att[2];
    memset(att, 0, sizeof(att));
    att[0].filename = ms_bytes_of("a\xff.pdf", 6);
    att[0].size = 3;
    att[1].truncated = true;
    static const char *const errs[] = { "message_too_large" };
    struct ms_event e = { .kind = MS_EV_EMAIL, .app_proto = "smtp" };
    e.u.email.command = "DATA";
    e.u.email.rcpt_to = rcpt;
    e.u.email.n_rcpt_to = 2;
    e.u.email.attachments = att;
    e.u.email.n_attachments = 2;
    e.u.email.mime_errors = errs;
    e.u.email.n_mime_errors = 1;
    e.u.email.body_excerpt = ms_bytes_of("line\r\nnext", 10);
    check_record(&w, ms_json_render_event(&w, &m, &e, &opts, NULL));
    check_record(&w, ms_json_render_fileinfo(&w, &m, &e, 0, &opts));
    check_record(&w, ms_json_render_fileinfo(&w, &m, &e, 1, &opts));
    e.u.email.n_rcpt_to = 0; /* no smtp object at all */
    check_record(&w, ms_json_render_event(&w, &m, &e, &opts, NULL));

    struct ms_event a = { .kind = MS_EV_ANOMALY, .app_proto = "imap" };
    a.u.anomaly.code = "line_too_long";
    a.u.anomaly.detail = ms_bytes_of("\x1b[2J", 4);
    check_record(&w, ms_json_render_event(&w, &m, &a, &opts, NULL));
    ms_jw_free(&w);
}

/* The renderer's memos (the last flow's community_id, the last second's
 * text) never give one record another's: flows and times alternate. */
static void test_memos_follow_the_record(void **state)
{
    (void)state;
    /* c4 differs from a4 where the memo's slot does not look. */
    static const uint8_t a4[4] = { 10, 0, 0, 5 }, b4[4] = { 10, 0, 0, 1 }, c4[4] = { 10, 1, 0, 5 };
    static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
    static const uint8_t b6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
    const struct ms_flow_meta flows[] = {
        { .ts_us = 1764460400002784u,
          .flow_id = 1,
          .ip_version = 4,
          .src_addr = a4,
          .src_port = 40000,
          .dest_addr = b4,
          .dest_port = 25 },
        { .ts_us = 1764460400999999u,
          .flow_id = 2,
          .ip_version = 4,
          .src_addr = a4,
          .src_port = 40001,
          .dest_addr = b4,
          .dest_port = 25 },
        { .ts_us = 1764460401000000u,
          .flow_id = 3,
          .ip_version = 6,
          .src_addr = a6,
          .src_port = 40000,
          .dest_addr = b6,
          .dest_port = 25 },
        { .ts_us = 5,
          .flow_id = 4,
          .ip_version = 4,
          .src_addr = b4,
          .src_port = 25,
          .dest_addr = a4,
          .dest_port = 40000 },
        { .ts_us = 6,
          .flow_id = 5,
          .ip_version = 4,
          .src_addr = c4,
          .src_port = 40000,
          .dest_addr = b4,
          .dest_port = 25 },
    };
    const size_t order[] = { 0, 0, 1, 0, 2, 2, 3, 1, 3, 4, 0, 4 };
    struct ms_event ev = { .kind = MS_EV_ANOMALY, .app_proto = "smtp" };
    ev.u.anomaly.code = "line_too_long";
    struct ms_output_opts opts = { .format = MS_OUTPUT_JSON };
    struct ms_jw w;
    ms_jw_init(&w);
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const struct ms_flow_meta *m = &flows[order[i]];
        assert_int_equal(ms_json_render_event(&w, m, &ev, &opts, NULL), MS_OK);
        char *mine = text_of(&w);
        struct json_object *o = json_tokener_parse(mine);
        assert_non_null(o);
        char cid[MS_COMMUNITY_ID_LEN], ts[48];
        assert_int_equal(ms_community_id_v1(0, m->ip_version, m->src_addr, m->dest_addr, 6,
                                            m->src_port, m->dest_port, cid, sizeof(cid)),
                         MS_OK);
        ms_format_timestamp(m->ts_us, ts, sizeof(ts));
        struct json_object *v;
        assert_true(json_object_object_get_ex(o, "community_id", &v));
        assert_string_equal(json_object_get_string(v), cid);
        assert_true(json_object_object_get_ex(o, "timestamp", &v));
        assert_string_equal(json_object_get_string(v), ts);
        json_object_put(o);
        free(mine);
    }
    ms_jw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),         cmocka_unit_test(test_random_strings),
        cmocka_unit_test(test_integers),           cmocka_unit_test(test_structure_and_drop),
        cmocka_unit_test(test_records_round_trip), cmocka_unit_test(test_memos_follow_the_record),
        cmocka_unit_test(test_ascii_as_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
