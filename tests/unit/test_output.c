/* Output rendering: captured bytes cannot steer a terminal (--text) and
 * always make valid UTF-8 JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/json.h"
#include "../../output/signature.h"
#include "../../output/text.h"

static char *render_text(const char *user, size_t len)
{
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "pop3" };
    ev.u.cred.command = "USER";
    ev.u.cred.mechanism = "USER";
    ev.u.cred.username = ms_bytes_of(user, len);
    static const uint8_t cli[4] = { 10, 0, 0, 5 }, srv[4] = { 10, 0, 0, 1 };
    struct ms_flow_meta m = { .ts_us = 0,
                              .flow_id = 1,
                              .ip_version = 4,
                              .src_addr = cli,
                              .src_port = 1,
                              .dest_addr = srv,
                              .dest_port = 110 };
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    assert_non_null(fp);
    struct ms_output_opts opts = { .format = MS_OUTPUT_TEXT };
    assert_int_equal(ms_text_event(fp, &m, &ev, &opts), 0);
    assert_int_equal(fclose(fp), 0);
    return buf;
}

static void test_text_escapes_controls(void **state)
{
    (void)state;
    /* C0 (ESC), C1 (8-bit CSI), a bidi override, invalid UTF-8. The
     * unterminated RLO (U+202E) is the point: the output must escape it. */
    /* NOLINTNEXTLINE(misc-misleading-bidirectional): deliberate, see above */
    static const char evil[] = "a\x1b[2Jb\xc2\x9b"
                               "31mc\xe2\x80\xaeZ\xff";
    char *out = render_text(evil, sizeof(evil) - 1);
    assert_non_null(strstr(out, "a\\x1b[2Jb\\xc2\\x9b31mc\\xe2\\x80\\xaeZ\\xff"));
    for (const char *p = out; *p; p++)
        assert_true((unsigned char)*p >= 0x20 || *p == '\n');
    free(out);
    /* Issue 11: what the JSON view turns into U+FFFD, the text view must
     * not pass raw either: an encoded surrogate (U+D800), a code point past
     * U+10FFFF, an overlong "/" and a cut sequence; and U+2028, U+2029 and
     * the isolates/marks (U+2067, U+200F), which reorder or break lines. */
    /* NOLINTNEXTLINE(misc-misleading-bidirectional): deliberate, see above */
    static const char odd[] = "s\xed\xa0\x80|\xf4\x90\x80\x80|\xc0\xaf|\xe2\x80\xa8|"
                              "\xe2\x80\xa9|\xe2\x81\xa7|\xe2\x80\x8f|\xe2\x9c";
    out = render_text(odd, sizeof(odd) - 1);
    assert_non_null(strstr(out, "s\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80|\\xc0\\xaf|"
                                "\\xe2\\x80\\xa8|\\xe2\\x80\\xa9|\\xe2\\x81\\xa7|"
                                "\\xe2\\x80\\x8f|\\xe2\\x9c"));
    free(out);
    /* Invisible characters are written as their bytes, so that two user
     * names that look alike do not read alike: U+200B, U+FEFF, U+00AD. */
    static const char hidden[] = "alice\xe2\x80\x8b|\xef\xbb\xbf|\xc2\xad";
    out = render_text(hidden, sizeof(hidden) - 1);
    assert_non_null(strstr(out, "alice\\xe2\\x80\\x8b|\\xef\\xbb\\xbf|\\xc2\\xad"));
    free(out);
    /* Printable UTF-8 (here "Zoë ✓") passes as it is. */
    static const char ok[] = "Zo\xc3\xab \xe2\x9c\x93";
    out = render_text(ok, sizeof(ok) - 1);
    assert_non_null(strstr(out, ok));
    free(out);
}

static void test_json_is_valid_utf8(void **state)
{
    (void)state;
    struct json_object *o = ms_json_bytes(ms_bytes_of("a\xff\xc3\x28"
                                                      "b\xed\xa0\x80",
                                                      8));
    assert_non_null(o);
    /* Each invalid byte becomes U+FFFD (EF BF BD); surrogates are invalid. */
    assert_string_equal(json_object_get_string(o),
                        "a\xef\xbf\xbd\xef\xbf\xbd(b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_object_put(o);
    o = ms_json_bytes(ms_bytes_of("ok \xe2\x9c\x93", 6));
    assert_string_equal(json_object_get_string(o), "ok \xe2\x9c\x93");
    json_object_put(o);
}

static const uint8_t cli4[4] = { 10, 0, 0, 5 }, srv4[4] = { 10, 0, 0, 1 };
static const struct ms_flow_meta flow_meta = {
    .ts_us = 1,
    .flow_id = 7,
    .ip_version = 4,
    .src_addr = cli4,
    .src_port = 40000,
    .dest_addr = srv4,
    .dest_port = 25,
};

static struct json_object *get(struct json_object *o, const char *path)
{
    char key[64];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        assert_true(n < sizeof(key));
        memcpy(key, path, n);
        key[n] = '\0';
        struct json_object *next = NULL;
        if (!json_object_object_get_ex(o, key, &next))
            return NULL;
        o = next;
        path += n + (dot ? 1 : 0);
    }
    return o;
}

static const char *get_str(struct json_object *o, const char *path)
{
    struct json_object *v = get(o, path);
    assert_non_null(v);
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

/* Unknown values and empty lists are left out, never null or []. */
static void test_json_omits_unknown(void **state)
{
    (void)state;
    struct ms_output_opts opts = { .format = MS_OUTPUT_JSON };
    struct ms_event ev = { .kind = MS_EV_EMAIL, .app_proto = "pop3" };
    ev.u.email.command = "RETR";
    struct json_object *o = ms_json_event(&flow_meta, &ev, &opts);
    assert_non_null(o);
    struct json_object *em = get(o, "email");
    assert_non_null(em);
    static const char *const absent[] = { "from",        "to",         "cc",           "subject",
                                          "date",        "message_id", "attachment",   "url",
                                          "attachments", "accepted",   "server_reply", "partial" };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_null(get(em, absent[i]));
    assert_null(get(o, "smtp")); /* not SMTP, no envelope */
    json_object_put(o);
    /* Recipients that are all absent make no smtp object, not {}. */
    struct ms_bytes none[2] = { MS_BYTES_NONE, MS_BYTES_NONE };
    ev.app_proto = "smtp";
    ev.u.email.rcpt_to = none;
    ev.u.email.n_rcpt_to = 2;
    o = ms_json_event(&flow_meta, &ev, &opts);
    assert_null(get(o, "smtp"));
    /* Community ID of 10.0.0.5:40000 -> 10.0.0.1:25 TCP, seed 0, computed
     * independently (Python hashlib, the spec's field order). */
    assert_string_equal(get_str(o, "community_id"), "1:ocrAPYxadWc0z/V0SIrMr9Rc6Ko=");
    json_object_put(o);

    struct ms_event c = { .kind = MS_EV_CREDENTIAL, .app_proto = "imap" };
    c.u.cred.command = "LOGIN";
    c.u.cred.mechanism = "LOGIN";
    o = ms_json_event(&flow_meta, &c, &opts);
    assert_null(get(o, "credential.username"));
    assert_null(get(o, "credential.server_reply"));
    assert_null(get(o, "credential.starttls_offered"));
    assert_null(get(o, "credential.incomplete"));
    assert_string_equal(get_str(o, "credential.outcome"), "unknown");
    json_object_put(o);
}

/* An SMTP message: Suricata's smtp object and email lists, and one
 * fileinfo record per attachment whose hash is given only when its end
 * was seen. */
static void test_json_email_suricata_shape(void **state)
{
    (void)state;
    struct ms_output_opts opts = { .format = MS_OUTPUT_JSON };
    struct ms_bytes rcpt[2] = { ms_bytes_of("<b@x>", 5), ms_bytes_of("<c@x>", 5) };
    struct ms_bytes urls[1] = { ms_bytes_of("http://x/", 9) };
    struct ms_attachment att[2];
    memset(att, 0, sizeof(att));
    att[0].filename = ms_bytes_of("a.pdf", 5);
    att[0].content_type = ms_bytes_of("application/pdf", 15);
    att[0].size = 3;
    memset(att[0].sha256, 0xab, sizeof(att[0].sha256));
    att[1].content_type = ms_bytes_of("image/png", 9); /* no file name */
    att[1].truncated = true;
    struct ms_event ev = { .kind = MS_EV_EMAIL, .app_proto = "smtp" };
    ev.u.email.command = "DATA";
    ev.u.email.helo = ms_bytes_of("client.example", 14);
    ev.u.email.mail_from = ms_bytes_of("<a@x>", 5);
    ev.u.email.rcpt_to = rcpt;
    ev.u.email.n_rcpt_to = 2;
    ev.u.email.urls = urls;
    ev.u.email.n_urls = 1;
    ev.u.email.attachments = att;
    ev.u.email.n_attachments = 2;

    struct json_object *o = ms_json_event(&flow_meta, &ev, &opts);
    assert_string_equal(get_str(o, "smtp.helo"), "client.example");
    assert_string_equal(get_str(o, "smtp.mail_from"), "<a@x>");
    assert_int_equal(json_object_array_length(get(o, "smtp.rcpt_to")), 2);
    assert_null(get(o, "email.mail_from"));
    struct json_object *names = get(o, "email.attachment");
    assert_int_equal(json_object_array_length(names), 1); /* only named files */
    assert_string_equal(json_object_get_string(json_object_array_get_idx(names, 0)), "a.pdf");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(get(o, "email.url"), 0)),
                        "http://x/");
    assert_int_equal(json_object_array_length(get(o, "email.attachments")), 2);
    json_object_put(o);

    o = ms_json_fileinfo(&flow_meta, &ev, 0, &opts);
    assert_string_equal(get_str(o, "event_type"), "fileinfo");
    assert_string_equal(get_str(o, "app_proto"), "smtp");
    assert_string_equal(get_str(o, "fileinfo.filename"), "a.pdf");
    assert_string_equal(get_str(o, "fileinfo.content_type"), "application/pdf");
    assert_string_equal(get_str(o, "fileinfo.state"), "CLOSED");
    assert_string_equal(get_str(o, "fileinfo.sha256"),
                        "abababababababababababababababababababababababababababababababab");
    assert_int_equal(json_object_get_int64(get(o, "fileinfo.size")), 3);
    assert_false(json_object_get_boolean(get(o, "fileinfo.stored")));
    assert_string_equal(get_str(o, "smtp.mail_from"), "<a@x>");
    assert_int_equal(json_object_array_length(get(o, "email.attachment")), 1);
    assert_null(get(o, "email.attachments")); /* only Suricata's keys on a fileinfo record */
    assert_string_equal(get_str(o, "src_ip"), "10.0.0.5"); /* uploaded: from the client */
    json_object_put(o);

    ev.u.email.to_client = true; /* downloaded: the file comes from the server */
    o = ms_json_fileinfo(&flow_meta, &ev, 0, &opts);
    assert_string_equal(get_str(o, "src_ip"), "10.0.0.1");
    assert_int_equal(json_object_get_int(get(o, "src_port")), 25);
    assert_string_equal(get_str(o, "dest_ip"), "10.0.0.5");
    assert_int_equal(json_object_get_int(get(o, "dest_port")), 40000);
    json_object_put(o);
    ev.u.email.to_client = false;

    o = ms_json_fileinfo(&flow_meta, &ev, 1, &opts);
    assert_string_equal(get_str(o, "fileinfo.state"), "TRUNCATED");
    assert_null(get(o, "fileinfo.sha256"));
    assert_null(get(o, "fileinfo.filename"));
    assert_false(json_object_get_boolean(get(o, "fileinfo.gaps"))); /* cut, not holed */
    json_object_put(o);
    att[1].gap = true;
    o = ms_json_fileinfo(&flow_meta, &ev, 1, &opts);
    assert_true(json_object_get_boolean(get(o, "fileinfo.gaps")));
    json_object_put(o);
}

/* IPv6 as Suricata writes it by default (every group, four digits), or
 * RFC 5952 with ipv6_compress; the text view always short. A decode
 * anomaly (no flow) has no ports and no community_id. */
static void test_ipv6_forms(void **state)
{
    (void)state;
    static const uint8_t c6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
    static const uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
    struct ms_flow_meta m = { .ts_us = 1,
                              .flow_id = 9,
                              .ip_version = 6,
                              .src_addr = c6,
                              .src_port = 40000,
                              .dest_addr = s6,
                              .dest_port = 110 };
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "pop3" };
    ev.u.cred.command = "USER";
    ev.u.cred.mechanism = "USER";
    struct ms_output_opts opts = { .format = MS_OUTPUT_JSON };
    struct json_object *o = ms_json_event(&m, &ev, &opts);
    assert_string_equal(get_str(o, "src_ip"), "2001:0db8:0000:0000:0000:0000:0000:0005");
    assert_string_equal(get_str(o, "dest_ip"), "2001:0db8:0000:0000:0000:0000:0000:0001");
    assert_string_equal(get_str(o, "community_id"), "1:jyaAiQHxJTRpzz5S/JTifzs81zk=");
    json_object_put(o);
    opts.ipv6_compress = true;
    o = ms_json_event(&m, &ev, &opts);
    assert_string_equal(get_str(o, "src_ip"), "2001:db8::5");
    assert_string_equal(get_str(o, "community_id"), "1:jyaAiQHxJTRpzz5S/JTifzs81zk=");
    json_object_put(o);

    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    assert_non_null(fp);
    opts.format = MS_OUTPUT_TEXT;
    assert_int_equal(ms_text_event(fp, &m, &ev, &opts), 0);
    assert_int_equal(fclose(fp), 0);
    assert_non_null(strstr(buf, " [2001:db8::5]:40000 -> [2001:db8::1]:110 "));
    free(buf);

    struct ms_event an = { .kind = MS_EV_ANOMALY };
    an.u.anomaly.type = "decode";
    an.u.anomaly.code = "frag_overlap_different_data";
    m.flow_id = 0;
    m.proto = "GRE";
    opts.format = MS_OUTPUT_JSON;
    o = ms_json_event(&m, &an, &opts);
    assert_null(get(o, "community_id"));
    assert_null(get(o, "src_port"));
    assert_null(get(o, "anomaly.layer")); /* only a parser's anomaly has one */
    assert_string_equal(get_str(o, "proto"), "GRE");
    json_object_put(o);
}

/* Signature ids: one block from a configurable base, stable per protocol
 * and mechanism. */
static void test_signature_block(void **state)
{
    (void)state;
    struct ms_ev_credential c = { .command = "USER", .mechanism = "USER" };
    struct ms_signature sig;
    ms_signature_for(0, "pop3", &c, &sig);
    assert_int_equal(sig.sid, MS_SID_BASE_DEFAULT + 101);
    ms_signature_for(3000000, "pop3", &c, &sig);
    assert_int_equal(sig.sid, 3000101);
    c.command = "AUTH";
    c.mechanism = "OAUTHBEARER";
    ms_signature_for(3000000, "smtp", &c, &sig);
    assert_int_equal(sig.sid, 3000310);
    c.mechanism = "NEW-MECH";
    ms_signature_for(MS_SID_BASE_MAX, "other", &c, &sig);
    assert_int_equal(sig.sid, UINT32_MAX); /* the block's last id still fits */
    assert_string_equal(sig.text, "MAILSPILL OTHER cleartext login (AUTH NEW-MECH)");
    c.response = ms_bytes_of("r", 1);
    ms_signature_for(0, "imap", &c, &sig);
    assert_string_equal(sig.text, "MAILSPILL IMAP challenge/response login (AUTH NEW-MECH)");
    /* Labels are joined as snprintf would, cut to the room and ended. */
    char label[8];
    ms_mechanism_label(&c, label, sizeof(label));
    assert_string_equal(label, "AUTH NE");
    ms_mechanism_label(&c, label, 1);
    assert_string_equal(label, "");
    c.command = c.mechanism = "USER";
    ms_mechanism_label(&c, label, sizeof(label));
    assert_string_equal(label, "USER/PA");
}

/* IPv4 addresses are written without inet_ntop: the same text for
 * every octet's width at every place, and "?" when the room is short. */
static void test_ipv4_like_inet_ntop(void **state)
{
    (void)state;
    static const uint8_t octets[] = { 0, 1, 9, 10, 42, 99, 100, 101, 199, 200, 250, 255 };
    const size_t k = sizeof(octets);
    for (size_t i = 0; i < k * k * k * k; i++) {
        const uint8_t a[4] = { octets[i % k], octets[i / k % k], octets[i / (k * k) % k],
                               octets[i / (k * k * k)] };
        char want[INET_ADDRSTRLEN], got[INET_ADDRSTRLEN];
        assert_non_null(inet_ntop(AF_INET, a, want, sizeof(want)));
        ms_addr_str(4, a, false, got, sizeof(got));
        assert_string_equal(got, want);
        /* One byte short of the text and its NUL: no address but "?". */
        char shortbuf[INET_ADDRSTRLEN];
        ms_addr_str(4, a, false, shortbuf, strlen(want));
        assert_string_equal(shortbuf, "?");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_escapes_controls),
        cmocka_unit_test(test_json_is_valid_utf8),
        cmocka_unit_test(test_json_omits_unknown),
        cmocka_unit_test(test_json_email_suricata_shape),
        cmocka_unit_test(test_signature_block),
        cmocka_unit_test(test_ipv6_forms),
        cmocka_unit_test(test_ipv4_like_inet_ntop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
