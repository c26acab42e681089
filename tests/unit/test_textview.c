/* The --text view (README "Text view"): local time with the date and zone
 * on the first line and on a new day, values quoted and escaped, secrets
 * as the mode says, messages' gaps in words, colours only when asked, and
 * the closing summary table with its caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/limits.h"
#include "../../output/text.h"
#include "../../output/text_summary.h"

static const uint8_t cli4[4] = { 10, 0, 0, 5 };

static struct ms_flow_meta meta_at(uint64_t ts_us, const uint8_t *srv, uint16_t port)
{
    struct ms_flow_meta m = { .ts_us = ts_us,
                              .flow_id = 7,
                              .ip_version = 4,
                              .src_addr = cli4,
                              .src_port = 40000,
                              .dest_addr = srv,
                              .dest_port = port };
    return m;
}

static const uint8_t srv4[4] = { 10, 0, 0, 1 };

static struct ms_event cred(const char *user, enum ms_outcome o)
{
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "pop3" };
    ev.u.cred.command = "USER";
    ev.u.cred.mechanism = "USER";
    ev.u.cred.username = ms_bytes_of(user, strlen(user));
    ev.u.cred.password = ms_bytes_of("Summer 2026!pw", 14);
    ev.u.cred.outcome = o;
    return ev;
}

/* Renders events into one string through one view. */
struct lines {
    char *buf;
    size_t n;
    FILE *fp;
    struct ms_text_view tv;
};

static void open_lines(struct lines *l, bool color)
{
    l->buf = NULL;
    l->n = 0;
    l->fp = open_memstream(&l->buf, &l->n);
    assert_non_null(l->fp);
    ms_text_view_init(&l->tv, color);
}

static void add(struct lines *l, const struct ms_flow_meta *m, const struct ms_event *ev,
                enum ms_secrets mode)
{
    struct ms_output_opts o = { .format = MS_OUTPUT_TEXT, .secrets = mode };
    assert_int_equal(ms_text_line(l->fp, &l->tv, m, ev, &o, NULL), 0);
}

static char *close_lines(struct lines *l)
{
    assert_int_equal(fclose(l->fp), 0);
    return l->buf;
}

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void test_time_date_zone(void **state)
{
    (void)state;
    set_tz("UTC");
    struct lines l;
    open_lines(&l, false);
    struct ms_event ev = cred("alice", MS_OUTCOME_SUCCESS);
    /* 2026-12-05 23:59:58 UTC, two seconds later the next day. */
    uint64_t t0 = 1796515198ull * 1000000u;
    struct ms_flow_meta m = meta_at(t0, srv4, 110);
    add(&l, &m, &ev, MS_SECRETS_REDACT);
    add(&l, &m, &ev, MS_SECRETS_REDACT);
    m.ts_us = t0 + 2000000u;
    add(&l, &m, &ev, MS_SECRETS_REDACT);
    char *out = close_lines(&l);
    const char *want = "2026-12-05 23:59:58 UTC (UTC+0000) POP3 10.0.0.5:40000 -> 10.0.0.1:110 "
                       "USER/PASS \"alice\" / ******** (accepted)\n"
                       "23:59:58 POP3 10.0.0.5:40000 -> 10.0.0.1:110 USER/PASS \"alice\" / "
                       "******** (accepted)\n"
                       "2026-12-06 00:00:00 UTC (UTC+0000) POP3 10.0.0.5:40000 -> "
                       "10.0.0.1:110 USER/PASS \"alice\" / ******** (accepted)\n";
    assert_string_equal(out, want);
    free(out);
    /* TZ decides: the same instant in New York is the day before. */
    set_tz("America/New_York");
    open_lines(&l, false);
    m.ts_us = t0;
    add(&l, &m, &ev, MS_SECRETS_REDACT);
    out = close_lines(&l);
    assert_non_null(strstr(out, "2026-12-05 18:59:58 EST (UTC-0500) POP3 "));
    free(out);
    set_tz("UTC");
}

static void test_quoting(void **state)
{
    (void)state;
    set_tz("UTC");
    struct lines l;
    open_lines(&l, false);
    struct ms_flow_meta m = meta_at(0, srv4, 110);
    /* A user name with a space cannot read as two words; one with a
     * quote or a backslash cannot end early. */
    struct ms_event ev = cred("cram user-86h29b", MS_OUTCOME_FAILURE);
    add(&l, &m, &ev, MS_SECRETS_CLEAR);
    ev = cred("a\" / \"x\\", MS_OUTCOME_UNKNOWN);
    add(&l, &m, &ev, MS_SECRETS_MASK);
    ev.u.cred.username = MS_BYTES_NONE;
    add(&l, &m, &ev, MS_SECRETS_REDACT);
    char *out = close_lines(&l);
    assert_non_null(
        strstr(out, " USER/PASS \"cram user-86h29b\" / \"Summer 2026!pw\" (rejected)\n"));
    assert_non_null(strstr(out, " USER/PASS \"a\\\" / \\\"x\\\\\" / \"S************w\" (outcome "
                                "unknown)\n"));
    assert_non_null(strstr(out, " USER/PASS (no user name) / ******** (outcome unknown)\n"));
    free(out);
}

static void test_email_words(void **state)
{
    (void)state;
    set_tz("UTC");
    struct lines l;
    open_lines(&l, false);
    struct ms_flow_meta m = meta_at(0, srv4, 110);
    struct ms_event ev = { .kind = MS_EV_EMAIL, .app_proto = "pop3" };
    ev.u.email.command = "RETR";
    ev.u.email.truncated = true;
    add(&l, &m, &ev, MS_SECRETS_REDACT);
    ev.u.email.command = "TOP";
    ev.u.email.partial = true;
    ev.u.email.truncated = false;
    ev.u.email.subject = ms_bytes_of("Hi \"you\"", 8);
    ev.u.email.from = ms_bytes_of("bob@example.net", 15);
    ev.u.email.size = 12;
    add(&l, &m, &ev, MS_SECRETS_REDACT);
    char *out = close_lines(&l);
    assert_non_null(strstr(out, " RETR message without a subject, sender not seen (none of its "
                                "content was seen) cut short: a gap in the capture, a cap or its "
                                "end\n"));
    assert_non_null(
        strstr(out,
               " TOP part of a message \"Hi \\\"you\\\"\" from \"bob@example.net\" (12 bytes)\n"));
    assert_null(strstr(out, "\"-\""));
    free(out);
}

/* An 802.11 link event (pipeline.c's wifi anomalies) has stations and no
 * IP: the line names the client and BSSID, not "TCP -:0 -> -:0". */
static void test_link_event(void **state)
{
    (void)state;
    set_tz("UTC");
    static const uint8_t sta[6] = { 0xd8, 0x3a, 0xdd, 0x10, 0x20, 0x0b };
    static const uint8_t bss[6] = { 0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e };
    struct lines l;
    open_lines(&l, false);
    struct ms_flow_meta m = { .ts_us = 0, .src_mac = sta, .bssid = bss };
    struct ms_event ev = { .kind = MS_EV_ANOMALY };
    ev.u.anomaly.code = "wifi_no_handshake";
    ev.u.anomaly.detail = ms_bytes_of("handshake not captured", 22);
    add(&l, &m, &ev, MS_SECRETS_REDACT);
    struct ms_flow_meta m2 = { .ts_us = 0, .src_mac = NULL, .bssid = NULL };
    add(&l, &m2, &ev, MS_SECRETS_REDACT);
    char *out = close_lines(&l);
    assert_non_null(strstr(out, " 802.11 d8:3a:dd:10:20:0b (BSSID 00:1a:2b:3c:4d:5e) anomaly "
                                "wifi_no_handshake"));
    assert_non_null(strstr(out, " 802.11 - (BSSID -) anomaly wifi_no_handshake"));
    assert_null(strstr(out, ":0 -> "));
    free(out);
}

static void test_colour(void **state)
{
    (void)state;
    set_tz("UTC");
    struct ms_flow_meta m = meta_at(0, srv4, 110);
    struct ms_event ev = cred("alice", MS_OUTCOME_SUCCESS);
    struct lines l;
    open_lines(&l, false);
    add(&l, &m, &ev, MS_SECRETS_MASK);
    char *plain = close_lines(&l);
    assert_null(strchr(plain, '\033'));
    open_lines(&l, true);
    add(&l, &m, &ev, MS_SECRETS_MASK);
    char *col = close_lines(&l);
    assert_non_null(strstr(col, "\033[1;33m\"alice\"\033[0m"));
    assert_non_null(strstr(col, "\033[1;31m\"S************w\"\033[0m"));
    /* Without the escapes, the same line. */
    char *w = col;
    for (char *r = col; *r;) {
        if (*r == '\033') {
            r = strchr(r, 'm') + 1;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
    assert_string_equal(col, plain);
    free(plain);
    free(col);
}

/* A captured value still cannot smuggle an escape into a coloured line. */
static void test_colour_no_injection(void **state)
{
    (void)state;
    struct ms_flow_meta m = meta_at(0, srv4, 110);
    struct ms_event ev = cred("\033[2Jx", MS_OUTCOME_SUCCESS);
    struct lines l;
    open_lines(&l, true);
    add(&l, &m, &ev, MS_SECRETS_CLEAR);
    char *out = close_lines(&l);
    assert_non_null(strstr(out, "\"\\x1b[2Jx\""));
    assert_null(strstr(out, "\033[2J"));
    free(out);
}

static void test_hashcat_shown_with_secrets(void **state)
{
    (void)state;
    struct ms_flow_meta m = meta_at(0, srv4, 110);
    struct ms_event ev = cred("bob", MS_OUTCOME_SUCCESS);
    ev.u.cred.password = MS_BYTES_NONE;
    ev.u.cred.hashcat = ms_bytes_of("bob:$cram", 9);
    ev.u.cred.hashcat_mode = 10200;
    for (int mode = MS_SECRETS_REDACT; mode <= MS_SECRETS_CLEAR; mode++) {
        struct lines l;
        open_lines(&l, false);
        add(&l, &m, &ev, (enum ms_secrets)mode);
        char *out = close_lines(&l);
        if (mode == MS_SECRETS_CLEAR)
            assert_non_null(strstr(out, " / hashcat -m 10200 \"bob:$cram\" (accepted)"));
        else
            assert_non_null(strstr(out, "\"bob\" / hashcat -m 10200 (accepted)"));
        free(out);
    }
}

static struct ms_event session(enum ms_session_tls tls, uint64_t ok, uint64_t bad, uint64_t msgs,
                               const struct ms_session_posture *posture_buf)
{
    struct ms_event ev = { .kind = MS_EV_SESSION, .app_proto = "pop3" };
    ev.u.session.tls = tls;
    ev.u.session.posture = posture_buf;
    ev.u.session.logins[MS_OUTCOME_SUCCESS] = ok;
    ev.u.session.logins[MS_OUTCOME_FAILURE] = bad;
    ev.u.session.messages = msgs;
    return ev;
}

static char *summary_of(const struct ms_text_summary *s)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    assert_non_null(fp);
    assert_int_equal(ms_text_summary_write(s, fp), 0);
    assert_int_equal(fclose(fp), 0);
    return buf;
}

/* The row of a server: its numbers in order. */
static void row_numbers(const char *table, const char *name, char *out, size_t n)
{
    const char *at = strstr(table, name);
    assert_non_null(at);
    at += strlen(name);
    const char *end = strchr(at, '\n');
    /* Its numbers one space apart (the columns' widths vary). */
    size_t k = 0;
    for (; at < end && k < n - 1; at++) {
        if (*at != ' ')
            out[k++] = *at;
        else if (k > 0 && out[k - 1] != ' ' && at + 1 < end && at[1] != ' ')
            out[k++] = ' ';
    }
    out[k] = '\0';
}

static void test_summary(void **state)
{
    (void)state;
    struct ms_text_summary *s = ms_text_summary_new();
    assert_non_null(s);
    char *t = summary_of(s);
    assert_string_equal(t, "Summary: no mail session seen\n");
    free(t);
    static const uint8_t other[4] = { 192, 0, 2, 9 };
    struct ms_session_posture offered = { .starttls_offered = MS_TRI_TRUE };
    struct ms_session_posture not_offered = { .starttls_offered = MS_TRI_FALSE };
    struct ms_flow_meta a = meta_at(0, srv4, 110), b = meta_at(0, other, 143);
    /* Server a: two sessions, one STARTTLS (offered and used), logins of
     * alice (twice) and bob; server b: one implicit-TLS session. */
    struct ms_event ev = cred("alice", MS_OUTCOME_SUCCESS);
    ms_text_summary_add(s, &a, &ev);
    ms_text_summary_add(s, &a, &ev);
    ev = cred("bob", MS_OUTCOME_FAILURE);
    ms_text_summary_add(s, &a, &ev);
    ev = session(MS_SESSION_TLS_NONE, 2, 1, 3, &not_offered);
    ms_text_summary_add(s, &a, &ev);
    ev = session(MS_SESSION_TLS_STARTTLS, 0, 0, 0, &offered);
    ms_text_summary_add(s, &a, &ev);
    ev = session(MS_SESSION_TLS_IMPLICIT, 0, 0, 0, NULL);
    ev.app_proto = "imap";
    ms_text_summary_add(s, &b, &ev);
    t = summary_of(s);
    char nums[128];
    /* sessions, logins, accounts, accepted, messages, offered/used */
    row_numbers(t, "POP3 10.0.0.1:110", nums, sizeof(nums));
    assert_string_equal(nums, "2 3 2 2 3 1/1");
    row_numbers(t, "IMAP 192.0.2.9:143", nums, sizeof(nums));
    assert_string_equal(nums, "1 0 0 0 0 0/0");
    row_numbers(t, "  total ", nums, sizeof(nums));
    assert_string_equal(nums, "3 3 2 2 3 1/1");
    assert_non_null(strstr(t, "STARTTLS offered/used"));
    /* Sorted (protocol, address, port), not in the order seen: the same
     * table under --threads. */
    assert_true(strstr(t, "IMAP 192.0.2.9") < strstr(t, "POP3 10.0.0.1"));
    free(t);
    ms_text_summary_free(s);
}

/* Past MS_TEXT_SUMMARY_SERVERS servers, one row says how many more, and the
 * total still counts them all. */
static void test_summary_bounded(void **state)
{
    (void)state;
    struct ms_text_summary *s = ms_text_summary_new();
    assert_non_null(s);
    uint8_t addrs[MS_TEXT_SUMMARY_SERVERS + 5][4];
    for (size_t i = 0; i < MS_TEXT_SUMMARY_SERVERS + 5; i++) {
        addrs[i][0] = 10;
        addrs[i][1] = 1;
        addrs[i][2] = (uint8_t)(i >> 8);
        addrs[i][3] = (uint8_t)i;
        struct ms_flow_meta m = meta_at(0, addrs[i], 110);
        struct ms_event ev = session(MS_SESSION_TLS_NONE, 1, 0, 0, NULL);
        ms_text_summary_add(s, &m, &ev);
        ms_text_summary_add(s, &m, &ev); /* a second session: still one server */
        ev = cred("u", MS_OUTCOME_SUCCESS);
        ms_text_summary_add(s, &m, &ev);
    }
    char *t = summary_of(s);
    size_t rows = 0;
    for (const char *p = strstr(t, "\n  POP3 "); p; p = strstr(p + 1, "\n  POP3 "))
        rows++;
    assert_int_equal(rows, MS_TEXT_SUMMARY_SERVERS);
    char nums[128];
    row_numbers(t, "5 more servers", nums, sizeof(nums));
    assert_string_equal(nums, "10 10 5 10 0 0/0");
    char total[64];
    int all = MS_TEXT_SUMMARY_SERVERS + 5;
    snprintf(total, sizeof(total), "%d %d %d %d 0 0/0", 2 * all, 2 * all, all, 2 * all);
    row_numbers(t, "  total ", nums, sizeof(nums));
    assert_string_equal(nums, total);
    free(t);
    /* Accounts past the cap of a row: the count says "+". */
    struct ms_text_summary *s2 = ms_text_summary_new();
    assert_non_null(s2);
    struct ms_flow_meta m = meta_at(0, srv4, 110);
    for (int i = 0; i < MS_TEXT_SUMMARY_ACCOUNTS + 3; i++) {
        char user[16];
        snprintf(user, sizeof(user), "u%d", i);
        struct ms_event ev = cred(user, MS_OUTCOME_SUCCESS);
        ms_text_summary_add(s2, &m, &ev);
    }
    t = summary_of(s2);
    char want[16];
    snprintf(want, sizeof(want), " %d+ ", MS_TEXT_SUMMARY_ACCOUNTS);
    assert_non_null(strstr(t, want));
    free(t);
    ms_text_summary_free(s2);
    ms_text_summary_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_date_zone),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_email_words),
        cmocka_unit_test(test_link_event),
        cmocka_unit_test(test_colour),
        cmocka_unit_test(test_colour_no_injection),
        cmocka_unit_test(test_hashcat_shown_with_secrets),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_summary_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
