/* POP3 dissector transcripts (RFC 1939). Every case runs whole, byte by
 * byte and split at every offset (helper_split), and all runs must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_log.h"
#include "helper_split.h"

static struct ms_limits lim(void)
{
    return ms_limits_default();
}

static void test_userpass_success_and_retr(void **state)
{
    (void)state;
    /* The server dot-stuffs ".hidden" as "..hidden"; the message as
     * transferred (and hashed) has the single dot. */
    static const char msg[] = "From: Alice <alice@example.org>\r\n"
                              "To: bob@example.org\r\n"
                              "Subject: hello\r\n"
                              "\r\n"
                              "line one\r\n"
                              ".hidden line\r\n"
                              "last\r\n";
    const struct ms_chunk t[] = {
        S("+OK Dovecot ready.\r\n"),
        C("USER alice\r\n"),
        S("+OK\r\n"),
        C("PASS Summer 2026!pw\r\n"),
        S("+OK Logged in.\r\n"),
        C("LIST\r\n"),
        S("+OK 1 messages:\r\n1 120\r\n.\r\n"),
        C("RETR 1\r\n"),
        S("+OK 120 octets\r\n"
          "From: Alice <alice@example.org>\r\n"
          "To: bob@example.org\r\n"
          "Subject: hello\r\n"
          "\r\n"
          "line one\r\n"
          "..hidden line\r\n"
          "last\r\n"
          ".\r\n"),
        C("QUIT\r\n"),
        S("+OK Logging out.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_non_null(strstr(log, "CRED USER USER user=[alice] pass=[Summer 2026!pw] outcome=1 "
                                "reply=[+OK Logged in.] incomplete=0\n"));
    char hex[65], want[128];
    ms_test_sha256_hex(msg, sizeof(msg) - 1, hex);
    snprintf(want, sizeof(want), " size=%zu sha256=%s", sizeof(msg) - 1, hex);
    assert_non_null(strstr(log, want));
    assert_non_null(
        strstr(log, "EMAIL RETR from=[Alice <alice@example.org>] to=[bob@example.org]"));
    assert_non_null(strstr(log, "subject=[hello]"));
    assert_int_equal(ms_test_count_lines(log, "CRED"), 1);
    assert_int_equal(ms_test_count_lines(log, "EMAIL"), 1);
    assert_int_equal(ms_test_count_lines(log, "ANOMALY"), 0);
    free(log);
}

static void test_userpass_failure(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),
        C("USER test@tt.com\r\n"),
        S("+OK\r\n"),
        C("PASS 123456\r\n"),
        S("-ERR the password incorrect\r\n"),
        C("QUIT\r\n"),
        S("+OK bye\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_string_equal(log, "CRED USER USER user=[test@tt.com] pass=[123456] outcome=2 "
                             "reply=[-ERR the password incorrect] incomplete=0\n");
    free(log);
}

static void test_no_reply_is_unknown(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),
        C("USER bob\r\n"),
        S("+OK\r\n"),
        C("PASS hunter2\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_string_equal(log, "CRED USER USER user=[bob] pass=[hunter2] outcome=0 reply=null "
                             "incomplete=0\n");
    free(log);
}

/* Zeek's trace: lower-case commands and bare LF line ends. */
static void test_lowercase_bare_lf(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK POP3 server ready\n"),
        C("user zeek@zeek.org\n"),
        S("+OK\n"),
        C("pass zeek\n"),
        S("+OK mailbox locked and ready\n"),
        C("retr 1\n"),
        S("+OK\nSubject: x\n\nbody\n.\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_non_null(strstr(log, "CRED USER USER user=[zeek@zeek.org] pass=[zeek] outcome=1 "
                                "reply=[+OK mailbox locked and ready]"));
    char hex[65], want[100];
    ms_test_sha256_hex("Subject: x\n\nbody\n", 17, hex);
    snprintf(want, sizeof(want), "size=17 sha256=%s", hex);
    assert_non_null(strstr(log, want));
    free(log);
}

/* RFC 2449 PIPELINING: both commands in one segment, replies in order. */
static void test_pipelined(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK hi\r\n"),
        C("USER carol\r\nPASS pw one\r\nSTAT\r\n"),
        S("+OK\r\n+OK welcome carol\r\n+OK 0 0\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_string_equal(log, "CRED USER USER user=[carol] pass=[pw one] outcome=1 "
                             "reply=[+OK welcome carol] incomplete=0\n");
    free(log);
}

/* After an accepted STLS the rest is TLS: nothing may be reported. A
 * refused STLS leaves the session in the clear. */
static void test_stls(void **state)
{
    (void)state;
    const struct ms_chunk ok[] = {
        S("+OK ready\r\n"),        C("STLS\r\n"),       S("+OK Begin TLS negotiation now.\r\n"),
        C("USER x\r\nPASS y\r\n"), S("+OK\r\n+OK\r\n"),
    };
    const struct ms_chunk refused[] = {
        S("+OK ready\r\n"), C("STLS\r\n"), S("-ERR not available\r\n"),
        C("USER x\r\n"),    S("+OK\r\n"),  C("PASS y\r\n"),
        S("+OK\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, ok, N(ok));
    assert_string_equal(log, "");
    free(log);
    log = ms_test_run_all(&ms_dissector_pop3, &l, refused, N(refused));
    assert_int_equal(ms_test_count_lines(log, "CRED USER USER user=[x] pass=[y] outcome=1"), 1);
    free(log);
}

/* A SASL exchange: its lines are not commands, "+ " is a continuation,
 * and a bare AUTH's mechanism list (RFC 1734 servers) is multi-line. */
static void test_auth_exchange_keeps_sync(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),     C("AUTH\r\n"),   S("+OK\r\nPLAIN\r\nUSER x\r\n.\r\n"),
        C("AUTH PLAIN\r\n"),    S("+ \r\n"),     C("AGpvZQBzZWNyZXQ=\r\n"),
        S("+OK logged in\r\n"), C("RETR 2\r\n"), S("+OK\r\nSubject: s\r\n\r\nb\r\n.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    /* "\0joe\0secret" */
    assert_non_null(strstr(log, "CRED AUTH PLAIN user=[joe] pass=[secret] outcome=1 "
                                "reply=[+OK logged in] incomplete=0\n"));
    assert_int_equal(ms_test_count_lines(log, "CRED"), 1);
    assert_int_equal(ms_test_count_lines(log, "EMAIL RETR"), 1);
    assert_non_null(strstr(log, "subject=[s]"));
    free(log);
}

/* RFC 5034 AUTH: initial response, continuation, LOGIN's two lines, a
 * cancelled exchange, and a PLAIN blob without its NUL separators. */
static void test_auth_mechanisms(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const struct ms_chunk ir[] = {
        S("+OK\r\n"),
        C("AUTH PLAIN YWRtaW4AYWxpY2UAcGFzcyB3b3Jk\r\n"), /* admin\0alice\0pass word */
        S("-ERR [AUTH] Authentication failed.\r\n"),
    };
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, ir, N(ir));
    assert_string_equal(log, "CRED AUTH PLAIN user=[alice] authzid=[admin] pass=[pass word] "
                             "outcome=2 reply=[-ERR [AUTH] Authentication failed.] incomplete=0\n");
    free(log);

    const struct ms_chunk login[] = {
        S("+OK\r\n"),  C("auth login\r\n"),     S("+ VXNlcm5hbWU6\r\n"),
        C("Ym9i\r\n"), S("+ UGFzc3dvcmQ6\r\n"), C("czNjcjN0\r\n"),
        S("+OK\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, login, N(login));
    assert_string_equal(log, "CRED AUTH LOGIN user=[bob] pass=[s3cr3t] outcome=1 reply=[+OK] "
                             "incomplete=0\n");
    free(log);

    const struct ms_chunk cancel[] = {
        S("+OK\r\n"),    C("AUTH PLAIN\r\n"), S("+ \r\n"), C("*\r\n"), S("-ERR cancelled\r\n"),
        C("USER u\r\n"), S("+OK\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, cancel, N(cancel));
    assert_string_equal(log, "");
    free(log);

    const struct ms_chunk bad[] = {
        S("+OK\r\n"),  C("AUTH PLAIN dXNlcnBhc3M=\r\n"), /* "userpass": no NULs */
        S("-ERR\r\n"), C("AUTH PLAIN !!!!\r\n"),         S("-ERR\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, bad, N(bad));
    assert_string_equal(log, "ANOMALY sasl_plain_malformed\nANOMALY sasl_invalid_base64\n");
    free(log);
}

/* Capture started after USER: the password is still reported. */
static void test_pass_without_user(void **state)
{
    (void)state;
    const struct ms_chunk t[] = { C("PASS lonely\r\n"), S("+OK\r\n") };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_string_equal(log, "CRED USER USER user=null pass=[lonely] outcome=1 reply=[+OK] "
                             "incomplete=1\n");
    free(log);
}

/* The line cap: a command of max_line bytes (terminator included) is
 * parsed; one byte more is dropped with an anomaly. */
static void run_user_line(size_t line_len, const char **expect_sub, int want_cred)
{
    struct ms_limits l = lim();
    l.max_line = 64;
    char user_line[128];
    size_t name_len = line_len - strlen("USER \r\n");
    memcpy(user_line, "USER ", 5);
    memset(user_line + 5, 'u', name_len);
    memcpy(user_line + 5 + name_len, "\r\n", 3);
    const struct ms_chunk t[] = {
        S("+OK\r\n"), C(user_line), S("+OK\r\n"), C("PASS p\r\n"), S("+OK\r\n"),
    };
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_int_equal(ms_test_count_lines(log, "ANOMALY line_too_long"), want_cred ? 0 : 1);
    assert_int_equal(ms_test_count_lines(log, "CRED USER USER user=[u"), want_cred ? 1 : 0);
    if (expect_sub && *expect_sub)
        assert_non_null(strstr(log, *expect_sub));
    free(log);
}

static void test_line_cap(void **state)
{
    (void)state;
    run_user_line(63, NULL, 1);
    run_user_line(64, NULL, 1);
    run_user_line(65, NULL, 0);
}

/* The secret cap: at max_secret the password is whole, past it truncated
 * and flagged incomplete. */
static void test_secret_cap(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    l.max_secret = 8;
    const size_t lens[] = { 7, 8, 9 };
    for (size_t i = 0; i < 3; i++) {
        char pass_line[32];
        int n = snprintf(pass_line, sizeof(pass_line), "PASS %.*s\r\n", (int)lens[i], "abcdefghij");
        assert_true(n > 0);
        const struct ms_chunk t[] = {
            S("+OK\r\n"), C("USER u\r\n"), S("+OK\r\n"), C(pass_line), S("+OK\r\n"),
        };
        char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
        char want[96];
        snprintf(want, sizeof(want), "pass=[%.*s] outcome=1 reply=[+OK] incomplete=%d\n",
                 (int)(lens[i] > 8 ? 8 : lens[i]), "abcdefghij", lens[i] > 8);
        assert_non_null(strstr(log, want));
        free(log);
    }
}

/* A gap inside a message body: the email is still reported, marked
 * truncated, and the partial line after the hole is skipped. */
static void test_gap_truncates_message(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK\r\n"),
        C("RETR 1\r\n"),
        S("+OK\r\nSubject: cut\r\n\r\nfirst part\r\n"),
        { .dir = MS_TO_CLIENT, .gap = 500 },
        S("tail of a line\r\nmore\r\n.\r\n"),
        C("QUIT\r\n"),
        S("+OK\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    static const char kept[] = "Subject: cut\r\n\r\nfirst part\r\nmore\r\n";
    char hex[65], want[128];
    ms_test_sha256_hex(kept, sizeof(kept) - 1, hex);
    snprintf(want, sizeof(want), "size=%zu sha256=%s", sizeof(kept) - 1, hex);
    assert_non_null(strstr(log, want));
    assert_non_null(strstr(log, "subject=[cut]"));
    assert_non_null(strstr(log, "truncated=1\n"));
    assert_int_equal(ms_test_count_lines(log, "EMAIL"), 1);
    free(log);
}

/* ---- pipelined logins: each reply goes to its own command ------------- */

/* The reviewer's case (RFC 2449 PIPELINING): two logins in one burst; each
 * PASS takes the user named before it and the reply in its own place. */
static void test_pipelined_two_users(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),
        C("CAPA\r\n"),
        S("+OK\r\nPIPELINING\r\nUSER\r\n.\r\n"),
        C("USER alice\r\nPASS alicepw\r\nUSER bob\r\nPASS bobpw\r\n"),
        S("+OK\r\n-ERR [AUTH] bad password\r\n+OK\r\n+OK logged in\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_string_equal(log, "CRED USER USER user=[alice] pass=[alicepw] outcome=2 "
                             "reply=[-ERR [AUTH] bad password] incomplete=0\n"
                             "CRED USER USER user=[bob] pass=[bobpw] outcome=1 "
                             "reply=[+OK logged in] incomplete=0\n");
    free(log);
    /* The same with the second login sent after the first reply: the
     * later USER must not rename the PASS still waiting. */
    const struct ms_chunk late[] = {
        S("+OK ready\r\n"),
        C("USER alice\r\nPASS alicepw\r\n"),
        S("+OK\r\n"),
        C("USER bob\r\n"),
        S("-ERR no\r\n+OK\r\n"), /* PASS alicepw, USER bob */
        C("PASS bobpw\r\n"),
        S("+OK\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, late, N(late));
    assert_string_equal(log, "CRED USER USER user=[alice] pass=[alicepw] outcome=2 reply=[-ERR no] "
                             "incomplete=0\n"
                             "CRED USER USER user=[bob] pass=[bobpw] outcome=1 reply=[+OK] "
                             "incomplete=0\n");
    free(log);
}

/* A second PASS without a new USER (a client retrying): both belong to the
 * user named once, each with the reply to itself; one still unanswered at
 * the end is reported with an unknown outcome. */
static void test_second_pass_same_user(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const struct ms_chunk piped[] = {
        S("+OK\r\n"),
        C("USER a\r\nPASS x\r\nPASS y\r\n"),
        S("+OK\r\n-ERR wrong\r\n+OK in\r\n"),
    };
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, piped, N(piped));
    assert_string_equal(log, "CRED USER USER user=[a] pass=[x] outcome=2 reply=[-ERR wrong] "
                             "incomplete=0\n"
                             "CRED USER USER user=[a] pass=[y] outcome=1 reply=[+OK in] "
                             "incomplete=0\n");
    free(log);
    const struct ms_chunk lockstep[] = {
        S("+OK\r\n"),        C("USER a\r\n"), S("+OK\r\n"),    C("PASS x\r\n"),
        S("-ERR wrong\r\n"), C("PASS y\r\n"), S("+OK in\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, lockstep, N(lockstep));
    assert_string_equal(log, "CRED USER USER user=[a] pass=[x] outcome=2 reply=[-ERR wrong] "
                             "incomplete=0\n"
                             "CRED USER USER user=[a] pass=[y] outcome=1 reply=[+OK in] "
                             "incomplete=0\n");
    free(log);
    const struct ms_chunk unanswered[] = {
        S("+OK\r\n"),
        C("USER a\r\nPASS x\r\nPASS y\r\n"),
        S("+OK\r\n-ERR wrong\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, unanswered, N(unanswered));
    assert_string_equal(log, "CRED USER USER user=[a] pass=[x] outcome=2 reply=[-ERR wrong] "
                             "incomplete=0\n"
                             "CRED USER USER user=[a] pass=[y] outcome=0 reply=null "
                             "incomplete=0\n");
    free(log);
}

/* A gap while a PASS waits settles it, outcome unknown: the reply after the
 * hole may be another command's. That reply is paired with nothing; after
 * the hole no outcome is definite again (the line skipped after it may
 * have been a whole reply), so the next PASS is unknown too. */
static void test_gap_marks_waiting_pass(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK\r\n"),          C("USER a\r\n"),          S("+OK\r\n"),    C("PASS x\r\n"),
        GAP(MS_TO_CLIENT, 10), S("tail\r\n-ERR no\r\n"), C("PASS y\r\n"), S("+OK\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_string_equal(log, "CRED USER USER user=[a] pass=[x] outcome=0 reply=null "
                             "incomplete=1\n"
                             "CRED USER USER user=[a] pass=[y] outcome=0 reply=null "
                             "incomplete=1\n");
    free(log);
}

/* ---- gaps: no reply is paired across a hole (README, Streams) ----------- */

/* Measured on a re-recorded capture with 3% loss: the reply to PASS lost in
 * a server-side hole, and RETR's reply (or QUIT's) taken for it. The login
 * is settled at the hole, outcome unknown; the session goes on in step. */
static void test_gap_server_loses_pass_reply(void **state)
{
    (void)state;
    const struct ms_chunk cut[] = {
        S("+OK Dovecot ready.\r\n"),
        C("USER alice\r\n"),
        S("+OK\r\n"),
        C("PASS Summer 2026!pw\r\n"),
        S("+OK Logg"),
        GAP(MS_TO_CLIENT, 6), /* "ed in." */
        S(".\r\n"),
        C("RETR 1\r\n"),
        S("+OK 199661 octets\r\nSubject: big\r\n\r\nbody\r\n.\r\n"),
        C("QUIT\r\n"),
        S("+OK Logging out.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, cut, N(cut));
    assert_int_equal(ms_test_count_lines(log, "CRED"), 1);
    assert_non_null(strstr(log, "CRED USER USER user=[alice] pass=[Summer 2026!pw] outcome=0 "
                                "reply=null incomplete=1\n"));
    /* RETR's reply is still RETR's: its message is read. */
    assert_int_equal(ms_test_count_lines(log, "EMAIL RETR"), 1);
    assert_non_null(strstr(log, "subject=[big]"));
    assert_non_null(strstr(log, "truncated=0\n"));
    free(log);

    /* The hole ends on a line boundary: the first line after it cannot be
     * told from the tail of a cut one and is skipped, so the next status
     * line is QUIT's. */
    const struct ms_chunk whole_line[] = {
        S("+OK Dovecot ready.\r\n"),
        C("USER alice\r\n"),
        S("+OK\r\n"),
        C("PASS Summer 2026!pw\r\n"),
        GAP(MS_TO_CLIENT, 16), /* "+OK Logged in.\r\n" */
        C("RETR 1\r\n"),
        S("+OK 199661 octets\r\n"),
        C("QUIT\r\n"),
        S("+OK Logging out.\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, whole_line, N(whole_line));
    assert_int_equal(ms_test_count_lines(log, "CRED"), 1);
    assert_non_null(strstr(log, "CRED USER USER user=[alice] pass=[Summer 2026!pw] outcome=0 "
                                "reply=null incomplete=1\n"));
    free(log);
}

/* A client-side hole takes "USER alice": the PASS after it names nobody,
 * and it is never a success, whatever the order of the replies (+OK to the
 * lost USER, -ERR to PASS). */
static void test_gap_client_loses_user(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    /* One command at a time: USER's reply comes before PASS is sent; it
     * awaits nothing and is dropped. PASS's outcome stays unknown: after a
     * hole no reply is trusted to be its command's. */
    const struct ms_chunk lockstep[] = {
        S("+OK ready\r\n"),
        C("US"),
        GAP(MS_TO_SERVER, 8), /* "ER alice" */
        C("\r\n"),
        S("+OK\r\n"),
        C("PASS secret\r\n"),
        S("-ERR [AUTH] Authentication failed.\r\n"),
    };
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, lockstep, N(lockstep));
    assert_string_equal(log, "CRED USER USER user=null pass=[secret] outcome=0 "
                             "reply=null incomplete=1\n");
    free(log);
    /* Pipelined: PASS is sent before USER's reply, which would pair with
     * it. PASS came after the hole, before the replies caught up: no
     * outcome. */
    const struct ms_chunk piped[] = {
        S("+OK ready\r\n"),
        C("US"),
        GAP(MS_TO_SERVER, 8),
        C("\r\nPASS secret\r\n"),
        S("+OK\r\n-ERR [AUTH] Authentication failed.\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, piped, N(piped));
    assert_string_equal(log, "CRED USER USER user=null pass=[secret] outcome=0 reply=null "
                             "incomplete=1\n");
    free(log);
}

/* A rejected login, a client-side hole (a lost line that may have been a
 * USER), then an accepted PASS: it must not carry the user named before
 * the hole. */
static void test_gap_client_forgets_user(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),
        C("USER alice\r\n"),
        S("+OK\r\n"),
        C("PASS wrong\r\n"),
        S("-ERR [AUTH] Authentication failed.\r\n"),
        C("US"),
        GAP(MS_TO_SERVER, 6), /* "ER bob" */
        C("\r\n"),
        S("+OK\r\n"),
        C("PASS secret\r\n"),
        S("+OK Logged in.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_string_equal(log, "CRED USER USER user=[alice] pass=[wrong] outcome=2 "
                             "reply=[-ERR [AUTH] Authentication failed.] incomplete=0\n"
                             "CRED USER USER user=null pass=[secret] outcome=0 "
                             "reply=null incomplete=1\n");
    assert_null(strstr(log, "user=[alice] pass=[secret]"));
    free(log);
}

/* A hole of whole segments ends on a line boundary: a PASS that begins
 * right after it is read (formerly skipped as the tail of a cut line). The
 * hole may have held another USER, so the USER seen before it is forgotten:
 * the PASS names no user, and after a hole its reply is not trusted. */
static void test_gap_pass_right_after_hole(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),    C("USER alice\r\n"),  S("+OK\r\n"),
        GAP(MS_TO_SERVER, 10), /* "USER bob\r\n", whole */
        S("+OK\r\n"),          C("PASS secret\r\n"), S("+OK Logged in.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_string_equal(log, "CRED USER USER user=null pass=[secret] outcome=0 "
                             "reply=null incomplete=1\n");
    free(log);
    /* The tail of a cut line is still skipped: "ecret" is no command. */
    const struct ms_chunk tail[] = {
        S("+OK ready\r\n"), C("USER alice\r\nPA"), GAP(MS_TO_SERVER, 4), /* "SS s" */
        C("ecret\r\n"),     S("+OK\r\n-ERR\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, tail, N(tail));
    assert_string_equal(log, "");
    free(log);
}

/* STLS command injection (CVE-2011-0411 style): client bytes after STLS
 * and before the server's reply, whatever the segmentation (the stream
 * layer keeps conversation order). Injected commands are still parsed:
 * their replies are inside TLS, so their outcome is unknown. */
static void test_stls_injection_split(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const char *cred = "CRED USER USER user=[x] pass=[y] outcome=0 reply=null incomplete=0\n";
    const struct ms_chunk one[] = {
        S("+OK\r\n"),
        C("STLS\r\nUSER x\r\nPASS y\r\n"),
        S("+OK Begin TLS\r\n"),
        C("\x16\x03\x01\x00\x05hello"),
    };
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, one, N(one));
    assert_int_equal(ms_test_count_lines(log, "ANOMALY stls_command_injection"), 1);
    assert_non_null(strstr(log, cred));
    free(log);
    /* In a segment of their own: injected all the same (formerly missed). */
    const struct ms_chunk two[] = {
        S("+OK\r\n"),
        C("STLS\r\n"),
        C("USER x\r\nPASS y\r\n"),
        S("+OK Begin TLS\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, two, N(two));
    assert_int_equal(ms_test_count_lines(log, "ANOMALY stls_command_injection"), 1);
    assert_non_null(strstr(log, cred));
    free(log);
    /* A partial line before the reply counts too. */
    const struct ms_chunk part[] = { S("+OK\r\n"), C("STLS\r\nUS"), S("+OK\r\n") };
    log = ms_test_run_all(&ms_dissector_pop3, &l, part, N(part));
    assert_string_equal(log, "ANOMALY stls_command_injection\n");
    free(log);
    /* After the reply: no injection (and TLS, not read). */
    const struct ms_chunk clean[] = {
        S("+OK\r\n"),
        C("STLS\r\n"),
        S("+OK Begin TLS\r\n"),
        C("USER x\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, clean, N(clean));
    assert_string_equal(log, "");
    free(log);
    /* A client that starts its TLS handshake without waiting: no injection. */
    const struct ms_chunk eager[] = {
        S("+OK\r\n"),
        C("STLS\r\n\x16\x03\x01\x00\x05hello\r\nUSER x\r\n"),
        S("+OK Begin TLS\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, eager, N(eager));
    assert_string_equal(log, "");
    free(log);
    /* Refused: the bytes were injected all the same; the session goes on
     * in the clear. */
    const struct ms_chunk refused[] = {
        S("+OK\r\n"), C("STLS\r\nNOOP\r\n"), S("-ERR no\r\n+OK\r\n"), C("USER x\r\n"),
        S("+OK\r\n"), C("PASS y\r\n"),       S("+OK in\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, refused, N(refused));
    assert_string_equal(log, "ANOMALY stls_command_injection\n"
                             "CRED USER USER user=[x] pass=[y] outcome=1 reply=[+OK in] "
                             "incomplete=0\n");
    free(log);
}

/* A client seen to pipeline loses three commands in a hole: a reply that
 * nothing awaits does not put it back in step (more may follow), so the
 * PASS it sends next gets no outcome; "+OK 1 messages" is LIST's. */
static void test_gap_pipelining_client(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),
        C("CAPA\r\nUSER a\r\n"),
        S("+OK\r\nPIPELINING\r\nUSER\r\n.\r\n+OK\r\n"),
        C("ST"),
        GAP(MS_TO_SERVER, 12), /* "AT\r\nLIST\r\nNO": STAT, LIST, NOOP */
        C("OP\r\n"),
        S("+OK 1 120\r\n"),
        C("PASS x\r\n"),
        S("+OK 1 messages\r\n1 120\r\n.\r\n+OK\r\n-ERR [AUTH] bad\r\n"),
        C("STAT\r\n"),
        S("+OK 0 0\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_string_equal(log, "CRED USER USER user=null pass=[x] outcome=0 reply=null "
                             "incomplete=1\n");
    free(log);
}

/* Pipelined logins awaiting their reply when a client-side hole comes are
 * settled at once, outcome unknown; the replies of the commands before the
 * hole still come first, so a later RETR is read in step. */
static void test_gap_client_settles_pending(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),
        C("USER a\r\nPASS x\r\n"),
        C("NO"),
        GAP(MS_TO_SERVER, 2), /* "OP": a NOOP lost */
        C("\r\n"),
        S("+OK\r\n+OK welcome\r\n+OK\r\n"),
        C("RETR 1\r\n"),
        S("+OK\r\nSubject: after\r\n\r\nbody\r\n.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_int_equal(ms_test_count_lines(log, "CRED"), 1);
    static const char first[] = "CRED USER USER user=[a] pass=[x] outcome=0 reply=null "
                                "incomplete=1\n";
    assert_true(strncmp(log, first, sizeof(first) - 1) == 0);
    assert_int_equal(ms_test_count_lines(log, "EMAIL RETR"), 1);
    assert_non_null(strstr(log, "subject=[after]"));
    free(log);
}

/* A client-side hole in an AUTH exchange ends it: what came before is
 * reported, outcome unknown, and no line after the hole is taken for one
 * of its responses (here the password would become the user name). */
static void test_gap_client_ends_sasl(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    const struct ms_chunk pass_cut[] = {
        S("+OK\r\n"),
        C("AUTH LOGIN\r\n"),
        S("+ VXNlcm5hbWU6\r\n"),
        C("Ym9i\r\n"),
        S("+ UGFzc3dvcmQ6\r\n"),
        C("czNj"),
        GAP(MS_TO_SERVER, 4),
        C("\r\n"),
        S("+OK Logged in.\r\n"),
        C("STAT\r\n"),
        S("+OK 0 0\r\n"),
    };
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, pass_cut, N(pass_cut));
    assert_string_equal(log, "CRED AUTH LOGIN user=[bob] pass=null outcome=0 reply=null "
                             "incomplete=1\n");
    free(log);
    const struct ms_chunk user_cut[] = {
        S("+OK\r\n"),
        C("AUTH LOGIN\r\n"),
        S("+ VXNlcm5hbWU6\r\n"),
        C("Ym"),
        GAP(MS_TO_SERVER, 2),
        C("\r\n"),
        S("+ UGFzc3dvcmQ6\r\n"),
        C("czNjcjN0\r\n"),
        S("+OK Logged in.\r\n"),
        C("STAT\r\n"),
        S("+OK 0 0\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, user_cut, N(user_cut));
    assert_string_equal(log, "");
    free(log);
}

/* APOP's log line: the digest is the response, which the common log leaves
 * out. */
static void put_field(struct ms_buf *log, const char *key, struct ms_bytes b)
{
    ms_buf_append(log, " ", 1);
    ms_buf_append(log, key, strlen(key));
    if (!b.p) {
        ms_buf_append(log, "=null", 5);
        return;
    }
    ms_buf_append(log, "=[", 2);
    ms_buf_append(log, b.p, b.len);
    ms_buf_append(log, "]", 1);
}

static void record_resp(void *user, const struct ms_event *ev)
{
    struct ms_buf *log = user;
    char tmp[64];
    if (ev->kind == MS_EV_ANOMALY) {
        snprintf(tmp, sizeof(tmp), "ANOMALY %s\n", ev->u.anomaly.code);
        ms_buf_append(log, tmp, strlen(tmp));
        return;
    }
    if (ev->kind != MS_EV_CREDENTIAL)
        return;
    const struct ms_ev_credential *c = &ev->u.cred;
    ms_buf_append(log, "CRED ", 5);
    ms_buf_append(log, c->command, strlen(c->command));
    put_field(log, "user", c->username);
    put_field(log, "pass", c->password);
    put_field(log, "resp", c->response);
    snprintf(tmp, sizeof(tmp), " mode=%d outcome=%d", (int)c->hashcat_mode, (int)c->outcome);
    ms_buf_append(log, tmp, strlen(tmp));
    put_field(log, "reply", c->server_reply);
    snprintf(tmp, sizeof(tmp), " incomplete=%d\n", (int)c->incomplete);
    ms_buf_append(log, tmp, strlen(tmp));
}

/* MD5(timestamp || secret) as 32 lowercase hex digits (RFC 1939 7). */
static void apop_digest(const char *ts, const char *secret, char out[33])
{
    char in[128];
    int n = snprintf(in, sizeof(in), "%s%s", ts, secret);
    assert_true(n > 0 && (size_t)n < sizeof(in));
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned hl = 0;
    assert_int_equal(EVP_Digest(in, (size_t)n, h, &hl, EVP_md5(), NULL), 1);
    assert_int_equal(hl, 16);
    ms_test_hex(h, 16, out);
}

/* Pipelined APOPs, and APOP mixed with USER/PASS: each digest with its
 * own name and its own reply. */
static void test_pipelined_apop(void **state)
{
    (void)state;
    static const char ts[] = "<4711.1700000000@mail.example>";
    char da[33], db[33], apops[160], want[640];
    apop_digest(ts, "alice secret", da);
    apop_digest(ts, "bob secret", db);
    snprintf(apops, sizeof(apops), "APOP alice %s\r\nAPOP bob %s\r\n", da, db);
    const struct ms_chunk t[] = {
        S("+OK POP3 ready <4711.1700000000@mail.example>\r\n"),
        C(apops),
        S("-ERR [AUTH] Authentication failed.\r\n+OK bob's maildrop\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all_with(&ms_dissector_pop3, &l, t, N(t), record_resp);
    snprintf(want, sizeof(want),
             "CRED APOP user=[alice] pass=null resp=[%s] mode=20 outcome=2 "
             "reply=[-ERR [AUTH] Authentication failed.] incomplete=0\n"
             "CRED APOP user=[bob] pass=null resp=[%s] mode=20 outcome=1 "
             "reply=[+OK bob's maildrop] incomplete=0\n",
             da, db);
    assert_string_equal(log, want);
    free(log);

    char mixed[200];
    snprintf(mixed, sizeof(mixed), "APOP alice %s\r\nUSER carol\r\nPASS cpw\r\nAPOP bob %s\r\n", da,
             db);
    const struct ms_chunk m[] = {
        S("+OK POP3 ready <4711.1700000000@mail.example>\r\n"), C(mixed),
        S("-ERR a\r\n+OK\r\n+OK c\r\n"), /* APOP bob never answered */
    };
    log = ms_test_run_all_with(&ms_dissector_pop3, &l, m, N(m), record_resp);
    snprintf(want, sizeof(want),
             "CRED APOP user=[alice] pass=null resp=[%s] mode=20 outcome=2 reply=[-ERR a] "
             "incomplete=0\n"
             "CRED USER user=[carol] pass=[cpw] resp=null mode=0 outcome=1 reply=[+OK c] "
             "incomplete=0\n"
             "CRED APOP user=[bob] pass=null resp=[%s] mode=20 outcome=0 reply=null "
             "incomplete=0\n",
             da, db);
    assert_string_equal(log, want);
    free(log);
}

/* POP3_MAX_PENDING_LOGINS in pop3.c: logins awaiting their reply. */
#define MAX_PENDING_LOGINS 16

/* n PASS commands pipelined after one USER, then every reply (odd ones
 * refused). Up to the cap each login gets its own reply; past it the
 * oldest is reported at once with an unknown outcome, and its reply,
 * when it comes, is matched to nothing. */
static void run_pending_logins(size_t n)
{
    char cli[64 * 16], srv[64 * 16], want[128 * 20];
    size_t cl = 0, sl = 0, wl = 0;
    cl += (size_t)snprintf(cli + cl, sizeof(cli) - cl, "USER u\r\n");
    sl += (size_t)snprintf(srv + sl, sizeof(srv) - sl, "+OK\r\n");
    size_t dropped = n > MAX_PENDING_LOGINS ? n - MAX_PENDING_LOGINS : 0;
    for (size_t i = 1; i <= dropped; i++) {
        wl += (size_t)snprintf(want + wl, sizeof(want) - wl,
                               "ANOMALY too_many_pending_logins\n"
                               "CRED USER user=[u] pass=[p%02zu] resp=null mode=0 outcome=0 "
                               "reply=null incomplete=0\n",
                               i);
    }
    for (size_t i = 1; i <= n; i++) {
        cl += (size_t)snprintf(cli + cl, sizeof(cli) - cl, "PASS p%02zu\r\n", i);
        const char *st = i % 2 ? "-ERR" : "+OK";
        sl += (size_t)snprintf(srv + sl, sizeof(srv) - sl, "%s r%02zu\r\n", st, i);
        if (i > dropped)
            wl += (size_t)snprintf(want + wl, sizeof(want) - wl,
                                   "CRED USER user=[u] pass=[p%02zu] resp=null mode=0 outcome=%d "
                                   "reply=[%s r%02zu] incomplete=0\n",
                                   i, i % 2 ? 2 : 1, st, i);
    }
    assert_true(cl < sizeof(cli) && sl < sizeof(srv) && wl < sizeof(want));
    const struct ms_chunk t[] = { S("+OK\r\n"), C(cli), S(srv) };
    struct ms_limits l = lim();
    assert_true(l.max_pending_cmds > MAX_PENDING_LOGINS + 2); /* the FIFO itself never drops */
    char *log = ms_test_run_all_with(&ms_dissector_pop3, &l, t, N(t), record_resp);
    assert_string_equal(log, want);
    free(log);
}

static void test_pending_login_cap(void **state)
{
    (void)state;
    run_pending_logins(MAX_PENDING_LOGINS - 1);
    run_pending_logins(MAX_PENDING_LOGINS);
    run_pending_logins(MAX_PENDING_LOGINS + 1);
}

/* With max_pending_cmds under that cap the command FIFO bounds the logins:
 * a PASS it drops is reported at once with an unknown outcome. No replies
 * here: after a drop, replies and commands no longer line up (cmdfifo.h). */
static void run_fifo_cap(size_t n)
{
    struct ms_limits l = lim();
    l.max_pending_cmds = 4;
    char cli[128], want[512];
    size_t cl = 0, wl = 0;
    size_t dropped = n > l.max_pending_cmds ? n - l.max_pending_cmds : 0;
    for (size_t i = 1; i <= dropped; i++)
        wl += (size_t)snprintf(want + wl, sizeof(want) - wl,
                               "ANOMALY too_many_pending_commands\n"
                               "CRED USER user=null pass=[p%zu] resp=null mode=0 outcome=0 "
                               "reply=null incomplete=1\n",
                               i);
    for (size_t i = 1; i <= n; i++) {
        cl += (size_t)snprintf(cli + cl, sizeof(cli) - cl, "PASS p%zu\r\n", i);
        if (i > dropped)
            wl += (size_t)snprintf(want + wl, sizeof(want) - wl,
                                   "CRED USER user=null pass=[p%zu] resp=null mode=0 outcome=0 "
                                   "reply=null incomplete=1\n",
                                   i);
    }
    assert_true(cl < sizeof(cli) && wl < sizeof(want));
    const struct ms_chunk t[] = { S("+OK\r\n"), C(cli) };
    char *log = ms_test_run_all_with(&ms_dissector_pop3, &l, t, N(t), record_resp);
    assert_string_equal(log, want);
    free(log);
}

static void test_fifo_cap_drops_login(void **state)
{
    (void)state;
    run_fifo_cap(3);
    run_fifo_cap(4);
    run_fifo_cap(5);
}

/* Measured: the final reply of an AUTH exchange (DIGEST-MD5 there) lost in
 * a server-side hole, and QUIT's "+OK Logging out." taken for it. The
 * exchange ends at the client's next command, outcome unknown; a hole in
 * the server's side may have taken the challenge a response answers, so
 * no hashcat line either. */
static void test_gap_server_cuts_sasl(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    /* RFC 2195's example. */
    const struct ms_chunk whole[] = {
        S("+OK ready\r\n"),
        C("AUTH CRAM-MD5\r\n"),
        S("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
        C("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
        S("+OK Logged in.\r\n"),
    };
    char *log = ms_test_run_all_with(&ms_dissector_pop3, &l, whole, N(whole), record_resp);
    assert_non_null(strstr(log, " mode=10200 outcome=1 reply=[+OK Logged in.] incomplete=0\n"));
    free(log);
    const struct ms_chunk final_lost[] = {
        S("+OK ready\r\n"),
        C("AUTH CRAM-MD5\r\n"),
        S("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
        C("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
        S("+OK Logg"),
        GAP(MS_TO_CLIENT, 6),
        S(".\r\n"),
        C("QUIT\r\n"),
        S("+OK Logging out.\r\n"),
    };
    log = ms_test_run_all_with(&ms_dissector_pop3, &l, final_lost, N(final_lost), record_resp);
    assert_int_equal(ms_test_count_lines(log, "CRED"), 1);
    assert_non_null(strstr(log, "CRED AUTH user=[tim] pass=null "));
    assert_non_null(strstr(log, " mode=0 outcome=0 reply=null incomplete=1\n"));
    free(log);
    /* The hole takes the second prompt of AUTH LOGIN: the client's
     * responses are whole and still read; the reply after the hole may
     * be another's, so the outcome is unknown. */
    const struct ms_chunk prompt_lost[] = {
        S("+OK ready\r\n"), C("AUTH LOGIN\r\n"), S("+ VXNlcm5hbWU6\r\n"),
        C("Ym9i\r\n"),      S("+ UGFz"),         GAP(MS_TO_CLIENT, 8),
        S("\r\n"),          C("czNjcjN0\r\n"),   S("+OK Logged in.\r\n"),
        C("STAT\r\n"),      S("+OK 0 0\r\n"),
    };
    log = ms_test_run_all_with(&ms_dissector_pop3, &l, prompt_lost, N(prompt_lost), record_resp);
    assert_string_equal(log, "CRED AUTH user=[bob] pass=[s3cr3t] resp=null mode=0 outcome=0 "
                             "reply=null incomplete=1\n");
    free(log);
}

/* Measured: APOP's reply lost in a server-side hole, and QUIT's taken for
 * it. The digest and the banner's timestamp are whole: the hashcat line
 * stays, the outcome is unknown. */
static void test_gap_server_loses_apop_reply(void **state)
{
    (void)state;
    static const char ts[] = "<4711.1700000000@mail.example>";
    char d[33], apop[96], want[256];
    apop_digest(ts, "alice secret", d);
    snprintf(apop, sizeof(apop), "APOP alice %s\r\n", d);
    const struct ms_chunk t[] = {
        S("+OK POP3 ready <4711.1700000000@mail.example>\r\n"),
        C(apop),
        S("+OK mai"),
        GAP(MS_TO_CLIENT, 10),
        S("\r\n"),
        C("QUIT\r\n"),
        S("+OK Logging out.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all_with(&ms_dissector_pop3, &l, t, N(t), record_resp);
    snprintf(want, sizeof(want),
             "CRED APOP user=[alice] pass=null resp=[%s] mode=20 outcome=0 "
             "reply=null incomplete=1\n",
             d);
    assert_string_equal(log, want);
    free(log);
}

/* Found by review: a reply lost in a hole (USER's "+OK") put every later
 * pairing one off; AUTH's -ERR went to PASS, the exchange stayed open and
 * swallowed "USER carol", and carol's password came out under alice,
 * accepted. Now a command line ends nothing but is a command, USER names
 * only the PASS after it, and after the hole no outcome is definite. */
static void test_gap_review_wrong_user(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK Dovecot ready.\r\n"),
        C("USER alice\r\n"),
        GAP(MS_TO_CLIENT, 5), /* "+OK\r\n" */
        C("PASS alicepw\r\n"),
        S("-ERR [AUTH] Authentication failed.\r\n"),
        C("AUTH PLAIN AGJvYgBib2Jwdw==\r\n"),
        S("-ERR [AUTH] Authentication failed.\r\n"),
        C("USER carol\r\n"),
        S("+OK\r\n"),
        C("PASS carolpw\r\n"),
        S("+OK Logged in.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_null(strstr(log, "user=[alice] pass=[carolpw]"));
    assert_non_null(strstr(log, "user=[carol] pass=[carolpw] outcome=0 reply=null"));
    assert_null(strstr(log, "outcome=1"));
    free(log);
    /* No hole: an AUTH pipelined with a USER after it (RFC 5034 forbids
     * it): USER is no SASL response, and the pipelined AUTH's outcome is
     * not guessed. */
    const struct ms_chunk piped[] = {
        S("+OK ready\r\n"),
        C("USER alice\r\n"),
        S("+OK\r\n"),
        C("PASS x\r\n"),
        S("-ERR no\r\n"),
        C("AUTH PLAIN AGJvYgBib2Jwdw==\r\nUSER carol\r\n"),
        S("-ERR no\r\n+OK\r\n"),
        C("PASS carolpw\r\n"),
        S("+OK Logged in.\r\n"),
    };
    log = ms_test_run_all(&ms_dissector_pop3, &l, piped, N(piped));
    assert_null(strstr(log, "user=[alice] pass=[carolpw]"));
    assert_non_null(strstr(log, "user=[carol] pass=[carolpw] outcome=1"));
    free(log);
}

/* Found by review: a hole in the server's bytes ending just before a
 * RETR's ".": the terminator was skipped with the tail, and the next
 * replies ran into the message. A lone "." still ends it. */
static void test_gap_review_terminator_after_hole(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),
        C("RETR 1\r\n"),
        S("+OK 30 octets\r\nSubject: one\r\n\r\nbody line\r\n"),
        GAP(MS_TO_CLIENT, 12),
        S(".\r\n"),
        C("RETR 2\r\n"),
        S("+OK 20 octets\r\nSubject: two\r\n\r\nx\r\n.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_int_equal(ms_test_count_lines(log, "EMAIL"), 2);
    assert_non_null(strstr(log, "subject=[two]"));
    free(log);
}

/* Reviewed: a reply dropped over the line cap, or a command the FIFO
 * forgot, shifts every later pairing: no outcome after either. */
static void test_lost_reply_line_no_outcome(void **state)
{
    (void)state;
    struct ms_limits l = lim();
    l.max_line = 16;
    const struct ms_chunk t[] = {
        S("+OK ready\r\n"),
        C("USER a\r\n"),
        S("+OK\r\n"),
        C("PASS x\r\n"),
        S("+OK a reply far over the line cap\r\n"),
        C("QUIT\r\n"),
        S("+OK\r\n"),
    };
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_non_null(strstr(log, "user=[a] pass=[x] outcome=0"));
    free(log);
}

/* TOP moves only part of the message (RFC 1939 7): an attachment that
 * runs to its end may be cut, so it is truncated, though the message is
 * not; RETR of the same message has it whole. */
static void test_top_partial_attachment(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK\r\n"),
        C("TOP 1 1\r\n"),
        S("+OK\r\nContent-Type: application/pdf; name=a.pdf\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n.\r\n"),
        C("RETR 1\r\n"),
        S("+OK\r\nContent-Type: application/pdf; name=a.pdf\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\nJSVFT0YK\r\n.\r\n"),
    };
    struct ms_limits l = lim();
    char *log = ms_test_run_all(&ms_dissector_pop3, &l, t, N(t));
    assert_int_equal(ms_test_count_lines(log, "EMAIL"), 2);
    const char *top = strstr(log, "EMAIL TOP ");
    const char *retr = strstr(log, "EMAIL RETR ");
    assert_non_null(top);
    assert_non_null(retr);
    assert_true(top < retr);
    assert_non_null(strstr(top, "att=[a.pdf] type=[application/pdf] size=9 "));
    const char *top_end = strstr(top, " att_truncated=1 att_gap=0 truncated=0\n");
    assert_non_null(top_end);
    assert_true(top_end < retr);
    assert_non_null(strstr(retr, "att=[a.pdf] type=[application/pdf] size=15 "));
    assert_non_null(strstr(retr, " att_truncated=0 att_gap=0 truncated=0\n"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_userpass_success_and_retr),
        cmocka_unit_test(test_userpass_failure),
        cmocka_unit_test(test_no_reply_is_unknown),
        cmocka_unit_test(test_lowercase_bare_lf),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_stls),
        cmocka_unit_test(test_auth_exchange_keeps_sync),
        cmocka_unit_test(test_auth_mechanisms),
        cmocka_unit_test(test_pass_without_user),
        cmocka_unit_test(test_line_cap),
        cmocka_unit_test(test_secret_cap),
        cmocka_unit_test(test_gap_truncates_message),
        cmocka_unit_test(test_top_partial_attachment),
        cmocka_unit_test(test_pipelined_two_users),
        cmocka_unit_test(test_second_pass_same_user),
        cmocka_unit_test(test_gap_marks_waiting_pass),
        cmocka_unit_test(test_pipelined_apop),
        cmocka_unit_test(test_pending_login_cap),
        cmocka_unit_test(test_fifo_cap_drops_login),
        cmocka_unit_test(test_gap_server_loses_pass_reply),
        cmocka_unit_test(test_gap_client_loses_user),
        cmocka_unit_test(test_gap_client_forgets_user),
        cmocka_unit_test(test_gap_pipelining_client),
        cmocka_unit_test(test_gap_client_settles_pending),
        cmocka_unit_test(test_gap_client_ends_sasl),
        cmocka_unit_test(test_gap_review_wrong_user),
        cmocka_unit_test(test_gap_pass_right_after_hole),
        cmocka_unit_test(test_stls_injection_split),
        cmocka_unit_test(test_gap_review_terminator_after_hole),
        cmocka_unit_test(test_lost_reply_line_no_outcome),
        cmocka_unit_test(test_gap_server_cuts_sasl),
        cmocka_unit_test(test_gap_server_loses_apop_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
