/* SASL mechanisms (dissectors/sasl.c) and the POP3 logins around them
 * (APOP, CAPA/STLS posture, STLS command injection), with vectors from the
 * RFCs and vendor documents: RFC 2195 (CRAM-MD5), RFC 2831 section 4
 * (DIGEST-MD5), RFC 1939 section 7 (APOP), MS-NLMP 4.2.4 (NTLMv2), Google's
 * XOAUTH2 document, RFC 7628 section 4 (OAUTHBEARER), and hashcat's example
 * hashes. Each digest in a vector is recomputed here from the known
 * password with libcrypto, so a vector copied wrong cannot pass.
 *
 * Every POP3 transcript runs whole, byte by byte and split at every offset,
 * twice: through helper_split's ms_test_run_all (the common fields) and
 * through run_all() below, whose log also holds every challenge/response
 * field, so all of them must be split-invariant too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissectors/sasl.h"
#include "helper_log.h"
#include "helper_split.h"

/* ---- a recorder with every credential field ---------------------------- */

static void put(struct ms_buf *log, const char *key, struct ms_bytes b)
{
    if (!b.p)
        return;
    ms_buf_append(log, " ", 1);
    ms_buf_append(log, key, strlen(key));
    ms_buf_append(log, "=[", 2);
    ms_buf_append(log, b.p, b.len);
    ms_buf_append(log, "]", 1);
}

static const char *tri(enum ms_tristate t)
{
    return t == MS_TRI_TRUE ? "true" : t == MS_TRI_FALSE ? "false" : "null";
}

static void record(void *user, const struct ms_event *ev)
{
    struct ms_buf *log = user;
    char tmp[160];
    if (ev->kind == MS_EV_CREDENTIAL) {
        const struct ms_ev_credential *c = &ev->u.cred;
        snprintf(tmp, sizeof(tmp), "CRED %s %s", c->command, c->mechanism);
        ms_buf_append(log, tmp, strlen(tmp));
        put(log, "user", c->username);
        put(log, "authzid", c->authzid);
        put(log, "pass", c->password);
        put(log, "token", c->token);
        put(log, "domain", c->domain);
        put(log, "ws", c->workstation);
        put(log, "chal", c->challenge);
        put(log, "resp", c->response);
        put(log, "hashcat", c->hashcat);
        snprintf(tmp, sizeof(tmp), " mode=%d outcome=%d", c->hashcat_mode, (int)c->outcome);
        ms_buf_append(log, tmp, strlen(tmp));
        put(log, "reply", c->server_reply);
        snprintf(tmp, sizeof(tmp), " stls=%s incomplete=%d", tri(c->starttls_offered),
                 c->incomplete);
        ms_buf_append(log, tmp, strlen(tmp));
    } else if (ev->kind == MS_EV_EMAIL) {
        snprintf(tmp, sizeof(tmp), "EMAIL %s partial=%d truncated=%d", ev->u.email.command,
                 ev->u.email.partial, ev->u.email.truncated);
        ms_buf_append(log, tmp, strlen(tmp));
    } else {
        snprintf(tmp, sizeof(tmp), "ANOMALY %s", ev->u.anomaly.code);
        ms_buf_append(log, tmp, strlen(tmp));
    }
    ms_buf_append(log, "\n", 1);
}

/* Every mode twice: helper_split's common log, then this file's. */
static char *run_all_lim(const struct ms_limits *lim, const struct ms_chunk *t, size_t n)
{
    free(ms_test_run_all(&ms_dissector_pop3, lim, t, n));
    return ms_test_run_all_with(&ms_dissector_pop3, lim, t, n, record);
}

static char *run_all(const struct ms_chunk *t, size_t n)
{
    struct ms_limits lim = ms_limits_default();
    return run_all_lim(&lim, t, n);
}

static size_t count(const char *log, const char *sub)
{
    size_t k = 0;
    for (const char *p = strstr(log, sub); p; p = strstr(p + 1, sub))
        k++;
    return k;
}

/* ---- helpers: base64, digests ------------------------------------------ */

/* Base64 of n bytes with OpenSSL's encoder (not mailspill's), into a
 * fresh line "<prefix><b64><suffix>" kept in a small ring of buffers. */
static const char *b64line(const char *prefix, const void *d, size_t n, const char *suffix)
{
    static char ring[8][8192];
    static int at;
    char *out = ring[at++ % 8];
    size_t pl = strlen(prefix);
    memcpy(out, prefix, pl);
    int k = EVP_EncodeBlock((unsigned char *)out + pl, d, (int)n);
    snprintf(out + pl + (size_t)k, sizeof(ring[0]) - pl - (size_t)k, "%s", suffix);
    return out;
}

static void md5hex(const void *d, size_t n, char out[33])
{
    uint8_t h[16];
    unsigned len = 0;
    EVP_Digest(d, n, h, &len, EVP_md5(), NULL);
    ms_test_hex(h, 16, out);
}

static void hmac_md5hex(const char *key, const char *msg, char out[33])
{
    uint8_t h[16];
    unsigned len = 0;
    HMAC(EVP_md5(), key, (int)strlen(key), (const uint8_t *)msg, strlen(msg), h, &len);
    ms_test_hex(h, 16, out);
}

/* ---- CRAM-MD5 ------------------------------------------------------------ */

static void cram_case(const char *chal, const char *user, const char *pass, const char *digest,
                      const char *hashcat_example)
{
    char want_digest[33];
    hmac_md5hex(pass, chal, want_digest);
    assert_string_equal(want_digest, digest); /* the vector is right */
    char resp[256];
    snprintf(resp, sizeof(resp), "%s %s", user, digest);
    const struct ms_chunk ok[] = {
        S("+OK ready\r\n"),
        C("AUTH CRAM-MD5\r\n"),
        S(b64line("+ ", chal, strlen(chal), "\r\n")),
        C(b64line("", resp, strlen(resp), "\r\n")),
        S("+OK Logged in.\r\n"),
    };
    char *log = run_all(ok, N(ok));
    char hc[512], want[1024];
    snprintf(hc, sizeof(hc), "$cram_md5$%s", b64line("", chal, strlen(chal), "$"));
    snprintf(hc + strlen(hc), sizeof(hc) - strlen(hc), "%s", b64line("", resp, strlen(resp), ""));
    if (hashcat_example)
        assert_string_equal(hc, hashcat_example);
    snprintf(want, sizeof(want),
             "CRED AUTH CRAM-MD5 user=[%s] chal=[%s] resp=[%s] hashcat=[%s] mode=10200 outcome=1 "
             "reply=[+OK Logged in.] stls=null incomplete=0\n",
             user, chal, digest, hc);
    assert_string_equal(log, want);
    free(log);

    /* The same exchange refused. */
    const struct ms_chunk bad[] = {
        ok[0], ok[1], ok[2], ok[3], S("-ERR [AUTH] Authentication failed.\r\n"),
    };
    log = run_all(bad, N(bad));
    assert_int_equal(count(log, "mode=10200 outcome=2 reply=[-ERR [AUTH] Authentication failed.]"),
                     1);
    free(log);
}

static void test_cram_md5(void **state)
{
    (void)state;
    /* RFC 2195 section 2's example. */
    cram_case("<1896.697170952@postoffice.reston.mci.net>", "tim", "tanstaaftanstaaf",
              "b913a602c7eda7a495b4e6e7334d3890", NULL);
    /* hashcat's example hash for -m 10200 (password "hashcat"). */
    cram_case("<no-reply@hashcat.net>", "user", "hashcat", "44eafd22fe76670f6b2879081a7f5f71",
              "$cram_md5$PG5vLXJlcGx5QGhhc2hjYXQubmV0Pg==$"
              "dXNlciA0NGVhZmQyMmZlNzY2NzBmNmIyODc5MDgxYTdmNWY3MQ==");
}

/* The API directly: the response before the challenge gives the same
 * credential (reassembly may deliver the client's bytes first). */
static void test_cram_md5_any_order(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    const char *ch = b64line("", "<1.2@h>", 7, "");
    char chal[64];
    snprintf(chal, sizeof(chal), "%s", ch);
    const char *r = b64line("", "a b c 0123456789abcdef0123456789abcdef", 38, "");
    char resp[128];
    snprintf(resp, sizeof(resp), "%s", r);
    struct ms_ev_credential c1, c2;
    struct ms_sasl s1, s2;
    ms_sasl_init(&s1, &lim);
    ms_sasl_init(&s2, &lim);
    ms_sasl_start(&s1, (const uint8_t *)"cram-md5", 8, NULL, 0, false);
    ms_sasl_challenge(&s1, (const uint8_t *)chal, strlen(chal));
    ms_sasl_response(&s1, (const uint8_t *)resp, strlen(resp));
    ms_sasl_start(&s2, (const uint8_t *)"CRAM-MD5", 8, NULL, 0, false);
    ms_sasl_response(&s2, (const uint8_t *)resp, strlen(resp));
    memset(&c2, 0, sizeof(c2));
    assert_true(ms_sasl_credential(&s2, &c2));
    assert_true(c2.incomplete); /* no challenge yet */
    assert_null(c2.hashcat.p);
    ms_sasl_challenge(&s2, (const uint8_t *)chal, strlen(chal));
    memset(&c1, 0, sizeof(c1));
    memset(&c2, 0, sizeof(c2));
    assert_true(ms_sasl_credential(&s1, &c1));
    assert_true(ms_sasl_credential(&s2, &c2));
    assert_string_equal(c1.mechanism, "CRAM-MD5");
    assert_false(c1.incomplete);
    assert_false(c2.incomplete);
    /* A user name with spaces: the digest is after the last one. */
    assert_int_equal(c1.username.len, 5);
    assert_memory_equal(c1.username.p, "a b c", 5);
    assert_int_equal(c1.hashcat.len, c2.hashcat.len);
    assert_memory_equal(c1.hashcat.p, c2.hashcat.p, c1.hashcat.len);
    assert_int_equal(c2.hashcat_mode, 10200);
    assert_string_equal(ms_sasl_anomaly_detail(&s1), "");
    ms_sasl_response(&s1, (const uint8_t *)"@@", 2);
    assert_true(s1.malformed);
    assert_string_equal(ms_anomaly_code(s1.anomaly), "sasl_invalid_base64");
    assert_string_equal(ms_sasl_anomaly_detail(&s1), "SASL response is not valid base64");
    ms_sasl_free(&s1);
    ms_sasl_free(&s2);
}

static void test_cram_md5_malformed(void **state)
{
    (void)state;
    const struct ms_chunk nospace[] = {
        S("+OK\r\n"),
        C("AUTH CRAM-MD5\r\n"),
        S("+ PDEuMkBoPg==\r\n"),                                   /* <1.2@h> */
        C("dGltYjkxM2E2MDJjN2VkYTdhNDk1YjRlNmU3MzM0ZDM4OTA=\r\n"), /* no space */
        S("-ERR\r\n"),
    };
    char *log = run_all(nospace, N(nospace));
    assert_string_equal(log, "ANOMALY sasl_cram_md5_malformed\n");
    free(log);
    const struct ms_chunk shortdigest[] = {
        S("+OK\r\n"),
        C("AUTH CRAM-MD5\r\n"),
        S("+ PDEuMkBoPg==\r\n"),
        C(b64line("", "tim b913a602", 12, "\r\n")),
        S("-ERR\r\n"),
    };
    log = run_all(shortdigest, N(shortdigest));
    assert_string_equal(log, "ANOMALY sasl_cram_md5_malformed\n"
                             "CRED AUTH CRAM-MD5 user=[tim] chal=[<1.2@h>] resp=[b913a602] mode=0 "
                             "outcome=2 reply=[-ERR] stls=null incomplete=1\n");
    free(log);
    /* Cancelled: nothing. */
    const struct ms_chunk cancel[] = {
        S("+OK\r\n"), C("AUTH CRAM-MD5\r\n"),  S("+ PDEuMkBoPg==\r\n"),
        C("*\r\n"),   S("-ERR cancelled\r\n"),
    };
    log = run_all(cancel, N(cancel));
    assert_string_equal(log, "");
    free(log);
}

/* ---- DIGEST-MD5 (RFC 2831 section 4) -------------------------------------- */

static const char dmd5_chal[] =
    "realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\","
    "algorithm=md5-sess,charset=utf-8";
static const char dmd5_resp[] = "charset=utf-8,username=\"chris\",realm=\"elwood.innosoft.com\","
                                "nonce=\"OA6MG9tEQGm2hh\",nc=00000001,cnonce=\"OA6MHXh6VqTrRk\","
                                "digest-uri=\"imap/elwood.innosoft.com\","
                                "response=d388dad90d4bbd760a152321f2143af7,qop=auth";

/* RFC 2831 2.1.2.1 with the example's values: the response= digest is
 * reproducible from what the credential reports plus the password. */
static void test_digest_md5_vector(void **state)
{
    (void)state;
    uint8_t a1h[16];
    unsigned len = 0;
    EVP_Digest("chris:elwood.innosoft.com:secret", 32, a1h, &len, EVP_md5(), NULL);
    uint8_t a1[64];
    memcpy(a1, a1h, 16);
    memcpy(a1 + 16, ":OA6MG9tEQGm2hh:OA6MHXh6VqTrRk", 30);
    char ha1[33], ha2[33], kd[33], msg[256];
    md5hex(a1, 46, ha1);
    md5hex("AUTHENTICATE:imap/elwood.innosoft.com", 37, ha2);
    snprintf(msg, sizeof(msg), "%s:OA6MG9tEQGm2hh:00000001:OA6MHXh6VqTrRk:auth:%s", ha1, ha2);
    md5hex(msg, strlen(msg), kd);
    assert_string_equal(kd, "d388dad90d4bbd760a152321f2143af7");

    const struct ms_chunk t[] = {
        S("+OK\r\n"),
        C("AUTH DIGEST-MD5\r\n"),
        S(b64line("+ ", dmd5_chal, strlen(dmd5_chal), "\r\n")),
        C(b64line("", dmd5_resp, strlen(dmd5_resp), "\r\n")),
        S("+ cnNwYXV0aD1lYTQwZjYwMzM1YzQyN2I1NTI3Yjg0ZGJhYmNkZmZmZA==\r\n"), /* rspauth=... */
        C("\r\n"),
        S("+OK Logged in.\r\n"),
    };
    char *log = run_all(t, N(t));
    char want[1024];
    snprintf(want, sizeof(want),
             "CRED AUTH DIGEST-MD5 user=[chris] domain=[elwood.innosoft.com] chal=[%s] resp=[%s] "
             "mode=0 outcome=1 reply=[+OK Logged in.] stls=null incomplete=0\n",
             dmd5_chal, dmd5_resp);
    assert_string_equal(log, want);
    free(log);
}

static char *digest_run(const char *resp)
{
    const struct ms_chunk t[] = {
        S("+OK\r\n"),
        C("AUTH DIGEST-MD5\r\n"),
        S(b64line("+ ", dmd5_chal, strlen(dmd5_chal), "\r\n")),
        C(b64line("", resp, strlen(resp), "\r\n")),
        S("-ERR no\r\n"),
    };
    return run_all(t, N(t));
}

/* Quoted-string rules: quoted-pairs, LWS around "=" and ",", empty list
 * elements; ISO 8859-1 without charset=utf-8; the failures. */
static void test_digest_md5_syntax(void **state)
{
    (void)state;
    char *log = digest_run(" ,, username = \"a\\\"b\\\\c d\" ,realm=\"R\\\\1\", authzid=\"boss\","
                           "response=0123456789abcdef0123456789ABCDEF,nonce=\"x,y\"");
    assert_int_equal(count(log,
                           "CRED AUTH DIGEST-MD5 user=[a\"b\\c d] authzid=[boss] domain=[R\\1]"),
                     1);
    assert_int_equal(count(log, "incomplete=0\n"), 1);
    assert_int_equal(count(log, "ANOMALY"), 0);
    free(log);

    log = digest_run("username=\"Jos\xe9\",response=0123456789abcdef0123456789abcdef");
    assert_int_equal(count(log, "user=[Jos\xc3\xa9]"), 1);
    free(log);
    log = digest_run(
        "charset=utf-8,username=\"Jos\xc3\xa9\",response=0123456789abcdef0123456789abcdef");
    assert_int_equal(count(log, "user=[Jos\xc3\xa9]"), 1);
    free(log);
    /* curl sends UTF-8 without charset=utf-8: valid UTF-8 stays as is. */
    log = digest_run("username=\"Jos\xc3\xa9\",response=0123456789abcdef0123456789abcdef");
    assert_int_equal(count(log, "user=[Jos\xc3\xa9]"), 1);
    free(log);

    log = digest_run("realm=\"r\",nonce=\"n\",response=0123456789abcdef0123456789abcdef");
    assert_int_equal(count(log, "ANOMALY sasl_digest_md5_no_username\n"), 1);
    assert_int_equal(count(log, "CRED AUTH DIGEST-MD5 domain=[r]"), 1);
    assert_int_equal(count(log, "incomplete=1\n"), 1);
    free(log);

    log = digest_run("username=\"chris,realm=\"r\"");
    assert_int_equal(count(log, "ANOMALY sasl_digest_md5_malformed\n"), 1);
    free(log);
    log = digest_run("username=\"chris\",junk,response=00");
    assert_int_equal(count(log, "ANOMALY sasl_digest_md5_malformed\n"), 1);
    free(log);
    /* No usable digest: reported, incomplete. */
    log = digest_run("username=\"chris\",response=zz");
    assert_int_equal(count(log, "CRED AUTH DIGEST-MD5 user=[chris]"), 1);
    assert_int_equal(count(log, "incomplete=1\n"), 1);
    free(log);
}

/* ---- XOAUTH2, OAUTHBEARER --------------------------------------------------- */

/* developers.google.com/gmail/imap/xoauth2-protocol, "SASL XOAUTH2"
 * example: user someuser@example.com, token ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg. */
static const char xo_msg[] = "user=someuser@example.com\001auth=Bearer "
                             "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001";

static void test_xoauth2(void **state)
{
    (void)state;
    const struct ms_chunk ir[] = {
        S("+OK\r\n"),
        C(b64line("AUTH XOAUTH2 ", xo_msg, sizeof(xo_msg) - 1, "\r\n")),
        S("+OK Welcome.\r\n"),
    };
    char *log = run_all(ir, N(ir));
    assert_string_equal(log,
                        "CRED AUTH XOAUTH2 user=[someuser@example.com] "
                        "token=[ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg] mode=0 outcome=1 "
                        "reply=[+OK Welcome.] stls=null incomplete=0\n");
    free(log);
    /* Google's failure: a base64 JSON error as a challenge, the client's
     * empty response, then the failure. */
    static const char err[] =
        "{\"status\":\"401\",\"schemes\":\"bearer mac\",\"scope\":\"https://mail.google.com/\"}";
    const struct ms_chunk fail[] = {
        S("+OK\r\n"),
        C("AUTH XOAUTH2\r\n"),
        S("+ \r\n"),
        C(b64line("", xo_msg, sizeof(xo_msg) - 1, "\r\n")),
        S(b64line("+ ", err, sizeof(err) - 1, "\r\n")),
        C("\r\n"),
        S("-ERR [AUTH] Invalid credentials.\r\n"),
    };
    log = run_all(fail, N(fail));
    assert_string_equal(log,
                        "CRED AUTH XOAUTH2 user=[someuser@example.com] "
                        "token=[ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg] mode=0 outcome=2 "
                        "reply=[-ERR [AUTH] Invalid credentials.] stls=null incomplete=0\n");
    free(log);
    const struct ms_chunk junk[] = {
        S("+OK\r\n"),
        C(b64line("AUTH XOAUTH2 ", "hello", 5, "\r\n")),
        S("-ERR\r\n"),
    };
    log = run_all(junk, N(junk));
    assert_string_equal(log, "ANOMALY sasl_xoauth2_malformed\n");
    free(log);
}

/* RFC 7628 section 4.1 (success) and 4.3 (failure) examples. */
static const char ob_msg[] = "n,a=user@example.com,\001host=server.example.com\001port=143\001"
                             "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001";

static void test_oauthbearer(void **state)
{
    (void)state;
    const struct ms_chunk ok[] = {
        S("+OK\r\n"),
        C(b64line("AUTH OAUTHBEARER ", ob_msg, sizeof(ob_msg) - 1, "\r\n")),
        S("+OK Logged in\r\n"),
    };
    char *log = run_all(ok, N(ok));
    assert_string_equal(log, "CRED AUTH OAUTHBEARER user=[user@example.com] "
                             "token=[vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==] mode=0 outcome=1 "
                             "reply=[+OK Logged in] stls=null incomplete=0\n");
    free(log);
    static const char fail_msg[] =
        "n,a=user@example.com,\001host=server.example.com\001port=143\001"
        "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCh==\001\001";
    static const char err[] =
        "{\"status\":\"invalid_token\",\"scope\":\"example_scope\","
        "\"openid-configuration\":\"https://example.com/.well-known/openid-configuration\"}";
    const struct ms_chunk fail[] = {
        S("+OK\r\n"),
        C(b64line("AUTH OAUTHBEARER ", fail_msg, sizeof(fail_msg) - 1, "\r\n")),
        S(b64line("+ ", err, sizeof(err) - 1, "\r\n")),
        C("AQ==\r\n"), /* the lone %x01 acknowledging the error */
        S("-ERR authentication failed\r\n"),
    };
    log = run_all(fail, N(fail));
    assert_string_equal(log, "CRED AUTH OAUTHBEARER user=[user@example.com] "
                             "token=[vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCh==] mode=0 outcome=2 "
                             "reply=[-ERR authentication failed] stls=null incomplete=0\n");
    free(log);
    /* saslname escapes, no authzid, and a message without gs2 header. */
    static const char esc[] = "n,a=a=2Cb=3Dc,\001auth=Bearer t\001\001";
    const struct ms_chunk e[] = {
        S("+OK\r\n"),
        C(b64line("AUTH OAUTHBEARER ", esc, sizeof(esc) - 1, "\r\n")),
        S("+OK\r\n"),
    };
    log = run_all(e, N(e));
    assert_int_equal(count(log, "user=[a,b=c] token=[t]"), 1);
    free(log);
    static const char noa[] = "n,,\001auth=Bearer t\001\001";
    const struct ms_chunk na[] = {
        S("+OK\r\n"),
        C(b64line("AUTH OAUTHBEARER ", noa, sizeof(noa) - 1, "\r\n")),
        S("+OK\r\n"),
    };
    log = run_all(na, N(na));
    assert_string_equal(log,
                        "CRED AUTH OAUTHBEARER token=[t] mode=0 outcome=1 reply=[+OK] stls=null "
                        "incomplete=0\n");
    free(log);
    static const char nogs2[] = "\001auth=Bearer t\001\001";
    const struct ms_chunk ng[] = {
        S("+OK\r\n"),
        C(b64line("AUTH OAUTHBEARER ", nogs2, sizeof(nogs2) - 1, "\r\n")),
        S("-ERR\r\n"),
    };
    log = run_all(ng, N(ng));
    assert_string_equal(log, "ANOMALY sasl_oauthbearer_malformed\n");
    free(log);
}

/* The secret cap on a token: max-1 and max whole, max+1 cut and flagged. */
static void test_token_cap(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    lim.max_secret = 16;
    for (size_t len = 15; len <= 17; len++) {
        char msg[128], tok[32];
        memset(tok, 'T', len);
        tok[len] = '\0';
        int n = snprintf(msg, sizeof(msg), "user=u\001auth=Bearer %s\001\001", tok);
        const struct ms_chunk t[] = {
            S("+OK\r\n"),
            C(b64line("AUTH XOAUTH2 ", msg, (size_t)n, "\r\n")),
            S("+OK\r\n"),
        };
        char *log = run_all_lim(&lim, t, N(t));
        char want[128];
        snprintf(want, sizeof(want),
                 "token=[%.*s] mode=0 outcome=1 reply=[+OK] stls=null incomplete=%d\n",
                 (int)(len > 16 ? 16 : len), tok, len > 16);
        assert_int_equal(count(log, want), 1);
        free(log);
    }
}

/* ---- NTLM through POP3 ------------------------------------------------------ */

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static size_t u16(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; *s; s++) {
        out[n++] = (uint8_t)*s;
        out[n++] = 0;
    }
    return n;
}

/* MS-NLMP 4.2.4's NTLMv2 exchange (user "User", domain "Domain",
 * workstation "COMPUTER", server challenge 0123456789abcdef, NTProofStr
 * 68cd0ab851e51c96aabc927bebef6a1c; test_ntlm.c recomputes the proof from
 * the password). */
static size_t v2_blob(uint8_t *b)
{
    size_t n = 0;
    b[n++] = 1;
    b[n++] = 1;
    memset(b + n, 0, 14);
    n += 14;
    memset(b + n, 0xaa, 8);
    n += 8;
    memset(b + n, 0, 4);
    n += 4;
    put16(b + n, 2);
    put16(b + n + 2, 12);
    n += 4 + u16("Domain", b + n + 4);
    put16(b + n, 1);
    put16(b + n + 2, 12);
    n += 4 + u16("Server", b + n + 4);
    memset(b + n, 0, 8);
    return n + 8;
}

static const uint8_t proof[16] = { 0x68, 0xcd, 0x0a, 0xb8, 0x51, 0xe5, 0x1c, 0x96,
                                   0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef, 0x6a, 0x1c };

static size_t type3(uint8_t *m, uint32_t flags, bool unicode, const uint8_t *lm, size_t lmlen,
                    const uint8_t *nt, size_t ntlen, const char *dom, const char *user,
                    const char *ws)
{
    memset(m, 0, 72);
    memcpy(m, "NTLMSSP", 8);
    put32(m + 8, 3);
    size_t off = 72;
    uint8_t tmp[3][64];
    size_t tl[3];
    const char *names[3] = { dom, user, ws };
    for (int i = 0; i < 3; i++) {
        if (unicode) {
            tl[i] = u16(names[i], tmp[i]);
        } else {
            tl[i] = strlen(names[i]);
            memcpy(tmp[i], names[i], tl[i]);
        }
    }
    const uint8_t *p[5] = { lm, nt, tmp[0], tmp[1], tmp[2] };
    size_t l[5] = { lmlen, ntlen, tl[0], tl[1], tl[2] };
    for (size_t i = 0; i < 5; i++) {
        put16(m + 12 + 8 * i, (unsigned)l[i]);
        put16(m + 14 + 8 * i, (unsigned)l[i]);
        put32(m + 16 + 8 * i, (uint32_t)off);
        memcpy(m + off, p[i], l[i]);
        off += l[i];
    }
    put32(m + 60, flags);
    return off;
}

static size_t type2(uint8_t *m, uint32_t flags)
{
    static const uint8_t chal[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
    memset(m, 0, 48);
    memcpy(m, "NTLMSSP", 8);
    put32(m + 8, 2);
    put32(m + 20, flags);
    memcpy(m + 24, chal, 8);
    return 48;
}

static size_t type1(uint8_t *m, uint32_t flags)
{
    memset(m, 0, 32);
    memcpy(m, "NTLMSSP", 8);
    put32(m + 8, 1);
    put32(m + 12, flags);
    return 32;
}

static void test_ntlm_v2_pop3(void **state)
{
    (void)state;
    uint8_t blob[128], nt[160], lm[24], m3[512], m2[64], m1[64];
    size_t bl = v2_blob(blob);
    memcpy(nt, proof, 16);
    memcpy(nt + 16, blob, bl);
    memset(lm, 0x86, 24);
    size_t n3 = type3(m3, 0xe2888215u, true, lm, 24, nt, 16 + bl, "Domain", "User", "COMPUTER");
    size_t n2 = type2(m2, 0xe2898215u);
    size_t n1 = type1(m1, 0xe2088297u);
    const struct ms_chunk t[] = {
        S("+OK Dovecot ready.\r\n"),
        C("CAPA\r\n"),
        S("+OK\r\nCAPA\r\nTOP\r\nSTLS\r\nSASL NTLM PLAIN\r\n.\r\n"),
        C(b64line("AUTH NTLM ", m1, n1, "\r\n")),
        S(b64line("+ ", m2, n2, "\r\n")),
        C(b64line("", m3, n3, "\r\n")),
        S("+OK Logged in.\r\n"),
    };
    char *log = run_all(t, N(t));
    char bh[400], want[1200];
    ms_test_hex(blob, bl, bh);
    snprintf(want, sizeof(want),
             "CRED AUTH NTLM user=[User] domain=[Domain] ws=[COMPUTER] chal=[0123456789abcdef] "
             "resp=[68cd0ab851e51c96aabc927bebef6a1c%s] "
             "hashcat=[User::Domain:0123456789abcdef:68cd0ab851e51c96aabc927bebef6a1c:%s] "
             "mode=5600 "
             "outcome=1 reply=[+OK Logged in.] stls=true incomplete=0\n",
             bh, bh);
    assert_string_equal(log, want);
    free(log);
}

/* NetNTLMv1 with OEM names, the POP3 way without initial response ("+ "
 * first), failing; then without a type 2 (capture joined late). */
static void test_ntlm_v1_pop3(void **state)
{
    (void)state;
    uint8_t lm[24], nt[24], m3[256], m2[64];
    memset(lm, 0x4c, 24);
    memset(nt, 0x4e, 24);
    size_t n3 = type3(m3, 0x00000202u, false, lm, 24, nt, 24, "POP3DOM", "liam", "POP3HOST");
    size_t n2 = type2(m2, 0x00000202u);
    const struct ms_chunk t[] = {
        S("+OK\r\n"),
        C("AUTH NTLM\r\n"),
        S("+ \r\n"),
        C(b64line("", "NTLMSSP\0\1\0\0\0\2\2\0\0", 16, "\r\n")),
        S(b64line("+ ", m2, n2, "\r\n")),
        C(b64line("", m3, n3, "\r\n")),
        S("-ERR [AUTH] Authentication failed.\r\n"),
    };
    char *log = run_all(t, N(t));
    char lh[49], nh[49], want[1024];
    ms_test_hex(lm, 24, lh);
    ms_test_hex(nt, 24, nh);
    snprintf(want, sizeof(want),
             "CRED AUTH NTLM user=[liam] domain=[POP3DOM] ws=[POP3HOST] chal=[0123456789abcdef] "
             "resp=[%s] hashcat=[liam::POP3DOM:%s:%s:0123456789abcdef] mode=5500 outcome=2 "
             "reply=[-ERR [AUTH] Authentication failed.] stls=null incomplete=0\n",
             nh, lh, nh);
    assert_string_equal(log, want);
    free(log);

    const struct ms_chunk late[] = {
        C(b64line("", m3, n3, "\r\n")),
        S("+OK\r\n"),
    };
    /* Without the AUTH line the response is not SASL at all: nothing. */
    log = run_all(late, N(late));
    assert_string_equal(log, "");
    free(log);
    const struct ms_chunk no2[] = {
        S("+OK\r\n"), C("AUTH NTLM\r\n"), S("+ \r\n"), C(b64line("", m3, n3, "\r\n")), S("+OK\r\n"),
    };
    log = run_all(no2, N(no2));
    snprintf(want, sizeof(want),
             "CRED AUTH NTLM user=[liam] domain=[POP3DOM] ws=[POP3HOST] resp=[%s] mode=0 outcome=1 "
             "reply=[+OK] stls=null incomplete=1\n",
             nh);
    assert_string_equal(log, want);
    free(log);
}

/* Offsets past the end: anomaly, what fits still reported, incomplete. */
static void test_ntlm_bad_offset_pop3(void **state)
{
    (void)state;
    uint8_t lm[24], nt[24], m3[256], m2[64];
    memset(lm, 0x4c, 24);
    memset(nt, 0x4e, 24);
    size_t n3 = type3(m3, 0x00000201u, true, lm, 24, nt, 24, "D", "u", "W");
    put32(m3 + 28 + 4, 0x7fffffffu); /* the domain buffer points far away */
    size_t n2 = type2(m2, 0x00000201u);
    const struct ms_chunk t[] = {
        S("+OK\r\n"),
        C("AUTH NTLM\r\n"),
        S("+ \r\n"),
        C("TlRMTVNTUAABAAAAAQIAAA==\r\n"), /* a type 1 */
        S(b64line("+ ", m2, n2, "\r\n")),
        C(b64line("", m3, n3, "\r\n")),
        S("+OK\r\n"),
    };
    char *log = run_all(t, N(t));
    char nh[49], want[512];
    ms_test_hex(nt, 24, nh);
    snprintf(want, sizeof(want),
             "ANOMALY ntlm_bad_offset\nCRED AUTH NTLM user=[u] ws=[W] chal=[0123456789abcdef] "
             "resp=[%s] "
             "mode=0 outcome=1 reply=[+OK] stls=null incomplete=1\n",
             nh);
    assert_string_equal(log, want);
    free(log);
    /* Anonymous (MS-NLMP 3.2.5.1.2: empty user, empty NT, LM of one zero
     * byte or none): nothing to report. */
    uint8_t z = 0;
    n3 = type3(m3, 0x00000201u, true, &z, 1, nt, 0, "", "", "W");
    const struct ms_chunk anon[] = {
        S("+OK\r\n"),
        C("AUTH NTLM\r\n"),
        S("+ \r\n"),
        S(b64line("+ ", m2, n2, "\r\n")),
        C(b64line("", m3, n3, "\r\n")),
        S("-ERR\r\n"),
    };
    log = run_all(anon, N(anon));
    assert_string_equal(log, "");
    free(log);
    /* Not NTLMSSP at all, and a message cut inside its header. */
    const struct ms_chunk junk[] = {
        S("+OK\r\n"),  C("AUTH NTLM\r\n"), S("+ \r\n"), C("aGVsbG8gd29ybGQ=\r\n"),
        S("-ERR\r\n"), C("AUTH NTLM\r\n"), S("+ \r\n"), C(b64line("", m3, 40, "\r\n")),
        S("-ERR\r\n"),
    };
    log = run_all(junk, N(junk));
    assert_string_equal(log, "ANOMALY ntlm_malformed\nANOMALY ntlm_malformed\n");
    free(log);
}

/* ---- APOP (RFC 1939 section 7) ---------------------------------------------- */

static void test_apop(void **state)
{
    (void)state;
    char d[33];
    md5hex("<1896.697170952@dbc.mtview.ca.us>tanstaaf", 41, d);
    assert_string_equal(d, "c4c9334bac560ecc979e58001b3e22fb");
    const struct ms_chunk t[] = {
        S("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
        C("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
        S("+OK mrose's maildrop has 2 messages (320 octets)\r\n"),
    };
    char *log = run_all(t, N(t));
    assert_string_equal(log, "CRED APOP APOP user=[mrose] chal=[<1896.697170952@dbc.mtview.ca.us>] "
                             "resp=[c4c9334bac560ecc979e58001b3e22fb] "
                             "hashcat=[c4c9334bac560ecc979e58001b3e22fb:<1896.697170952@dbc.mtview."
                             "ca.us>] "
                             "mode=20 outcome=1 reply=[+OK mrose's maildrop has 2 messages (320 "
                             "octets)] "
                             "stls=null incomplete=0\n");
    free(log);
    /* hashcat's -m 20 example shape is hash:salt; the salt is the whole
     * timestamp with its brackets, as MD5 saw it. Failure, upper-case
     * digest (the hashcat line is lower-cased), a user with a space. */
    const struct ms_chunk fail[] = {
        S("+OK <a.b@c>\r\n"),
        C("APOP joe smith C4C9334BAC560ECC979E58001B3E22FB\r\n"),
        S("-ERR [AUTH] Authentication failed.\r\n"),
    };
    log = run_all(fail, N(fail));
    assert_string_equal(log, "CRED APOP APOP user=[joe smith] chal=[<a.b@c>] "
                             "resp=[C4C9334BAC560ECC979E58001B3E22FB] "
                             "hashcat=[c4c9334bac560ecc979e58001b3e22fb:<a.b@c>] mode=20 outcome=2 "
                             "reply=[-ERR [AUTH] Authentication failed.] stls=null incomplete=0\n");
    free(log);
    /* No banner (joined late), a bad digest, no digest, no reply. */
    const struct ms_chunk odd[] = {
        C("APOP u 0123456789abcdef0123456789abcdef\r\n"),
        S("+OK\r\n"),
        C("APOP u xyz\r\n"),
        S("-ERR\r\n"),
        C("APOP u\r\n"),
    };
    log = run_all(odd, N(odd));
    assert_string_equal(log,
                        "CRED APOP APOP user=[u] resp=[0123456789abcdef0123456789abcdef] mode=0 "
                        "outcome=1 reply=[+OK] stls=null incomplete=1\n"
                        "ANOMALY apop_malformed\n"
                        "CRED APOP APOP user=[u] resp=[xyz] mode=0 outcome=2 reply=[-ERR] "
                        "stls=null incomplete=1\n"
                        "ANOMALY apop_malformed\n"
                        "CRED APOP APOP user=[u] resp=[] mode=0 outcome=0 stls=null "
                        "incomplete=1\n");
    free(log);
}

/* The banner timestamp is kept up to max_secret bytes: at max-1 and max
 * it is the challenge and salt; past it nothing (a cut salt would give a
 * wrong hashcat line) and the login is incomplete. */
static void test_apop_timestamp_cap(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    lim.max_secret = 16;
    for (size_t len = 15; len <= 17; len++) {
        char ts[32], banner[64], want[256];
        ts[0] = '<';
        memset(ts + 1, 'x', len - 2);
        ts[len - 1] = '>';
        ts[len] = '\0';
        snprintf(banner, sizeof(banner), "+OK hello %s\r\n", ts);
        const struct ms_chunk t[] = {
            S(banner),
            C("APOP u 0123456789abcdef0123456789abcdef\r\n"),
            S("+OK\r\n"),
        };
        char *log = run_all_lim(&lim, t, N(t));
        if (len <= 16)
            snprintf(want, sizeof(want),
                     "chal=[%s] resp=[0123456789abcdef0123456789abcdef] "
                     "hashcat=[0123456789abcdef0123456789abcdef:%s] mode=20 outcome=1 reply=[+OK] "
                     "stls=null incomplete=0\n",
                     ts, ts);
        else
            snprintf(want, sizeof(want),
                     "CRED APOP APOP user=[u] resp=[0123456789abcdef0123456789abcdef] "
                     "mode=0 outcome=1 reply=[+OK] stls=null incomplete=1\n");
        assert_int_equal(count(log, want), 1);
        free(log);
    }
}

/* ---- CAPA / STLS posture, STLS injection, TOP ---------------------------------- */

static void test_starttls_offered(void **state)
{
    (void)state;
    const struct ms_chunk offered[] = {
        S("+OK\r\n"),    C("CAPA\r\n"), S("+OK\r\nTOP\r\nSTLS\r\nSASL PLAIN\r\nUSER\r\n.\r\n"),
        C("USER a\r\n"), S("+OK\r\n"),  C("PASS b\r\n"),
        S("+OK\r\n"),
    };
    char *log = run_all(offered, N(offered));
    assert_int_equal(count(log, "CRED USER USER user=[a] pass=[b] mode=0 outcome=1 reply=[+OK] "
                                "stls=true"),
                     1);
    free(log);
    const struct ms_chunk not_offered[] = {
        S("+OK\r\n"),
        C("CAPA\r\n"),
        S("+OK\r\nTOP\r\nSASL PLAIN STLS\r\nUSER\r\n.\r\n"),
        C("AUTH PLAIN AGEAYg==\r\n"),
        S("+OK\r\n"),
    };
    log = run_all(not_offered, N(not_offered));
    assert_int_equal(count(log, "CRED AUTH PLAIN user=[a] pass=[b] mode=0 outcome=1 reply=[+OK] "
                                "stls=false"),
                     1);
    free(log);
    const struct ms_chunk refused[] = {
        S("+OK\r\n"),          C("STLS\r\n"),
        S("-ERR not now\r\n"), C("APOP u 0123456789abcdef0123456789abcdef\r\n"),
        S("-ERR\r\n"),
    };
    log = run_all(refused, N(refused));
    assert_int_equal(count(log, "stls=false"), 1);
    free(log);
}

/* Commands after STLS in the same segment (CVE-2011-0411 style). Whether
 * they shared a segment depends on segmentation, so this runs whole only;
 * the credential itself is split-invariant and reported with an unknown
 * outcome (the server's answer, if any, is inside TLS). */
static void test_stls_injection(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    const struct ms_chunk t[] = {
        S("+OK\r\n"),
        C("STLS\r\nUSER x\r\nPASS y\r\n"),
        S("+OK Begin TLS\r\n"),
        C("\x16\x03\x01\x00\x05hello"),
    };
    char *log = ms_test_run_with(&ms_dissector_pop3, &lim, t, N(t), 0, record);
    assert_string_equal(log, "ANOMALY stls_command_injection\n"
                             "CRED USER USER user=[x] pass=[y] mode=0 outcome=0 stls=null "
                             "incomplete=0\n");
    free(log);
    /* A partial line after STLS counts too. */
    const struct ms_chunk part[] = { S("+OK\r\n"), C("STLS\r\nUS"), S("+OK\r\n") };
    log = ms_test_run_with(&ms_dissector_pop3, &lim, part, N(part), 0, record);
    assert_string_equal(log, "ANOMALY stls_command_injection\n");
    free(log);
    /* STLS alone in its segment: nothing, in every split. */
    const struct ms_chunk clean[] = {
        S("+OK\r\n"),
        C("STLS\r\n"),
        S("+OK Begin TLS\r\n"),
        C("\x16\x03\x01\x00\x05hello"),
    };
    log = run_all(clean, N(clean));
    assert_string_equal(log, "");
    free(log);
}

static void test_top_partial(void **state)
{
    (void)state;
    const struct ms_chunk t[] = {
        S("+OK\r\n"),
        C("TOP 1 0\r\n"),
        S("+OK\r\nSubject: x\r\n\r\n.\r\n"),
        C("RETR 1\r\n"),
        S("+OK\r\nSubject: x\r\n\r\nbody\r\n.\r\n"),
    };
    char *log = run_all(t, N(t));
    assert_string_equal(log, "EMAIL TOP partial=1 truncated=0\nEMAIL RETR partial=0 truncated=0\n");
    free(log);
}

/* ---- base64 failures, limits ---------------------------------------------------- */

static void test_invalid_base64_each_mech(void **state)
{
    (void)state;
    static const char *const mechs[] = { "CRAM-MD5", "DIGEST-MD5", "NTLM", "XOAUTH2",
                                         "OAUTHBEARER" };
    for (size_t i = 0; i < N(mechs); i++) {
        char auth[64];
        snprintf(auth, sizeof(auth), "AUTH %s\r\n", mechs[i]);
        const struct ms_chunk t[] = {
            S("+OK\r\n"), C(auth), S("+ PDEuMkBoPg==\r\n"), C("@@@@\r\n"), S("-ERR\r\n"),
        };
        char *log = run_all(t, N(t));
        assert_string_equal(log, "ANOMALY sasl_invalid_base64\n");
        free(log);
    }
}

/* The user-name cap through CRAM-MD5: max-1, max whole; max+1 cut,
 * incomplete, and the hashcat line (built from the whole response) kept. */
static void test_cram_user_cap(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    lim.max_secret = 8;
    for (size_t len = 7; len <= 9; len++) {
        char resp[64], user[16];
        memset(user, 'u', len);
        user[len] = '\0';
        int n = snprintf(resp, sizeof(resp), "%s 0123456789abcdef0123456789abcdef", user);
        const struct ms_chunk t[] = {
            S("+OK\r\n"),
            C("AUTH CRAM-MD5\r\n"),
            S("+ PDEuMkBoPg==\r\n"),
            C(b64line("", resp, (size_t)n, "\r\n")),
            S("+OK\r\n"),
        };
        char *log = run_all_lim(&lim, t, N(t));
        char want[64];
        snprintf(want, sizeof(want), "user=[%.*s] chal", (int)(len > 8 ? 8 : len), user);
        assert_int_equal(count(log, want), 1);
        assert_int_equal(count(log, "mode=10200"), 1);
        assert_int_equal(count(log, len > 8 ? "incomplete=1" : "incomplete=0"), 1);
        free(log);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cram_md5),
        cmocka_unit_test(test_cram_md5_any_order),
        cmocka_unit_test(test_cram_md5_malformed),
        cmocka_unit_test(test_digest_md5_vector),
        cmocka_unit_test(test_digest_md5_syntax),
        cmocka_unit_test(test_xoauth2),
        cmocka_unit_test(test_oauthbearer),
        cmocka_unit_test(test_token_cap),
        cmocka_unit_test(test_ntlm_v2_pop3),
        cmocka_unit_test(test_ntlm_v1_pop3),
        cmocka_unit_test(test_ntlm_bad_offset_pop3),
        cmocka_unit_test(test_apop),
        cmocka_unit_test(test_apop_timestamp_cap),
        cmocka_unit_test(test_starttls_offered),
        cmocka_unit_test(test_stls_injection),
        cmocka_unit_test(test_top_partial),
        cmocka_unit_test(test_invalid_base64_each_mech),
        cmocka_unit_test(test_cram_user_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
