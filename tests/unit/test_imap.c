/* IMAP dissector transcripts (RFC 9051, 3501, 7888, 4959). Every case runs
 * whole, byte by byte and split at every offset (helper_split), and all runs
 * must agree. Fields the split log does not hold (starttls_offered, partial)
 * are checked with a second, small sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_log.h"
#include "helper_split.h"

static const struct ms_dissector *const D = &ms_dissector_imap;

static struct ms_limits lim(void)
{
    return ms_limits_default();
}

/* Second sink: one letter per event: credentials give their
 * starttls_offered (U/F/T), emails their partial flag (p/f). */
static void flags_emit(void *user, const struct ms_event *ev)
{
    struct ms_buf *b = user;
    char c = '?';
    if (ev->kind == MS_EV_CREDENTIAL)
        c = "UFT"[ev->u.cred.starttls_offered];
    else if (ev->kind == MS_EV_EMAIL)
        c = ev->u.email.partial ? 'p' : 'f';
    else
        c = 'a';
    ms_buf_append(b, &c, 1);
}

static char *run_flags(const struct ms_chunk *t, size_t n)
{
    struct ms_limits l = lim();
    return ms_test_run_with(D, &l, t, n, 0, flags_emit);
}

/* ---- LOGIN ----------------------------------------------------------- */

static void test_login_atoms(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] Dovecot ready.\r\n"),
        C("a001 LOGIN samir pfres\r\n"),
        S("a001 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
        C("a002 LOGOUT\r\n"),
        S("* BYE Logging out\r\na002 OK Logout completed.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_string_equal(log,
                        "CRED LOGIN LOGIN user=[samir] pass=[pfres] outcome=1 "
                        "reply=[a001 OK [CAPABILITY IMAP4rev1 IDLE] Logged in] incomplete=0\n");
    free(log);
    char *f = run_flags(t, N(t));
    assert_string_equal(f, "F"); /* capabilities seen, no STARTTLS */
    free(f);
}

/* Wireshark strips the first and last character of an unquoted password;
 * an atom is taken whole, whatever its characters. */
static void test_login_atom_kept_whole(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),
        C("A1 login \"bob\" x]p!#$&'x\r\n"),
        S("A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[bob] pass=[x]p!#$&'x] outcome=2 "
                             "reply=[A1 NO [AUTHENTICATIONFAILED] Authentication failed.] "
                             "incomplete=0\n");
    free(log);
    char *f = run_flags(t, N(t));
    assert_string_equal(f, "U"); /* no capability list seen */
    free(f);
}

static void test_login_quoted_escapes(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),
        C("a1 LOGIN \"al\\\"ice\" \"p a\\\\ss \\\"q\\\" \xc3\xa9t\xc3\xa9\"\r\n"),
        S("a1 OK done\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_string_equal(log,
                        "CRED LOGIN LOGIN user=[al\"ice] pass=[p a\\ss \"q\" \xc3\xa9t\xc3\xa9] "
                        "outcome=1 reply=[a1 OK done] incomplete=0\n");
    free(log);
}

/* Synchronizing literals: the client waits for "+" before each one. The
 * literal bytes are raw: spaces, quotes, backslashes, CRLF and NUL. */
static void test_login_sync_literals(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
        C("a LOGIN {5}\r\n"),
        S("+ Ready for literal data\r\n"),
        C("alice {12}\r\n"),
        S("+ OK\r\n"),
        CN("p \"w\\\r\n\0x{3}\r\n"),
        S("a OK Logged in\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    const char want[] = "CRED LOGIN LOGIN user=[alice] pass=[p \"w\\\r\n\0x{3}] outcome=1 "
                        "reply=[a OK Logged in] incomplete=0\n";
    assert_memory_equal(log, want, sizeof(want) - 1);
    assert_int_equal(log[sizeof(want) - 1], '\0');
    free(log);
    char *f = run_flags(t, N(t));
    assert_string_equal(f, "T"); /* STARTTLS offered, login in the clear */
    free(f);
}

/* RFC 7888 LITERAL+: no "+" awaited, all in one segment; and the mixes. */
static void test_login_literal_plus_and_mixed(void **state)
{
    (void)state;
    const struct ms_chunk plus[] = {
        S("* OK [CAPABILITY IMAP4rev1 LITERAL+ LOGINDISABLED] ready\r\n"),
        C("x1 LOGIN {5+}\r\nalice {9+}\r\npass word\r\n"),
        S("x1 OK hi\r\n"),
    };
    const struct ms_chunk mixed[] = {
        S("* OK ready\r\n"), C("m1 LOGIN \"carol smith\" {4}\r\n"),
        S("+ go\r\n"),       C("\"\\ \"\r\n"),
        S("m1 OK ok\r\n"),   C("m2 LOGIN {4+}\r\ndave \"pw\"\r\n"),
        S("m2 NO bad\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, plus, N(plus));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[alice] pass=[pass word] outcome=1 "
                             "reply=[x1 OK hi] incomplete=0\n");
    free(log);
    char *f = run_flags(plus, N(plus));
    assert_string_equal(f, "T"); /* LOGINDISABLED counts as an offer of TLS */
    free(f);
    log = ms_test_run_all(D, &l, mixed, N(mixed));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[carol smith] pass=[\"\\ \"] outcome=1 "
                             "reply=[m1 OK ok] incomplete=0\n"
                             "CRED LOGIN LOGIN user=[dave] pass=[pw] outcome=2 "
                             "reply=[m2 NO bad] incomplete=0\n");
    free(log);
}

/* A 240-byte password with spaces, quotes, backslashes and UTF-8. */
static void test_login_long_password(void **state)
{
    (void)state;
    char pw[241], quoted[600], cmd[700], want[900];
    size_t q = 0;
    for (size_t i = 0; i < 240; i++) {
        static const char alpha[] = "a \"\\b\xc3\xa9Z9";
        pw[i] = alpha[i % (sizeof(alpha) - 1)];
    }
    pw[240] = '\0';
    /* UTF-8 pairs stay aligned since 240 is a multiple of the alphabet length. */
    for (size_t i = 0; i < 240; i++) {
        if (pw[i] == '"' || pw[i] == '\\')
            quoted[q++] = '\\';
        quoted[q++] = pw[i];
    }
    quoted[q] = '\0';
    snprintf(cmd, sizeof(cmd), "L1 LOGIN \xc3\xbcser \"%s\"\r\n", quoted);
    const struct ms_chunk t[] = { S("* OK ready\r\n"), C(cmd), S("L1 OK yes\r\n") };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    snprintf(want, sizeof(want),
             "CRED LOGIN LOGIN user=[\xc3\xbcser] pass=[%s] outcome=1 reply=[L1 OK yes] "
             "incomplete=0\n",
             pw);
    assert_string_equal(log, want);
    free(log);
}

/* Pipelined commands: replies matched by tag, not by order; untagged
 * responses in between. */
static void test_pipelined_tags(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),
        C("a1 LOGIN u1 p1\r\na2 LOGIN u2 p2\r\na3 SELECT INBOX\r\n"),
        S("* 3 EXISTS\r\na2 NO [AUTHENTICATIONFAILED] no\r\n* FLAGS ()\r\na1 OK yes\r\n"
          "a3 OK [READ-WRITE] done\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[u2] pass=[p2] outcome=2 "
                             "reply=[a2 NO [AUTHENTICATIONFAILED] no] incomplete=0\n"
                             "CRED LOGIN LOGIN user=[u1] pass=[p1] outcome=1 "
                             "reply=[a1 OK yes] incomplete=0\n");
    free(log);
}

static void test_login_bad_and_unanswered(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK ready\n"), /* bare LF line ends */
        C("b1 LOGIN eve secret\n"),
        S("b1 BAD command unknown\n"),
        C("b2 LOGIN eve secret2\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[eve] pass=[secret] outcome=2 "
                             "reply=[b1 BAD command unknown] incomplete=0\n"
                             "CRED LOGIN LOGIN user=[eve] pass=[secret2] outcome=0 reply=null "
                             "incomplete=0\n");
    free(log);
}

/* A synchronizing literal refused with a tagged NO: the client never sends
 * it, and its next command is a command, not literal bytes. */
static void test_literal_refused(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),         C("c1 LOGIN zed {99999}\r\n"), S("c1 NO literal too big\r\n"),
        C("c2 LOGIN zed short\r\n"), S("c2 OK fine\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    /* c1: the anomaly for the announced size, then the user alone. */
    assert_string_equal(log, "ANOMALY imap_literal_too_large\n"
                             "CRED LOGIN LOGIN user=[zed] pass=null outcome=2 "
                             "reply=[c1 NO literal too big] incomplete=1\n"
                             "CRED LOGIN LOGIN user=[zed] pass=[short] outcome=1 "
                             "reply=[c2 OK fine] incomplete=0\n");
    free(log);
}

/* ---- AUTHENTICATE ---------------------------------------------------- */

static void test_authenticate_plain(void **state)
{
    (void)state;
    /* base64("\0alice\0pa ss") and base64("admin\0bob\0s3cr3t") */
    const struct ms_chunk ir[] = {
        S("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n"),
        C("a AUTHENTICATE PLAIN AGFsaWNlAHBhIHNz\r\n"),
        S("a OK Logged in\r\n"),
    };
    const struct ms_chunk cont[] = {
        S("* OK ready\r\n"),
        C("2 authenticate plain\r\n"),
        S("+ \r\n"),
        C("YWRtaW4AYm9iAHMzY3IzdA==\r\n"),
        S("2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
        C("3 LOGOUT\r\n"),
        S("3 OK bye\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, ir, N(ir));
    assert_string_equal(log, "CRED AUTHENTICATE PLAIN user=[alice] pass=[pa ss] outcome=1 "
                             "reply=[a OK Logged in] incomplete=0\n");
    free(log);
    log = ms_test_run_all(D, &l, cont, N(cont));
    assert_string_equal(log, "CRED AUTHENTICATE PLAIN user=[bob] authzid=[admin] pass=[s3cr3t] "
                             "outcome=2 reply=[2 NO [AUTHENTICATIONFAILED] Authentication "
                             "failed.] incomplete=0\n");
    free(log);
}

/* AUTHENTICATE LOGIN: user and password on two lines after "+" prompts;
 * a client that answers "*" cancels (RFC 9051 6.2.2). */
static void test_authenticate_login_and_cancel(void **state)
{
    (void)state;
    const struct ms_chunk ok[] = {
        S("* OK ready\r\n"),   C("a AUTHENTICATE LOGIN\r\n"), S("+ VXNlcm5hbWU6\r\n"),
        C("ZnJhbms=\r\n"),     S("+ UGFzc3dvcmQ6\r\n"),       C("aHVudGVyIDI=\r\n"),
        S("a OK welcome\r\n"),
    };
    const struct ms_chunk cancel[] = {
        S("* OK ready\r\n"),
        C("a AUTHENTICATE LOGIN\r\n"),
        S("+ VXNlcm5hbWU6\r\n"),
        C("ZnJhbms=\r\n"),
        S("+ UGFzc3dvcmQ6\r\n"),
        C("*\r\n"),
        S("a BAD Authentication cancelled\r\n"),
        C("b LOGIN frank pw\r\n"),
        S("b OK in\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, ok, N(ok));
    assert_string_equal(log, "CRED AUTHENTICATE LOGIN user=[frank] pass=[hunter 2] outcome=1 "
                             "reply=[a OK welcome] incomplete=0\n");
    free(log);
    log = ms_test_run_all(D, &l, cancel, N(cancel));
    assert_string_equal(log, "CRED AUTHENTICATE LOGIN user=[frank] pass=null outcome=2 "
                             "reply=[a BAD Authentication cancelled] incomplete=1\n"
                             "CRED LOGIN LOGIN user=[frank] pass=[pw] outcome=1 "
                             "reply=[b OK in] incomplete=0\n");
    free(log);
}

/* CRAM-MD5 (RFC 2195 example): user and digest, no password; the
 * challenge/response pair is the whole credential. */
static void test_authenticate_cram_md5(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK IMAP4 Server\r\n"),
        C("A0001 AUTHENTICATE CRAM-MD5\r\n"),
        S("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
        C("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
        S("A0001 OK CRAM authentication successful\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_string_equal(log, "CRED AUTHENTICATE CRAM-MD5 user=[tim] pass=null outcome=1 "
                             "reply=[A0001 OK CRAM authentication successful] incomplete=0\n");
    free(log);
}

/* ---- STARTTLS -------------------------------------------------------- */

static void test_starttls(void **state)
{
    (void)state;
    const struct ms_chunk ok[] = {
        S("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"),
        C("a STARTTLS\r\n"),
        S("a OK Begin TLS negotiation now.\r\n"),
        C("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 b LOGIN x y\r\n"),
        S("\x16\x03\x03\x00\x5a\x02\x00\x00\x56\r\nb OK\r\n"),
    };
    const struct ms_chunk refused[] = {
        S("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
        C("a STARTTLS\r\n"),
        S("a NO [UNAVAILABLE] TLS not available\r\n"),
        C("b LOGIN x y\r\n"),
        S("b OK\r\n"),
    };
    /* CVE-2011-0411: plaintext after STARTTLS, before the reply. */
    const struct ms_chunk inject[] = {
        S("* OK ready\r\n"),
        C("a STARTTLS\r\nb LOGIN x y\r\n"),
        S("a OK Begin TLS negotiation now.\r\n"),
        C("\x16\x03\x01\x00\x05hello"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, ok, N(ok));
    assert_string_equal(log, "");
    free(log);
    log = ms_test_run_all(D, &l, refused, N(refused));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[x] pass=[y] outcome=1 reply=[b OK] "
                             "incomplete=0\n");
    free(log);
    char *f = run_flags(refused, N(refused));
    assert_string_equal(f, "T");
    free(f);
    log = ms_test_run_all(D, &l, inject, N(inject));
    assert_string_equal(log, "ANOMALY starttls_command_injection\n");
    free(log);
}

/* IDLE's "+" and "DONE" are no command or literal; after COMPRESS the
 * stream is DEFLATE (RFC 4978) and is not read as lines. */
static void test_idle_and_compress(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] ready\r\n"),
        C("i1 IDLE\r\n"),
        S("+ idling\r\n* 4 EXISTS\r\n"),
        C("DONE\r\n"),
        S("i1 OK Idle completed.\r\n"),
        C("i2 LOGIN u p\r\n"),
        S("i2 OK\r\n"),
        C("i3 COMPRESS DEFLATE\r\n"),
        S("i3 OK DEFLATE active\r\n"),
        C("x LOGIN not really\r\n"),
        S("x OK\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[u] pass=[p] outcome=1 reply=[i2 OK] "
                             "incomplete=0\n");
    free(log);
}

/* ---- messages -------------------------------------------------------- */

static const char msg1[] = "From: Alice <alice@example.org>\r\n"
                           "To: bob@example.org\r\n"
                           "Subject: hello\r\n"
                           "\r\n"
                           "a line with {5}\r\n"
                           ")\r\n"
                           "* 9 FETCH (BODY[] {3}\r\n"
                           "last\r\n";

static void test_fetch_body(void **state)
{
    (void)state;
    char fetch[1024], want[128];
    snprintf(fetch, sizeof(fetch), "* 1 FETCH (UID 7 BODY[] {%zu}\r\n%s FLAGS (\\Seen))\r\n",
             sizeof(msg1) - 1, msg1);
    const struct ms_chunk t[] = {
        S("* PREAUTH ready\r\n"),
        C("f1 UID FETCH 7 (BODY.PEEK[] FLAGS)\r\n"),
        S(fetch),
        S("f1 OK Fetch completed.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    ms_test_want_msg(msg1, sizeof(msg1) - 1, want, sizeof(want));
    assert_non_null(strstr(log, "EMAIL FETCH from=[Alice <alice@example.org>] to=[bob@example.org]"
                                " subject=[hello]"));
    assert_non_null(strstr(log, want));
    assert_int_equal(ms_test_count_lines(log, "EMAIL"), 1);
    assert_non_null(strstr(log, "truncated=0\n"));
    assert_int_equal(ms_test_count_lines(log, "ANOMALY"), 0);
    free(log);
    char *f = run_flags(t, N(t));
    assert_string_equal(f, "f");
    free(f);
}

/* Several literals in one response: RFC822.HEADER and BODY[TEXT] are
 * partial, RFC822 whole, a HEADER.FIELDS subset and ENVELOPE strings are not
 * messages; BINARY[] may come as literal8. */
static void test_fetch_items(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),
        C("a FETCH 1:3 (RFC822.HEADER BODY[TEXT] RFC822 ENVELOPE)\r\n"),
        S("* 1 FETCH (ENVELOPE (\"d\" {4}\r\nsubj NIL) RFC822.HEADER {9}\r\nSubject: "
          " BODY[TEXT] {4}\r\nbody BODY[HEADER.FIELDS (FROM TO)] {8}\r\nFrom: x\n)\r\n"),
        S("* 2 FETCH (RFC822 {14}\r\nSubject: two\r\n)\r\n"),
        S("* 3 FETCH (BODY[]<0> {4}\r\nSubj BINARY[] ~{3}\r\nb\0n)\r\n"),
        S("a OK done\r\n"),
    };
    struct ms_chunk t2[N(t)];
    memcpy(t2, t, sizeof(t));
    t2[4].len = strlen(t[4].data) + 1 + strlen(t[4].data + strlen(t[4].data) + 1);
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t2, N(t2));
    assert_int_equal(ms_test_count_lines(log, "EMAIL FETCH"), 5);
    assert_non_null(strstr(log, "subject=[two]"));
    assert_int_equal(ms_test_count_lines(log, "ANOMALY"), 0);
    char want[128];
    ms_test_want_msg("b\0n", 3, want, sizeof(want));
    assert_non_null(strstr(log, want));
    free(log);
    char *f = run_flags(t2, N(t2));
    assert_string_equal(f, "ppfpf");
    free(f);
}

/* APPEND: the client uploads a message (e.g. to Sent), with a
 * synchronizing literal and with LITERAL+; a refused one is not sent. */
static void test_append(void **state)
{
    (void)state;
    static const char m[] = "Subject: sent\r\n\r\nhi {2}\r\n";
    char want[128];
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),
        C("p1 APPEND {4}\r\n"),
        S("+ ok\r\n"),
        C("Sent (\\Seen) \"21-Nov-2026 10:00:00 +0000\" {25}\r\n"),
        S("+ Ready for literal data\r\n"),
        C("Subject: sent\r\n\r\nhi {2}\r\n\r\n"),
        S("p1 OK [APPENDUID 1 2] Append completed.\r\n"),
        C("p2 APPEND Sent {25+}\r\nSubject: sent\r\n\r\nhi {2}\r\n\r\n"),
        S("p2 OK done\r\n"),
        C("p3 APPEND Sent {99999999}\r\n"),
        S("p3 NO [TOOBIG] too big\r\n"),
        C("p4 LOGIN u p\r\n"),
        S("p4 OK\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    ms_test_want_msg(m, sizeof(m) - 1, want, sizeof(want));
    assert_int_equal(ms_test_count_lines(log, "EMAIL APPEND from=null subject=[sent]"), 2);
    assert_non_null(strstr(log, want));
    assert_non_null(strstr(log, "CRED LOGIN LOGIN user=[u] pass=[p] outcome=1"));
    assert_int_equal(ms_test_count_lines(log, "ANOMALY"), 0);
    free(log);
}

/* A message over max_message: parsed up to the cap, hashed whole, marked
 * truncated; at the cap it is whole. */
static void test_message_cap(void **state)
{
    (void)state;
    static const char m[] = "Subject: s\r\n\r\n0123456789\r\n"; /* 26 bytes */
    char fetch[256], want[128];
    snprintf(fetch, sizeof(fetch), "* 1 FETCH (BODY[] {%zu}\r\n%s)\r\nz OK\r\n", sizeof(m) - 1, m);
    const struct ms_chunk t[] = { C("z FETCH 1 BODY[]\r\n"), S(fetch) };
    ms_test_want_msg(m, sizeof(m) - 1, want, sizeof(want));
    for (uint64_t cap = sizeof(m) - 2; cap <= sizeof(m); cap++) {
        struct ms_limits l = lim();
        l.max_message = cap;
        char *log = ms_test_run_all(D, &l, t, N(t));
        assert_non_null(strstr(log, want));
        assert_int_equal(ms_test_count_lines(log, "EMAIL"), 1);
        assert_non_null(strstr(log, cap < sizeof(m) - 1 ? "truncated=1" : "truncated=0"));
        free(log);
    }
}

/* A capture that starts inside a literal: resync on the next response. */
static void test_midsession_start(void **state)
{
    (void)state;
    char fetch[1024];
    snprintf(fetch, sizeof(fetch),
             "rest of a message body\r\n* fake line inside\r\n)\r\n* 2 FETCH (BODY[] {%zu}\r\n%s)"
             "\r\n",
             sizeof(msg1) - 1, msg1);
    const struct ms_chunk t[] = { S(fetch), S("a5 OK done\r\n"), C("a6 LOGIN u p\r\n"),
                                  S("a6 OK\r\n") };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    char want[128];
    ms_test_want_msg(msg1, sizeof(msg1) - 1, want, sizeof(want));
    assert_non_null(strstr(log, want));
    assert_int_equal(ms_test_count_lines(log, "EMAIL"), 1);
    assert_int_equal(ms_test_count_lines(log, "CRED LOGIN LOGIN user=[u] pass=[p] outcome=1"), 1);
    free(log);
}

/* A gap inside a literal: its length says where it ends, so parsing stays
 * in step; the message is truncated. A gap elsewhere skips to the next
 * line, and leaves later outcomes unknown. */
static void test_gaps(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),
        C("a FETCH 1 BODY[]\r\n"),
        S("* 1 FETCH (BODY[] {30}\r\nSubject: gap\r\n"),
        { .dir = MS_TO_CLIENT, .gap = 10 },
        S("tail\r\n)\r\na OK\r\n"),
        C("b LOGI"),
        { .dir = MS_TO_SERVER, .gap = 7 },
        C("x y\r\nc LOGIN u p\r\n"),
        /* A login's reply shows it is one (after a client hole a login is
         * only believed then): dovecot's text. */
        S("b BAD\r\nc OK Logged in\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_non_null(strstr(log, "EMAIL FETCH from=null subject=[gap]"));
    assert_int_equal(ms_test_count_lines(log, "EMAIL"), 1);
    assert_non_null(strstr(log, "truncated=1"));
    /* After a hole no tagged reply is trusted to be its command's: the
     * lost bytes may have held a command with the same tag. */
    assert_string_equal(strstr(log, "CRED"), "CRED LOGIN LOGIN user=[u] pass=[p] outcome=0 "
                                             "reply=null incomplete=1\n");
    free(log);
}

/* ---- gaps: no reply is paired across a hole (README, Streams) --------- */

/* A server-side hole while a LOGIN awaits its tagged reply settles it,
 * outcome unknown: after the hole a line may be the middle of a literal
 * whose header was lost. Whether the reply was in the hole or comes after
 * it, no outcome is given. */
static void test_gap_server_settles_login(void **state)
{
    (void)state;
    const struct ms_chunk lost[] = {
        S("* OK ready\r\n"),
        C("a1 LOGIN alice secret\r\n"),
        S("a1 OK Log"),
        GAP(MS_TO_CLIENT, 6), /* "ged in" */
        S("\r\n"),
        C("a2 SELECT INBOX\r\n"),
        S("* 1 EXISTS\r\na2 OK [READ-WRITE] done\r\n"),
    };
    const struct ms_chunk after[] = {
        S("* OK ready\r\n"),   C("a1 LOGIN alice secret\r\n"), S("* CAPA"),
        GAP(MS_TO_CLIENT, 10), S("X\r\na1 OK Logged in\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, lost, N(lost));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[alice] pass=[secret] outcome=0 reply=null "
                             "incomplete=1\n");
    free(log);
    log = ms_test_run_all(D, &l, after, N(after));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[alice] pass=[secret] outcome=0 reply=null "
                             "incomplete=1\n");
    free(log);
}

/* A client that reuses one tag loses a command in a hole: its tagged reply
 * carries the tag of the LOGIN sent after the hole. Pipelined, the LOGIN
 * gets no outcome; waiting for each reply, the lost command's reply comes
 * first, matches nothing, and the LOGIN is in step. With unique tags the
 * hole changes nothing. */
static void test_gap_client_reused_tags(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const struct ms_chunk piped[] = {
        S("* OK ready\r\n"),
        C("a CAPABILITY\r\n"),
        S("* CAPABILITY IMAP4rev1\r\na OK done\r\n"),
        C("a NO"),
        GAP(MS_TO_SERVER, 2), /* "OP": a NOOP lost */
        C("\r\na LOGIN u p\r\n"),
        S("a OK NOOP done\r\na NO [AUTHENTICATIONFAILED] bad\r\n"),
    };
    char *log = ms_test_run_all(D, &l, piped, N(piped));
    assert_string_equal(log, "CRED LOGIN LOGIN user=[u] pass=[p] outcome=0 reply=null "
                             "incomplete=1\n");
    free(log);
    const struct ms_chunk lockstep[] = {
        S("* OK ready\r\n"),
        C("a CAPABILITY\r\n"),
        S("* CAPABILITY IMAP4rev1\r\na OK done\r\n"),
        C("a NO"),
        GAP(MS_TO_SERVER, 2),
        C("\r\n"),
        S("a OK NOOP done\r\n"),
        C("a LOGIN u p\r\n"),
        S("a NO [AUTHENTICATIONFAILED] bad\r\n"),
    };
    log = ms_test_run_all(D, &l, lockstep, N(lockstep));
    /* With tags reused, no tagged reply after the hole is trusted to be
     * its command's. */
    assert_string_equal(log, "CRED LOGIN LOGIN user=[u] pass=[p] outcome=0 reply=null "
                             "incomplete=1\n");
    free(log);
    const struct ms_chunk unique[] = {
        S("* OK ready\r\n"),
        C("a1 CAPABILITY\r\n"),
        S("* CAPABILITY IMAP4rev1\r\na1 OK done\r\n"),
        C("a2 NO"),
        GAP(MS_TO_SERVER, 2),
        C("\r\na3 LOGIN u p\r\n"),
        S("a2 OK NOOP done\r\na3 NO [AUTHENTICATIONFAILED] bad\r\n"),
    };
    log = ms_test_run_all(D, &l, unique, N(unique));
    /* Even with tags seen unique: the lost bytes may have held one more. */
    assert_string_equal(log, "CRED LOGIN LOGIN user=[u] pass=[p] outcome=0 reply=null "
                             "incomplete=1\n");
    free(log);
}

/* The line right after a client-side hole is skipped even when it looks
 * like a tagged command: the hole may have held an APPEND's literal size,
 * and then it is message text (a LOGIN there would name an account the
 * client never used). A tail that is no command ("hunter2") is skipped. */
static void test_gap_login_right_after_hole(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),
        C("a1 CAPABILITY\r\n"),
        S("* CAPABILITY IMAP4rev1\r\na1 OK done\r\n"),
        GAP(MS_TO_SERVER, 9), /* "a2 NOOP\r\n", whole */
        S("a2 OK NOOP done\r\n"),
        C("a3 LOGIN u p\r\n"),
        S("a3 OK LOGIN completed\r\n"),
    };
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_string_equal(log, ""); /* the line after a hole is not trusted (imap_plausible) */
    free(log);
    /* The hole swallowed an APPEND's "{n}": what follows is message text,
     * and a LOGIN line in it must not become a credential. */
    const struct ms_chunk append[] = {
        S("* OK ready\r\n"),
        C("a1 LOGIN alice secret\r\n"),
        S("a1 OK done\r\n"),
        GAP(MS_TO_SERVER, 30), /* "a2 APPEND INBOX {40}\r\nSubject: x\r\n" */
        C("a9 LOGIN ceo@corp.example Winter2026\r\n\r\nbody\r\n"),
        S("a2 OK APPEND completed\r\n"),
    };
    log = ms_test_run_all(D, &l, append, N(append));
    assert_int_equal(ms_test_count_lines(log, "ceo@corp.example"), 0);
    free(log);
    const struct ms_chunk tail[] = {
        S("* OK ready\r\n"), C("a1 LOGIN alice "), GAP(MS_TO_SERVER, 3),
        C("hunter2\r\n"),    S("a1 OK done\r\n"),
    };
    log = ms_test_run_all(D, &l, tail, N(tail));
    assert_int_equal(ms_test_count_lines(log, "pass=[hunter2]"), 0);
    free(log);
}

/* CVE-2011-0411 in every segmentation: plaintext before the tagged reply
 * to STARTTLS, in the same segment, in one of its own, or unfinished. */
static void test_starttls_injection_split(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const struct ms_chunk two[] = {
        S("* OK ready\r\n"),
        C("a STARTTLS\r\n"),
        C("b LOGIN x y\r\n"),
        S("a OK Begin TLS negotiation now.\r\n"),
    };
    char *log = ms_test_run_all(D, &l, two, N(two));
    assert_string_equal(log, "ANOMALY starttls_command_injection\n");
    free(log);
    const struct ms_chunk part[] = {
        S("* OK ready\r\n"),
        C("a STARTTLS\r\nb LOG"),
        S("a OK Begin TLS negotiation now.\r\n"),
    };
    log = ms_test_run_all(D, &l, part, N(part));
    assert_string_equal(log, "ANOMALY starttls_command_injection\n");
    free(log);
    /* Refused: flagged, and the injected LOGIN is not the client's. */
    const struct ms_chunk refused[] = {
        S("* OK ready\r\n"),
        C("a STARTTLS\r\nb LOGIN x y\r\n"),
        S("a NO not now\r\nb OK\r\n"),
    };
    log = ms_test_run_all(D, &l, refused, N(refused));
    assert_string_equal(log, "ANOMALY starttls_command_injection\n");
    free(log);
    /* A client that starts TLS without waiting: no injection. */
    const struct ms_chunk eager[] = {
        S("* OK ready\r\n"),
        C("a STARTTLS\r\n\x16\x03\x01\x00\x05hello\r\nb LOGIN x y\r\n"),
        S("a OK Begin TLS negotiation now.\r\n"),
    };
    log = ms_test_run_all(D, &l, eager, N(eager));
    assert_string_equal(log, "");
    free(log);
}

/* A client-side hole in an AUTHENTICATE exchange ends it at once: what
 * came before is reported, outcome unknown, and no line after the hole is
 * taken for one of its responses (the password would become the user). */
static void test_gap_client_ends_authenticate(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const struct ms_chunk pass_cut[] = {
        S("* OK ready\r\n"),     C("a AUTHENTICATE LOGIN\r\n"),
        S("+ VXNlcm5hbWU6\r\n"), C("ZnJhbms=\r\n"),
        S("+ UGFzc3dvcmQ6\r\n"), C("aHVu"),
        GAP(MS_TO_SERVER, 4),    C("\r\n"),
        S("a OK welcome\r\n"),   C("b SELECT INBOX\r\n"),
        S("b OK done\r\n"),
    };
    char *log = ms_test_run_all(D, &l, pass_cut, N(pass_cut));
    assert_string_equal(log, "CRED AUTHENTICATE LOGIN user=[frank] pass=null outcome=0 "
                             "reply=null incomplete=1\n");
    free(log);
    const struct ms_chunk user_cut[] = {
        S("* OK ready\r\n"),     C("a AUTHENTICATE LOGIN\r\n"),
        S("+ VXNlcm5hbWU6\r\n"), C("Zn"),
        GAP(MS_TO_SERVER, 6),    C("\r\n"),
        S("+ UGFzc3dvcmQ6\r\n"), C("aHVudGVyIDI=\r\n"),
        S("a OK welcome\r\n"),
    };
    log = ms_test_run_all(D, &l, user_cut, N(user_cut));
    assert_string_equal(log, "");
    free(log);
}

/* Credentials with their hashcat mode, which the common log leaves out. */
static void record_mode(void *user, const struct ms_event *ev)
{
    struct ms_buf *log = user;
    if (ev->kind != MS_EV_CREDENTIAL)
        return;
    const struct ms_ev_credential *c = &ev->u.cred;
    char tmp[256];
    snprintf(tmp, sizeof(tmp),
             "CRED %s %s user=%.*s pass=%.*s mode=%d outcome=%d "
             "incomplete=%d\n",
             c->command, c->mechanism, (int)c->username.len,
             c->username.p ? (const char *)c->username.p : "", (int)c->password.len,
             c->password.p ? (const char *)c->password.p : "", c->hashcat_mode, (int)c->outcome,
             (int)c->incomplete);
    ms_buf_append(log, tmp, strlen(tmp));
}

/* A server-side hole in an AUTHENTICATE exchange: the client's responses
 * are whole and still read, but the tagged reply after the hole may be a
 * line of a literal, and the challenge a response answers may be the one
 * lost: outcome unknown, no hashcat line. A client that goes on with a
 * command ends the exchange (its tagged reply may have been lost). */
static void test_gap_server_cuts_authenticate(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const struct ms_chunk whole[] = {
        S("* OK IMAP4 Server\r\n"),
        C("A1 AUTHENTICATE CRAM-MD5\r\n"),
        S("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
        C("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
        S("A1 OK CRAM authentication successful\r\n"),
    };
    char *log = ms_test_run_all_with(D, &l, whole, N(whole), record_mode);
    assert_string_equal(log, "CRED AUTHENTICATE CRAM-MD5 user=tim pass= mode=10200 outcome=1 "
                             "incomplete=0\n");
    free(log);
    const struct ms_chunk final_lost[] = {
        S("* OK IMAP4 Server\r\n"),
        C("A1 AUTHENTICATE CRAM-MD5\r\n"),
        S("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
        C("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
        S("A1 OK CRAM"),
        GAP(MS_TO_CLIENT, 20),
        S("ul\r\n"),
        C("A2 SELECT INBOX\r\n"),
        S("A2 OK done\r\n"),
    };
    log = ms_test_run_all_with(D, &l, final_lost, N(final_lost), record_mode);
    assert_string_equal(log, "CRED AUTHENTICATE CRAM-MD5 user=tim pass= mode=0 outcome=0 "
                             "incomplete=1\n");
    free(log);
    const struct ms_chunk prompt_lost[] = {
        S("* OK ready\r\n"),
        C("a AUTHENTICATE LOGIN\r\n"),
        S("+ VXNlcm5hbWU6\r\n"),
        C("ZnJhbms=\r\n"),
        S("+ UGF"),
        GAP(MS_TO_CLIENT, 9),
        S("\r\n"),
        C("aHVudGVyIDI=\r\n"),
        S("a OK welcome\r\n"),
    };
    log = ms_test_run_all_with(D, &l, prompt_lost, N(prompt_lost), record_mode);
    assert_string_equal(log, "CRED AUTHENTICATE LOGIN user=frank pass=hunter 2 mode=0 outcome=0 "
                             "incomplete=1\n");
    free(log);
}

/* ---- malformed input and limits -------------------------------------- */

static void test_unterminated_quote(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),
        C("q LOGIN bob \"secret\\\"\r\n"),
        S("q BAD missing quote\r\n"),
        C("r LOGIN \"bob\r\n"),
        S("r BAD\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_string_equal(log, "ANOMALY imap_unterminated_quoted_string\n"
                             "CRED LOGIN LOGIN user=[bob] pass=null outcome=2 "
                             "reply=[q BAD missing quote] incomplete=1\n"
                             "ANOMALY imap_unterminated_quoted_string\n");
    free(log);
}

/* Secret cap at max-1, max, max+1, for a literal (anomaly past the cap)
 * and a quoted string (cut past the cap: incomplete). */
static void test_secret_cap(void **state)
{
    (void)state;
    for (size_t len = 7; len <= 9; len++) {
        char cmd[128], quoted[128], want[256];
        const char *pw = "ABCDEFGHI";
        snprintf(cmd, sizeof(cmd), "s LOGIN u {%zu+}\r\n%.*s\r\n", len, (int)len, pw);
        snprintf(quoted, sizeof(quoted), "t LOGIN u \"%.*s\"\r\n", (int)len, pw);
        const struct ms_chunk t[] = { C(cmd), S("s OK\r\n"), C(quoted), S("t OK\r\n") };
        struct ms_limits l = lim();
        l.max_secret = 8;
        char *log = ms_test_run_all(D, &l, t, N(t));
        int inc = len > 8;
        size_t kept = len > 8 ? 8 : len;
        snprintf(want, sizeof(want),
                 "%sCRED LOGIN LOGIN user=[u] pass=[%.*s] outcome=1 reply=[s OK] incomplete=%d\n"
                 "CRED LOGIN LOGIN user=[u] pass=[%.*s] outcome=1 reply=[t OK] incomplete=%d\n",
                 inc ? "ANOMALY imap_literal_too_large\n" : "", (int)kept, pw, inc, (int)kept, pw,
                 inc);
        assert_string_equal(log, want);
        free(log);
    }
}

/* Pending tag table at max-1, max, max+1. */
static void test_pending_cap(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        C("a LOGIN u1 p1\r\nb NOOP\r\nc NOOP\r\n"),
        S("b OK\r\nc OK\r\na OK\r\n"),
    };
    for (size_t cap = 2; cap <= 4; cap++) {
        struct ms_limits l = lim();
        l.max_pending_cmds = cap;
        char *log = ms_test_run_all(D, &l, t, N(t));
        if (cap < 3) {
            /* The oldest (the LOGIN) is forgotten: reported, outcome unknown. */
            assert_string_equal(log, "ANOMALY too_many_pending_commands\n"
                                     "CRED LOGIN LOGIN user=[u1] pass=[p1] outcome=0 reply=null "
                                     "incomplete=0\n");
        } else {
            assert_string_equal(log, "CRED LOGIN LOGIN user=[u1] pass=[p1] outcome=1 "
                                     "reply=[a OK] incomplete=0\n");
        }
        free(log);
    }
}

/* Garbage, oversized literal counts, over-long lines: anomalies, no
 * credential, no crash; a long FETCH line still yields its message. */
static void test_garbage_and_long_lines(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("\x01\x02garbage\r\n* \r\n*\r\n+\r\n{5}\r\nOK\r\n"),
        C("\r\n \r\n{3}\r\nabc\r\nx\r\n\"\r\nt LOGIN\r\nt2 LOGIN {123456789012345678901}\r\n"),
        S("t OK\r\nt2 OK\r\n"),
        C("u LOGIN {3}\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_int_equal(ms_test_count_lines(log, "ANOMALY imap_literal_invalid"), 1);
    assert_int_equal(ms_test_count_lines(log, "CRED"), 0);
    assert_int_equal(ms_test_count_lines(log, "EMAIL"), 0);
    free(log);

    char fetch[512];
    snprintf(fetch, sizeof(fetch),
             "* 4 FETCH (UID 9 ENVELOPE (\"%0100d\") BODY[] {14}\r\nSubject: big\r\n)\r\n", 0);
    const struct ms_chunk big[] = {
        C("long LOGIN user passwordpasswordpasswordpasswordpasswordpasswordpassword\r\n"),
        S(fetch),
        S("long OK\r\n"),
    };
    l.max_line = 64;
    log = ms_test_run_all(D, &l, big, N(big));
    assert_int_equal(ms_test_count_lines(log, "ANOMALY line_too_long"), 1);
    assert_int_equal(ms_test_count_lines(log, "EMAIL FETCH from=null subject=[big]"), 1);
    assert_int_equal(ms_test_count_lines(log, "CRED"), 0);
    free(log);
}

/* Line cap at max-1, max, max+1: a command line (terminator included)
 * that fits is parsed; one past the cap is reported, never guessed at. */
static void test_line_cap(void **state)
{
    (void)state;
    const struct ms_chunk t[] = { C("a LOGIN u p\r\n"), S("a OK\r\n") }; /* 13 bytes */
    for (size_t cap = 12; cap <= 14; cap++) {
        struct ms_limits l = lim();
        l.max_line = cap;
        char *log = ms_test_run_all(D, &l, t, N(t));
        if (cap < 13)
            assert_string_equal(log, "ANOMALY line_too_long\n");
        else
            assert_string_equal(log, "CRED LOGIN LOGIN user=[u] pass=[p] outcome=1 reply=[a OK] "
                                     "incomplete=0\n");
        free(log);
    }
}

static void test_probe(void **state)
{
    (void)state;
    /* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): a test table, in reading order */
    struct {
        unsigned dir;
        const char *s;
        enum ms_probe want;
    } cases[] = {
        { MS_TO_CLIENT, "* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", MS_PROBE_YES },
        { MS_TO_CLIENT, "* PREAUTH hi\r\n", MS_PROBE_YES },
        { MS_TO_CLIENT, "* BYE busy\r\n", MS_PROBE_YES },
        { MS_TO_CLIENT, "body text\r\n)\r\n* 2 FETCH (BODY[] {3}\r\n", MS_PROBE_YES },
        { MS_TO_CLIENT, "+OK POP3 ready\r\n", MS_PROBE_NO },
        { MS_TO_CLIENT, "220 mx ESMTP\r\n", MS_PROBE_NO },
        { MS_TO_CLIENT, "* OK", MS_PROBE_MAYBE },
        { MS_TO_SERVER, "a001 LOGIN bob pw\r\n", MS_PROBE_YES },
        { MS_TO_SERVER, "1 capability\r\n", MS_PROBE_YES },
        { MS_TO_SERVER, "A1 STARTTLS\r\n", MS_PROBE_YES },
        { MS_TO_SERVER, "AUTH LOGIN\r\n", MS_PROBE_NO },
        { MS_TO_SERVER, "AUTH PLAIN AGEAYg==\r\n", MS_PROBE_NO },
        { MS_TO_SERVER, "USER bob\r\n", MS_PROBE_NO },
        { MS_TO_SERVER, "EHLO x\r\n", MS_PROBE_NO },
        { MS_TO_SERVER, "CAPA\r\n", MS_PROBE_NO },
    };
    for (size_t i = 0; i < N(cases); i++)
        assert_int_equal(D->probe(cases[i].dir, (const uint8_t *)cases[i].s, strlen(cases[i].s)),
                         cases[i].want);
}

/* Found by review: a hole inside a LOGIN literal; the bytes around it were
 * joined into a user name or password that was never sent. */
static void test_gap_review_login_literal(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const struct ms_chunk user_cut[] = {
        S("* OK ready\r\n"),
        C("a1 LOGIN {5+}\r\nal"),
        GAP(MS_TO_SERVER, 1),
        C("ce hunter2\r\n"),
        S("a1 NO [AUTHENTICATIONFAILED] bad\r\n"),
    };
    char *log = ms_test_run_all(D, &l, user_cut, N(user_cut));
    assert_null(strstr(log, "user=[alce]"));
    assert_int_equal(ms_test_count_lines(log, "CRED"), 0);
    free(log);
    const struct ms_chunk pass_cut[] = {
        S("* OK ready\r\n"), C("a1 LOGIN alice {11+}\r\nhunt"), GAP(MS_TO_SERVER, 3), C("2026\r\n"),
        S("a1 OK done\r\n"),
    };
    log = ms_test_run_all(D, &l, pass_cut, N(pass_cut));
    assert_null(strstr(log, "hunt2026"));
    assert_non_null(strstr(log, "user=[alice] pass=null"));
    free(log);
}

/* A partial fetch (BODY[]<0>) may stop inside an attachment that runs to
 * the end of the literal: it is truncated, the message is not; BODY[] of
 * the same message has it whole. */
static void test_partial_fetch_attachment(void **state)
{
    (void)state;
    static const char head[] = "Content-Type: application/pdf; name=a.pdf\r\n"
                               "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n";
    static const char full[] = "Content-Type: application/pdf; name=a.pdf\r\n"
                               "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
                               "JSVFT0YK\r\n";
    char part[256], whole[256];
    snprintf(part, sizeof(part), "* 1 FETCH (BODY[]<0> {%zu}\r\n%s)\r\na OK\r\n", sizeof(head) - 1,
             head);
    snprintf(whole, sizeof(whole), "* 1 FETCH (BODY[] {%zu}\r\n%s)\r\nb OK\r\n", sizeof(full) - 1,
             full);
    const struct ms_chunk t[] = {
        S("* OK ready\r\n"),
        C("a FETCH 1 BODY.PEEK[]<0.80>\r\n"),
        S(part),
        C("b FETCH 1 BODY[]\r\n"),
        S(whole),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(D, &l, t, N(t));
    assert_int_equal(ms_test_count_lines(log, "EMAIL FETCH"), 2);
    const char *first = strstr(log, "att=[a.pdf] type=[application/pdf] size=9 ");
    assert_non_null(first);
    assert_non_null(strstr(first, " att_truncated=1 att_gap=0 truncated=0\n"));
    const char *second = strstr(first, "att=[a.pdf] type=[application/pdf] size=15 ");
    assert_non_null(second);
    assert_non_null(strstr(second, " att_truncated=0 att_gap=0 truncated=0\n"));
    free(log);
    char *f = run_flags(t, N(t));
    assert_string_equal(f, "pf");
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_atoms),
        cmocka_unit_test(test_login_atom_kept_whole),
        cmocka_unit_test(test_login_quoted_escapes),
        cmocka_unit_test(test_login_sync_literals),
        cmocka_unit_test(test_login_literal_plus_and_mixed),
        cmocka_unit_test(test_login_long_password),
        cmocka_unit_test(test_pipelined_tags),
        cmocka_unit_test(test_login_bad_and_unanswered),
        cmocka_unit_test(test_literal_refused),
        cmocka_unit_test(test_authenticate_plain),
        cmocka_unit_test(test_authenticate_login_and_cancel),
        cmocka_unit_test(test_authenticate_cram_md5),
        cmocka_unit_test(test_starttls),
        cmocka_unit_test(test_idle_and_compress),
        cmocka_unit_test(test_fetch_body),
        cmocka_unit_test(test_fetch_items),
        cmocka_unit_test(test_partial_fetch_attachment),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_message_cap),
        cmocka_unit_test(test_midsession_start),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_secret_cap),
        cmocka_unit_test(test_pending_cap),
        cmocka_unit_test(test_garbage_and_long_lines),
        cmocka_unit_test(test_line_cap),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_gap_server_settles_login),
        cmocka_unit_test(test_gap_client_reused_tags),
        cmocka_unit_test(test_gap_client_ends_authenticate),
        cmocka_unit_test(test_gap_login_right_after_hole),
        cmocka_unit_test(test_starttls_injection_split),
        cmocka_unit_test(test_gap_review_login_literal),
        cmocka_unit_test(test_gap_server_cuts_authenticate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
