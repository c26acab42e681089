/* The STARTTLS stripping memory (app/tls_memo.h): a server that offered
 * STARTTLS is found again by address, port and protocol only; the cap
 * forgets the least recently seen server (which then raises nothing); a
 * lookup counts as seen. And the dissectors' posture (dissector.h,
 * posture): a capability listing counts as whole only without a hole or a
 * lost line inside it and before any accepted login. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../app/tls_memo.h"
#include "../../common/proto.h"
#include "../../dissectors/dissector.h"

static struct ms_tls_server server(uint8_t last, uint16_t port, enum ms_proto proto)
{
    struct ms_tls_server s;
    memset(&s, 0xa5, sizeof(s)); /* padding and unused address bytes: garbage */
    s.ip_version = 4;
    s.addr[0] = 10;
    s.addr[1] = 0;
    s.addr[2] = 0;
    s.addr[3] = last;
    s.port = port;
    s.proto = (uint8_t)proto;
    return s;
}

static bool stripped(struct ms_tls_memo *m, struct ms_tls_server s, uint64_t *fid)
{
    uint64_t ts = 0;
    *fid = 0;
    return ms_tls_memo_stripped(m, &s, fid, &ts);
}

static void test_offer_then_strip(void **state)
{
    (void)state;
    struct ms_tls_memo *m = ms_tls_memo_new(16);
    assert_non_null(m);
    uint64_t fid;
    struct ms_tls_server a = server(1, 143, MS_PROTO_IMAP);
    assert_false(stripped(m, a, &fid)); /* never offered: nothing to compare with */
    assert_int_equal(ms_tls_memo_offered(m, &a, 111, 5), MS_OK);
    struct ms_tls_server again = server(1, 143, MS_PROTO_IMAP);
    memset(again.addr + 4, 0, 12); /* the bytes past an IPv4 address do not count */
    /* Another port, protocol or address is another server. */
    assert_false(stripped(m, server(1, 993, MS_PROTO_IMAP), &fid));
    assert_false(stripped(m, server(1, 143, MS_PROTO_POP3), &fid));
    assert_false(stripped(m, server(2, 143, MS_PROTO_IMAP), &fid));
    assert_true(stripped(m, again, &fid));
    assert_int_equal(fid, 111);
    /* One alert per offer: a server that stopped offering it (a change of
     * configuration) does not alert at every later session. */
    assert_int_equal(ms_tls_memo_count(m), 0);
    assert_false(stripped(m, a, &fid));
    /* Offered again: remembered again, the latest offering session named. */
    assert_int_equal(ms_tls_memo_offered(m, &a, 111, 5), MS_OK);
    assert_int_equal(ms_tls_memo_offered(m, &a, 222, 6), MS_OK);
    assert_int_equal(ms_tls_memo_count(m), 1);
    assert_true(stripped(m, a, &fid));
    assert_int_equal(fid, 222);
    assert_false(stripped(m, a, &fid));
    ms_tls_memo_free(m);
}

static void test_eviction(void **state)
{
    (void)state;
    const size_t cap = 3;
    struct ms_tls_memo *m = ms_tls_memo_new(cap);
    assert_non_null(m);
    uint64_t fid;
    for (uint8_t i = 1; i <= cap; i++) {
        struct ms_tls_server s = server(i, 25, MS_PROTO_SMTP);
        assert_int_equal(ms_tls_memo_offered(m, &s, i, i), MS_OK);
    }
    assert_int_equal(ms_tls_memo_count(m), cap); /* at the cap: nothing forgotten */
    assert_int_equal(ms_tls_memo_evicted(m), 0);
    /* Server 1 offers again: it becomes the newest. */
    struct ms_tls_server s1 = server(1, 25, MS_PROTO_SMTP);
    assert_int_equal(ms_tls_memo_offered(m, &s1, 11, 11), MS_OK);
    assert_int_equal(ms_tls_memo_evicted(m), 0);
    struct ms_tls_server s4 = server(4, 25, MS_PROTO_SMTP);
    assert_int_equal(ms_tls_memo_offered(m, &s4, 4, 4), MS_OK); /* cap + 1 */
    assert_int_equal(ms_tls_memo_count(m), cap);
    assert_int_equal(ms_tls_memo_evicted(m), 1);
    /* Server 2 was the least recently seen: forgotten, so no alert. */
    assert_false(stripped(m, server(2, 25, MS_PROTO_SMTP), &fid));
    assert_true(stripped(m, server(1, 25, MS_PROTO_SMTP), &fid));
    assert_int_equal(fid, 11);
    assert_true(stripped(m, server(3, 25, MS_PROTO_SMTP), &fid));
    assert_true(stripped(m, server(4, 25, MS_PROTO_SMTP), &fid));
    ms_tls_memo_free(m);
}

static void test_many(void **state)
{
    (void)state;
    /* Far past the cap: always exactly cap remembered, the newest ones. */
    struct ms_tls_memo *m = ms_tls_memo_new(100);
    assert_non_null(m);
    for (uint32_t i = 0; i < 1000; i++) {
        struct ms_tls_server s = server((uint8_t)(i & 0xff), (uint16_t)(1000 + i), MS_PROTO_POP3);
        assert_int_equal(ms_tls_memo_offered(m, &s, i + 1, i), MS_OK);
        assert_true(ms_tls_memo_count(m) <= 100);
    }
    uint64_t fid;
    assert_int_equal(ms_tls_memo_evicted(m), 900);
    assert_false(stripped(m, server(899 & 0xff, 1899, MS_PROTO_POP3), &fid));
    assert_true(stripped(m, server(900 & 0xff, 1900, MS_PROTO_POP3), &fid));
    assert_int_equal(fid, 901);
    ms_tls_memo_free(m);
}

/* ---- posture --------------------------------------------------------- */

static void ignore(void *user, const struct ms_event *ev)
{
    (void)user;
    (void)ev;
}

struct step {
    unsigned dir;     /* MS_TO_SERVER, MS_TO_CLIENT */
    const char *text; /* NULL: a gap of 10 bytes */
};

static struct ms_session_posture run(const struct ms_dissector *d, const struct step *steps,
                                     size_t n)
{
    struct ms_limits lim = ms_limits_default();
    struct ms_sink sink = { .emit = ignore };
    void *st = d->create(&lim, &sink);
    assert_non_null(st);
    for (size_t i = 0; i < n; i++) {
        if (!steps[i].text)
            d->gap(st, steps[i].dir, 10);
        else
            assert_int_equal(d->feed(st, steps[i].dir, (const uint8_t *)steps[i].text,
                                     strlen(steps[i].text)),
                             MS_OK);
    }
    d->finish(st);
    struct ms_session_posture p;
    d->posture(st, &p);
    d->destroy(st);
    return p;
}

#define C MS_TO_SERVER
#define S MS_TO_CLIENT
#define RUN(d, steps) run((d), (steps), sizeof(steps) / sizeof((steps)[0]))

static void test_pop3_listing(void **state)
{
    (void)state;
    static const struct step whole[] = {
        { S, "+OK ready\r\n" },
        { C, "CAPA\r\n" },
        { S, "+OK\r\nUSER\r\nSASL PLAIN login\r\n.\r\n" },
        { C, "USER a\r\n" },
        { S, "+OK\r\n" },
        { C, "PASS b\r\n" },
        { S, "+OK in\r\n" },
    };
    struct ms_session_posture p = RUN(&ms_dissector_pop3, whole);
    assert_true(p.listing_complete);
    assert_int_equal(p.starttls_offered, MS_TRI_FALSE);
    assert_int_equal(p.n_mechs, 2);
    assert_string_equal(p.mechs[0], "PLAIN");
    assert_string_equal(p.mechs[1], "LOGIN");
    /* A hole in the server's bytes inside the list: STLS may be what it took. */
    static const struct step holed[] = {
        { S, "+OK ready\r\n" },       { C, "CAPA\r\n" }, { S, "+OK\r\nUSER\r\n" }, { S, NULL },
        { S, "SASL PLAIN\r\n.\r\n" },
    };
    p = RUN(&ms_dissector_pop3, holed);
    assert_false(p.listing_complete);
    /* The list with STLS: offered. */
    static const struct step offered[] = {
        { S, "+OK ready\r\n" },
        { C, "CAPA\r\n" },
        { S, "+OK\r\nSTLS\r\nUSER\r\n.\r\n" },
    };
    p = RUN(&ms_dissector_pop3, offered);
    assert_true(p.listing_complete);
    assert_int_equal(p.starttls_offered, MS_TRI_TRUE);
    /* A list never ended (the capture stopped inside it) is not whole. */
    static const struct step unended[] = {
        { S, "+OK ready\r\n" },
        { C, "CAPA\r\n" },
        { S, "+OK\r\nUSER\r\n" },
    };
    p = RUN(&ms_dissector_pop3, unended);
    assert_false(p.listing_complete);
}

static void test_smtp_listing(void **state)
{
    (void)state;
    static const struct step whole[] = {
        { S, "220 mx ESMTP\r\n" },
        { C, "EHLO c\r\n" },
        { S, "250-mx\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n" },
    };
    struct ms_session_posture p = RUN(&ms_dissector_smtp, whole);
    assert_true(p.listing_complete);
    assert_int_equal(p.starttls_offered, MS_TRI_FALSE);
    assert_int_equal(p.n_mechs, 2);
    static const struct step holed[] = {
        { S, "220 mx ESMTP\r\n" },
        { C, "EHLO c\r\n" },
        { S, "250-mx\r\n250-PIPELINING\r\n" },
        { S, NULL },
        { S, "250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n" },
    };
    p = RUN(&ms_dissector_smtp, holed);
    assert_false(p.listing_complete);
    static const struct step offered[] = {
        { S, "220 mx ESMTP\r\n" },
        { C, "EHLO c\r\n" },
        { S, "250-mx\r\n250-STARTTLS\r\n250 AUTH=PLAIN\r\n" },
    };
    p = RUN(&ms_dissector_smtp, offered);
    assert_true(p.listing_complete);
    assert_int_equal(p.starttls_offered, MS_TRI_TRUE);
    assert_int_equal(p.n_mechs, 1);
    assert_string_equal(p.mechs[0], "PLAIN");
}

static void test_imap_listing(void **state)
{
    (void)state;
    /* Only the list after login is seen: servers drop STARTTLS there on
     * their own, so it says nothing about stripping. */
    static const struct step after_login[] = {
        { C, "a LOGIN u p\r\n" },
        { S, "a OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] in\r\n" },
    };
    struct ms_session_posture p = RUN(&ms_dissector_imap, after_login);
    assert_false(p.listing_complete);
    static const struct step before[] = {
        { S, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] ready\r\n" },
        { C, "a LOGIN u p\r\n" },
        { S, "a OK in\r\n" },
    };
    p = RUN(&ms_dissector_imap, before);
    assert_true(p.listing_complete);
    assert_int_equal(p.starttls_offered, MS_TRI_FALSE);
    assert_int_equal(p.n_mechs, 2);
    static const struct step loginsdisabled[] = {
        { S, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n" },
    };
    p = RUN(&ms_dissector_imap, loginsdisabled);
    assert_int_equal(p.starttls_offered, MS_TRI_TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer_then_strip),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_pop3_listing),
        cmocka_unit_test(test_smtp_listing),
        cmocka_unit_test(test_imap_listing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
