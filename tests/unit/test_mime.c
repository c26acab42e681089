/* Unit tests for dissectors/mime.c and dissectors/mime_hdr.c.
 * Expected hashes are computed here with OpenSSL over the known raw bytes,
 * never by running the parser. Every message case is also fed whole, byte
 * by byte, split at every offset and in random chunks, and all results must
 * be identical (split invariance). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "common/buf.h"
#include "common/limits.h"
#include "common/sha256.h"
#include "dissectors/mime.h"
#include "dissectors/mime_hdr.h"

/* ---- helpers --------------------------------------------------------- */

static void sha256_of(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
}

static void add(struct ms_buf *b, const char *s)
{
    assert_int_equal(ms_buf_append(b, s, strlen(s)), MS_OK);
}

static void addn(struct ms_buf *b, const void *p, size_t n)
{
    assert_int_equal(ms_buf_append(b, p, n), MS_OK);
}

static void addf(struct ms_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct ms_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    addn(b, tmp, (size_t)n);
}

/* Base64 of raw, in lines of 76 characters ended by eol (RFC 2045 §6.8). */
static void add_b64(struct ms_buf *b, const uint8_t *raw, size_t n, const char *eol)
{
    size_t enc_len = 4 * ((n + 2) / 3);
    unsigned char *enc = malloc(enc_len + 1);
    assert_non_null(enc);
    assert_int_equal(EVP_EncodeBlock(enc, raw, (int)n), (int)enc_len);
    for (size_t off = 0; off < enc_len; off += 76) {
        addn(b, enc + off, enc_len - off < 76 ? enc_len - off : 76);
        add(b, eol);
    }
    free(enc);
}

static void assert_bytes(struct ms_bytes b, const char *s)
{
    assert_non_null(b.p);
    assert_int_equal(b.len, strlen(s));
    assert_memory_equal(b.p, s, b.len);
}

static void assert_att(const struct ms_attachment *a, const char *fname, const char *ctype,
                       const void *raw, size_t n)
{
    uint8_t want[32];
    if (fname)
        assert_bytes(a->filename, fname);
    else
        assert_null(a->filename.p);
    assert_bytes(a->content_type, ctype);
    assert_int_equal(a->size, n);
    sha256_of(raw, n, want);
    assert_memory_equal(a->sha256, want, 32);
}

/* Canonical text of every field, to compare runs. */
static void dump_bytes(struct ms_buf *d, const char *tag, struct ms_bytes b)
{
    if (!b.p) {
        addf(d, "%s=null\n", tag);
        return;
    }
    addf(d, "%s=%zu:", tag, b.len);
    addn(d, b.p, b.len);
    add(d, "\n");
}

static void dump(struct ms_buf *d, const struct ms_ev_email *e)
{
    dump_bytes(d, "from", e->from);
    for (size_t i = 0; i < e->n_to; i++)
        dump_bytes(d, "to", e->to[i]);
    for (size_t i = 0; i < e->n_cc; i++)
        dump_bytes(d, "cc", e->cc[i]);
    dump_bytes(d, "subject", e->subject);
    dump_bytes(d, "date", e->date);
    dump_bytes(d, "mid", e->message_id);
    addf(d, "size=%llu trunc=%d natt=%zu\n", (unsigned long long)e->size, e->truncated,
         e->n_attachments);
    addn(d, e->sha256, 32);
    for (size_t i = 0; i < e->n_attachments; i++) {
        const struct ms_attachment *a = &e->attachments[i];
        dump_bytes(d, "fn", a->filename);
        dump_bytes(d, "ct", a->content_type);
        addf(d, "asize=%llu atrunc=%d\n", (unsigned long long)a->size, a->truncated);
        addn(d, a->sha256, 32);
    }
    dump_bytes(d, "excerpt", e->body_excerpt);
    for (size_t i = 0; i < e->n_urls; i++)
        dump_bytes(d, "url", e->urls[i]);
    for (size_t i = 0; i < e->n_mime_errors; i++)
        addf(d, "err=%s\n", e->mime_errors[i]);
}

/* The mime_errors of ev, comma-separated ("" for none), equal want. */
static void assert_errors(const struct ms_ev_email *ev, const char *want)
{
    char got[512];
    size_t at = 0;
    got[0] = '\0';
    for (size_t i = 0; i < ev->n_mime_errors; i++) {
        int n = snprintf(got + at, sizeof(got) - at, "%s%s", i ? "," : "", ev->mime_errors[i]);
        assert_true(n > 0 && (size_t)n < sizeof(got) - at);
        at += (size_t)n;
    }
    assert_string_equal(got, want);
}

/* Feeds msg cut at the given offsets (ascending) and dumps the result. */
static void run_cuts(const struct ms_limits *lim, const uint8_t *msg, size_t n, const size_t *cuts,
                     size_t ncuts, struct ms_buf *d)
{
    struct ms_mime *m = ms_mime_new(lim, NULL);
    struct ms_ev_email ev;
    size_t prev = 0;

    assert_non_null(m);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        /* Each chunk in its own exact-size allocation, so ASan sees any
         * read past it. */
        uint8_t *chunk = malloc(end - prev + 1);
        assert_non_null(chunk);
        memcpy(chunk, msg + prev, end - prev);
        assert_int_equal(ms_mime_feed(m, chunk, end - prev), MS_OK);
        free(chunk);
        prev = end;
    }
    memset(&ev, 0, sizeof(ev));
    ms_mime_finish(m, &ev);
    ms_buf_reset(d);
    dump(d, &ev);
    ms_mime_free(m);
}

static void assert_same(const struct ms_buf *a, const struct ms_buf *b)
{
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->p, b->p, a->len);
}

/* Whole, byte by byte, every 2-way split, and some random 5-way splits. */
static void check_splits(const struct ms_limits *lim, const uint8_t *msg, size_t n)
{
    struct ms_buf whole, other;
    size_t *cuts = calloc(n + 1, sizeof(*cuts));
    uint32_t seed = 2463534242u;

    assert_non_null(cuts);
    ms_buf_init(&whole, 1 << 20);
    ms_buf_init(&other, 1 << 20);
    run_cuts(lim, msg, n, NULL, 0, &whole);

    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    run_cuts(lim, msg, n, cuts, n ? n - 1 : 0, &other);
    assert_same(&whole, &other);

    for (size_t k = 0; k <= n; k++) {
        run_cuts(lim, msg, n, &k, 1, &other);
        assert_same(&whole, &other);
    }

    for (int r = 0; r < 20 && n > 0; r++) {
        size_t c[4];
        for (int j = 0; j < 4; j++) {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            c[j] = seed % (n + 1);
        }
        for (int a = 0; a < 4; a++) /* sort */
            for (int b = a + 1; b < 4; b++)
                if (c[b] < c[a]) {
                    size_t t = c[a];
                    c[a] = c[b];
                    c[b] = t;
                }
        run_cuts(lim, msg, n, c, 4, &other);
        assert_same(&whole, &other);
    }
    ms_buf_free(&whole);
    ms_buf_free(&other);
    free(cuts);
}

/* Parses msg whole (after the split checks) and keeps the parser alive so
 * the caller can look at *ev; the caller frees. */
static struct ms_mime *parse_lim(const struct ms_limits *lim, const struct ms_buf *msg,
                                 struct ms_ev_email *ev)
{
    struct ms_mime *m;

    check_splits(lim, msg->p, msg->len);
    m = ms_mime_new(lim, NULL);
    assert_non_null(m);
    assert_int_equal(ms_mime_feed(m, msg->p, msg->len), MS_OK);
    memset(ev, 0, sizeof(*ev));
    ms_mime_finish(m, ev);

    uint8_t want[32];
    sha256_of(msg->p, msg->len, want);
    assert_int_equal(ev->size, msg->len);
    assert_memory_equal(ev->sha256, want, 32);
    return m;
}

static struct ms_mime *parse(const struct ms_buf *msg, struct ms_ev_email *ev)
{
    struct ms_limits lim = ms_limits_default();
    return parse_lim(&lim, msg, ev);
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* ---- whole messages -------------------------------------------------- */

static void test_plain_text(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, "Return-Path: <alice@example.org>\r\n"
            "From: Alice Example <alice@example.org>\r\n"
            "To: Bob <bob@example.org>, \"Doe, Jane\" <jane@example.org>,\r\n"
            "\tcarol@example.org (Carol, C.)\r\n"
            "Cc:   <dave@example.org>  \r\n"
            "Subject: Hello\r\n"
            "  world\r\n"
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
            "Message-ID:  <1234@example.org> \r\n"
            "\r\n"
            "Hi Bob,\r\n"
            "\r\n"
            "Content-Type: text/plain; name=x.txt\r\n" /* body, not a header */
            "bye\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_bytes(ev.from, "Alice Example <alice@example.org>");
    assert_int_equal(ev.n_to, 3);
    assert_bytes(ev.to[0], "Bob <bob@example.org>");
    assert_bytes(ev.to[1], "\"Doe, Jane\" <jane@example.org>");
    assert_bytes(ev.to[2], "carol@example.org (Carol, C.)");
    assert_int_equal(ev.n_cc, 1);
    assert_bytes(ev.cc[0], "<dave@example.org>");
    assert_bytes(ev.subject, "Hello  world");
    assert_bytes(ev.date, "Mon, 1 Jan 2024 10:00:00 +0000");
    assert_bytes(ev.message_id, "<1234@example.org>");
    assert_int_equal(ev.n_attachments, 0);
    assert_false(ev.truncated);
    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_absent_headers(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, "X-Only: one\r\n\r\nbody\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_null(ev.from.p);
    assert_null(ev.subject.p);
    assert_null(ev.date.p);
    assert_null(ev.message_id.p);
    assert_int_equal(ev.n_to, 0);
    assert_int_equal(ev.n_cc, 0);
    assert_false(ev.truncated);
    ms_mime_free(m);

    /* Headers only: no blank line, no final CRLF. */
    ms_buf_reset(&b);
    add(&b, "From: a@example.org\r\nSubject: no body");
    m = parse(&b, &ev);
    assert_bytes(ev.from, "a@example.org");
    assert_bytes(ev.subject, "no body");
    ms_mime_free(m);

    /* Nothing at all. */
    ms_buf_reset(&b);
    m = ms_mime_new(&(struct ms_limits)MS_LIMITS_DEFAULT_INIT, NULL);
    assert_non_null(m);
    ms_mime_finish(m, &ev);
    assert_int_equal(ev.size, 0);
    assert_null(ev.subject.p);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* multipart/mixed: text body + base64 attachment, with CRLF or LF. */
static void mixed_b64(const char *eol)
{
    struct ms_buf b;
    struct ms_ev_email ev;
    uint8_t raw[1000];

    fill_pattern(raw, sizeof(raw), 7);
    ms_buf_init(&b, 1 << 20);
    addf(&b, "From: a@example.org%s", eol);
    addf(&b, "Subject: report%s", eol);
    addf(&b, "MIME-Version: 1.0%s", eol);
    addf(&b, "Content-Type: multipart/mixed; boundary=XyZ%s%s", eol, eol);
    addf(&b, "This is a multi-part message in MIME format.%s", eol);
    addf(&b, "--XyZ%s", eol);
    addf(&b, "Content-Type: text/plain; charset=utf-8%s%s", eol, eol);
    addf(&b, "See attached.%s", eol);
    addf(&b, "--XyZ%s", eol);
    addf(&b, "Content-Type: application/octet-stream%s", eol);
    addf(&b, "Content-Transfer-Encoding: base64%s", eol);
    addf(&b, "Content-Disposition: attachment; filename=\"data.bin\"%s%s", eol, eol);
    add_b64(&b, raw, sizeof(raw), eol);
    addf(&b, "--XyZ--%s", eol);
    addf(&b, "epilogue%s", eol);

    struct ms_mime *m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 1);
    assert_att(&ev.attachments[0], "data.bin", "application/octet-stream", raw, sizeof(raw));
    assert_false(ev.truncated);
    assert_errors(&ev, "");

    /* The same hashes through a sink with a tap that takes no message
     * (msg_begin NULL: as no tap). */
    struct ms_msg_tap tap = { .msg_begin = NULL };
    struct ms_sink sink = { .tap = &tap };
    struct ms_mime *m2 = ms_mime_new(&(struct ms_limits)MS_LIMITS_DEFAULT_INIT, &sink);
    assert_non_null(m2);
    assert_int_equal(ms_mime_feed(m2, b.p, b.len), MS_OK);
    struct ms_ev_email ev2;
    memset(&ev2, 0, sizeof(ev2));
    ms_mime_finish(m2, &ev2);
    assert_memory_equal(ev2.sha256, ev.sha256, sizeof(ev.sha256));
    assert_int_equal(ev2.n_attachments, 1);
    assert_att(&ev2.attachments[0], "data.bin", "application/octet-stream", raw, sizeof(raw));
    ms_mime_free(m2);

    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_mixed_base64(void **state)
{
    (void)state;
    mixed_b64("\r\n");
}

static void test_bare_lf(void **state)
{
    (void)state;
    mixed_b64("\n");

    /* A 7bit attachment keeps its LF line breaks, but not the one that
     * belongs to the boundary. */
    struct ms_buf b;
    struct ms_ev_email ev;
    ms_buf_init(&b, 1 << 20);
    add(&b, "Content-Type: multipart/mixed; boundary=b\n\n"
            "--b\n"
            "Content-Type: text/plain; name=\"a.txt\"\n\n"
            "line1\nline2\n"
            "--b--\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 1);
    assert_att(&ev.attachments[0], "a.txt", "text/plain", "line1\nline2", 11);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* RFC 2046 §5.1.1: the CRLF before "--boundary" is part of the boundary. */
static void test_crlf_before_boundary(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, "Content-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n"
            "--sep\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename=a.bin\r\n\r\n"
            "no newline at end\r\n"
            "--sep\r\n"
            "Content-Disposition: attachment; filename=b.txt\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "two lines\r\nand a newline\r\n\r\n"
            "--sep\r\n"
            "Content-Disposition: attachment; filename=empty\r\n\r\n"
            "--sep\r\n"
            "Content-Disposition: attachment; filename=noblank\r\n"
            "--sep  \r\n"
            "Content-Disposition: attachment; filename=c.txt\r\n\r\n"
            "--sepx is content, --sep -- too\r\n"
            "--sep-- \t\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 5);
    assert_att(&ev.attachments[0], "a.bin", "application/octet-stream", "no newline at end", 17);
    assert_att(&ev.attachments[1], "b.txt", "text/plain", "two lines\r\nand a newline\r\n", 26);
    assert_att(&ev.attachments[2], "empty", "text/plain", "", 0);
    assert_att(&ev.attachments[3], "noblank", "text/plain", "", 0);
    assert_att(&ev.attachments[4], "c.txt", "text/plain", "--sepx is content, --sep -- too", 31);
    assert_false(ev.truncated);
    assert_errors(&ev, "");
    ms_mime_free(m);
    ms_buf_free(&b);
}

static const char html_qp[] =
    "<html><body><p style=3D\"color:red\">Caf=C3=A9 cr=C3=A8me, a very long line th=\r\n"
    "at is wrapped with a soft break.</p>   \r\n"
    "<p>2 =3D 1+1 =\r\n"
    "</p></body></html>";
static const char html_plain[] =
    "<html><body><p style=\"color:red\">Caf\xc3\xa9 cr\xc3\xa8me, a very long line that is "
    "wrapped with a soft break.</p>\r\n"
    "<p>2 = 1+1 </p></body></html>";

static void test_qp_html(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, "Subject: qp\r\n"
            "Content-Type: multipart/mixed; boundary=\"=_qp\"\r\n\r\n"
            "--=_qp\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    add(&b, html_qp);
    add(&b, "\r\n--=_qp\r\n"
            "Content-Type: text/html; charset=utf-8; name=\"page.html\"\r\n"
            "Content-Transfer-Encoding: Quoted-Printable\r\n\r\n");
    add(&b, html_qp);
    add(&b, "\r\n--=_qp--\r\n");
    struct ms_mime *m = parse(&b, &ev);
    /* The body without a name is not an attachment. */
    assert_int_equal(ev.n_attachments, 1);
    assert_att(&ev.attachments[0], "page.html", "text/html", html_plain, strlen(html_plain));
    assert_errors(&ev, "");
    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_nested_alternative(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;
    uint8_t img[333], pdf[4096];

    fill_pattern(img, sizeof(img), 1);
    fill_pattern(pdf, sizeof(pdf), 2);
    ms_buf_init(&b, 1 << 20);
    add(&b, "From: =?UTF-8?B?w4lsw6lvbm9yZSBEdXByw6k=?= <e@example.org>\r\n"
            "Content-Type: multipart/mixed;\r\n boundary=\"outer\"\r\n\r\n"
            "--outer\r\n"
            "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
            "inner preamble\r\n"
            "--inner\r\n"
            "Content-Type: text/plain\r\n\r\n"
            "plain\r\n"
            "--inner\r\n"
            "Content-Type: text/html\r\n"
            "Content-Disposition: inline\r\n\r\n"
            "<b>html</b>\r\n"
            "--inner\r\n"
            "Content-Type: image/png\r\n"
            "Content-Disposition: inline; filename=logo.png\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n");
    add_b64(&b, img, sizeof(img), "\r\n");
    add(&b, "--inner--\r\n"
            "inner epilogue\r\n"
            "--outer\r\n"
            "Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n");
    add_b64(&b, pdf, sizeof(pdf), "\r\n");
    add(&b, "--outer--\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_bytes(ev.from, "\xc3\x89l\xc3\xa9onore Dupr\xc3\xa9 <e@example.org>");
    assert_int_equal(ev.n_attachments, 2);
    assert_att(&ev.attachments[0], "logo.png", "image/png", img, sizeof(img));
    assert_att(&ev.attachments[1], "doc.pdf", "application/pdf", pdf, sizeof(pdf));
    assert_false(ev.truncated);
    ms_mime_free(m);

    /* An outer boundary also closes an inner multipart left open. */
    ms_buf_reset(&b);
    add(&b, "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
            "--o\r\n"
            "Content-Type: multipart/related; boundary=i\r\n\r\n"
            "--i\r\n"
            "Content-Disposition: attachment; filename=x\r\n\r\n"
            "xx\r\n"
            "--o\r\n"
            "Content-Disposition: attachment; filename=y\r\n\r\n"
            "yy\r\n"
            "--i\r\n" /* the inner multipart is gone: content */
            "--o--\r\n");
    m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 2);
    assert_att(&ev.attachments[0], "x", "text/plain", "xx", 2);
    assert_att(&ev.attachments[1], "y", "text/plain", "yy\r\n--i", 7);
    assert_errors(&ev, "missing_final_boundary"); /* the inner one */
    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_encoded_subjects(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *want;
    } cases[] = {
        { "=?UTF-8?B?w4lsw6lvbm9yZSBEdXByw6k=?=", "\xc3\x89l\xc3\xa9onore Dupr\xc3\xa9" },
        { "=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", "Caf\xc3\xa9 cr\xc3\xa8me" },
        { "=?iso-8859-1?b?R3L832UgYXVzIEv2bG4=?=", "Gr\xc3\xbc\xc3\x9f"
                                                   "e aus K\xc3\xb6ln" },
        { "=?GB2312?B?u9i4tDogu9i4tDogsuLK1DHPwg==?=", "回复: 回复: 测试1下" },
        /* adjacent words: the white space between them goes, even folded */
        { "=?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9?=", "caf\xc3\xa9" },
        { "=?utf-8?q?a?=\r\n\t=?utf-8?q?b?=", "ab" },
        { "=?utf-8?q?a?=\r\n =?iso-8859-1?q?=E9?=", "a\xc3\xa9" },
        { "=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c" },
        { "Re: =?utf-8?q?x?= done", "Re: x done" },
        /* RFC 2231 language suffix, unknown charset kept as written */
        { "=?utf-8*en?q?hi?=", "hi" },
        { "=?x-unknown?q?hi?= there", "=?x-unknown?q?hi?= there" },
        /* not encoded words */
        { "=?utf-8?x?hi?= a=b =? ?=", "=?utf-8?x?hi?= a=b =? ?=" },
        /* raw 8-bit that is not UTF-8 becomes U+FFFD */
        { "caf\xe9", "caf\xef\xbf\xbd" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ms_buf b;
        struct ms_ev_email ev;

        ms_buf_init(&b, 1 << 20);
        add(&b, "Subject: ");
        add(&b, cases[i].raw);
        add(&b, "\r\n\r\n");
        struct ms_mime *m = parse(&b, &ev);
        assert_bytes(ev.subject, cases[i].want);
        ms_mime_free(m);
        ms_buf_free(&b);
    }
}

static void test_filename_params(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, "Content-Type: multipart/mixed; boundary=\"----=_Part_0_12.34\"\r\n\r\n"
            "------=_Part_0_12.34\r\n"
            /* RFC 2231 continuations with charset, out of order */
            "Content-Type: text/plain\r\n"
            "Content-Disposition: attachment;\r\n"
            " filename*1*=%20r%C3%A9sum%C3%A9;\r\n"
            " filename*0*=utf-8'fr'%E2%82%AC%20rates;\r\n"
            " filename*2=\".txt\"\r\n\r\n"
            "1\r\n"
            "------=_Part_0_12.34\r\n"
            /* the Suricata trap: filename= inside another parameter */
            "Content-Disposition: attachment; dummy=\"filename=wrong\"; filename=real\r\n\r\n"
            "2\r\n"
            "------=_Part_0_12.34\r\n"
            /* name from Content-Type when no filename; quoted-pair */
            "Content-Type: Application/X-Thing; name=\"a \\\"q\\\";b.dat\"\r\n\r\n"
            "3\r\n"
            "------=_Part_0_12.34\r\n"
            /* encoded word inside a quoted filename (common, not RFC) */
            "Content-Disposition: attachment;\r\n"
            "\tfilename=\"=?ISO-8859-1?Q?r=E9sum=E9=2Epdf?=\"\r\n\r\n"
            "4\r\n"
            "------=_Part_0_12.34\r\n"
            /* name* beats name; filename beats name; xfilename is not it */
            "Content-Type: text/plain; name=\"n.txt\"\r\n"
            "Content-Disposition: inline; xfilename=no; filename*=iso-8859-1''%E9t%E9.txt\r\n"
            "\r\n"
            "5\r\n"
            "------=_Part_0_12.34\r\n"
            /* disposition attachment without any name */
            "Content-Type: image/gif\r\n"
            "Content-Disposition: ATTACHMENT\r\n\r\n"
            "6\r\n"
            "------=_Part_0_12.34--\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 6);
    assert_att(&ev.attachments[0], "\xe2\x82\xac rates r\xc3\xa9sum\xc3\xa9.txt", "text/plain", "1",
               1);
    assert_att(&ev.attachments[1], "real", "text/plain", "2", 1);
    assert_att(&ev.attachments[2], "a \"q\";b.dat", "application/x-thing", "3", 1);
    assert_att(&ev.attachments[3], "r\xc3\xa9sum\xc3\xa9.pdf", "text/plain", "4", 1);
    assert_att(&ev.attachments[4], "\xc3\xa9t\xc3\xa9.txt", "text/plain", "5", 1);
    assert_att(&ev.attachments[5], NULL, "image/gif", "6", 1);
    assert_errors(&ev, "");
    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_missing_final_boundary(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;
    uint8_t raw[200];

    fill_pattern(raw, sizeof(raw), 3);
    ms_buf_init(&b, 1 << 20);
    add(&b, "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
            "--m\r\n"
            "Content-Disposition: attachment; filename=a.bin\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n");
    add_b64(&b, raw, sizeof(raw), "\r\n");
    add(&b, "--m\r\n"
            "Content-Disposition: attachment; filename=b.txt\r\n\r\n"
            "cut here\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 2);
    assert_att(&ev.attachments[0], "a.bin", "text/plain", raw, sizeof(raw));
    /* No boundary claimed the last CRLF: it is content. */
    assert_att(&ev.attachments[1], "b.txt", "text/plain", "cut here\r\n", 10);
    assert_false(ev.truncated);
    assert_errors(&ev, "missing_final_boundary");
    ms_mime_free(m);

    /* Cut inside the part headers. */
    ms_buf_reset(&b);
    add(&b, "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
            "--m\r\n"
            "Content-Disposition: attachment; filename=a");
    m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 1);
    assert_att(&ev.attachments[0], "a", "text/plain", "", 0);
    assert_errors(&ev, "missing_final_boundary");
    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_b64_padding_split(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, "Content-Type: multipart/mixed; boundary=p\r\n\r\n"
            "--p\r\n"
            "Content-Disposition: attachment; filename=p1\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "YWJj\r\nZA=\r\n=\r\n"
            "--p\r\n"
            "Content-Disposition: attachment; filename=p2\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "NA=\n=Mg\n==\r\n"
            "--p\r\n"
            "Content-Disposition: attachment; filename=p3\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "Zm9v\r\nYmE\r\n" /* unpadded tail */
            "--p--\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 3);
    assert_att(&ev.attachments[0], "p1", "text/plain", "abcd", 4);
    assert_att(&ev.attachments[1], "p2", "text/plain", "42", 2);
    assert_att(&ev.attachments[2], "p3", "text/plain", "fooba", 5);
    assert_errors(&ev, ""); /* split padding and a missing one are fine */
    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_header_over_cap(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;

    lim.mime_max_header = 64;
    ms_buf_init(&b, 1 << 20);
    add(&b, "Subject: ");
    for (int i = 0; i < 40; i++)
        add(&b, "0123456789\r\n ");
    add(&b, "end\r\n");
    add(&b, "From: =?utf-8?q?=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC?=\r\n"); /* fits: 54 */
    add(&b, "To: ");
    for (int i = 0; i < 5000; i++)
        add(&b, "x");
    add(&b, "@example.org\r\n"
            "Cc: c@example.org\r\n\r\nbody\r\n");
    struct ms_mime *m = parse_lim(&lim, &b, &ev);
    assert_true(ev.truncated);
    assert_errors(&ev, "header_line_too_long");
    assert_non_null(ev.subject.p);
    assert_true(ev.subject.len <= 64 - 9);
    assert_memory_equal(ev.subject.p, "0123456789 0123", 15);
    assert_bytes(ev.from, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
    assert_int_equal(ev.n_to, 1);
    assert_int_equal(ev.to[0].len, 64 - 4);
    assert_int_equal(ev.n_cc, 1);
    assert_bytes(ev.cc[0], "c@example.org");
    ms_mime_free(m);
    ms_buf_free(&b);

    /* A value that grows past the cap when decoded (each bad byte becomes
     * a 3-byte U+FFFD) is cut on a character boundary. */
    ms_buf_init(&b, 1 << 20);
    add(&b, "Subject: ");
    for (int i = 0; i < 50; i++)
        add(&b, "\xff");
    add(&b, "\r\n\r\n");
    m = parse_lim(&lim, &b, &ev);
    assert_true(ev.truncated);
    assert_int_equal(ev.subject.len, 63);
    for (size_t i = 0; i < 63; i += 3)
        assert_memory_equal(ev.subject.p + i, "\xef\xbf\xbd", 3);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* A multipart nested `levels` deep with an attachment at the bottom and one
 * at the top level. */
static void build_nested(struct ms_buf *b, int levels)
{
    add(b, "Subject: deep\r\n");
    for (int i = 0; i < levels; i++) {
        addf(b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i);
        addf(b, "--b%d\r\n", i);
    }
    add(b, "Content-Disposition: attachment; filename=deep.txt\r\n\r\n"
           "deep\r\n");
    for (int i = levels - 1; i >= 0; i--) {
        addf(b, "--b%d\r\n", i);
        addf(b, "Content-Disposition: attachment; filename=top%d.txt\r\n\r\n", i);
        addf(b, "top%d\r\n", i);
        addf(b, "--b%d--\r\n", i);
    }
}

static void test_depth_limit(void **state)
{
    (void)state;
    for (size_t depth = 2; depth <= 4; depth++) {
        struct ms_limits lim = ms_limits_default();
        struct ms_buf b;
        struct ms_ev_email ev;

        lim.mime_max_depth = 3; /* nesting of 2 (max-1), 3 (max), 4 (max+1) */
        ms_buf_init(&b, 1 << 20);
        build_nested(&b, (int)depth);
        struct ms_mime *m = parse_lim(&lim, &b, &ev);
        assert_errors(&ev, depth <= 3 ? "" : "depth_exceeded");
        if (depth <= 3) {
            assert_false(ev.truncated);
            assert_int_equal(ev.n_attachments, depth + 1);
            assert_att(&ev.attachments[0], "deep.txt", "text/plain", "deep", 4);
            assert_att(&ev.attachments[1], depth == 2 ? "top1.txt" : "top2.txt", "text/plain",
                       depth == 2 ? "top1" : "top2", 4);
        } else {
            /* The fourth multipart is an opaque leaf: deep.txt and top3
             * inside it are not seen; the three levels above still are. */
            assert_true(ev.truncated);
            assert_int_equal(ev.n_attachments, 3);
            assert_att(&ev.attachments[0], "top2.txt", "text/plain", "top2", 4);
            assert_att(&ev.attachments[2], "top0.txt", "text/plain", "top0", 4);
        }
        ms_mime_free(m);
        ms_buf_free(&b);
    }
}

static void test_parts_limit(void **state)
{
    (void)state;
    for (size_t n = 2; n <= 4; n++) {
        struct ms_limits lim = ms_limits_default();
        struct ms_buf b;
        struct ms_ev_email ev;

        lim.mime_max_parts = 3;
        ms_buf_init(&b, 1 << 20);
        add(&b, "Content-Type: multipart/mixed; boundary=z\r\n\r\n");
        for (size_t i = 0; i < n; i++)
            addf(&b, "--z\r\nContent-Type: text/plain; name=f%zu\r\n\r\nc%zu\r\n", i, i);
        add(&b, "--z--\r\n");
        struct ms_mime *m = parse_lim(&lim, &b, &ev);
        assert_int_equal(ev.n_attachments, n < 3 ? n : 3);
        assert_int_equal(ev.truncated, n > 3);
        assert_errors(&ev, n > 3 ? "too_many_parts" : "");
        assert_att(&ev.attachments[ev.n_attachments - 1], n < 3 ? "f1" : "f2", "text/plain",
                   n < 3 ? "c1" : "c2", 2);
        ms_mime_free(m);
        ms_buf_free(&b);
    }
}

static void test_addrs_limit(void **state)
{
    (void)state;
    for (size_t n = 2; n <= 4; n++) {
        struct ms_limits lim = ms_limits_default();
        struct ms_buf b;
        struct ms_ev_email ev;

        lim.mime_max_addrs = 3;
        ms_buf_init(&b, 1 << 20);
        add(&b, "To: ");
        for (size_t i = 0; i < n; i++)
            addf(&b, "%su%zu@example.org", i ? ", " : "", i);
        add(&b, "\r\nCc: ");
        /* the same spread over two Cc fields */
        for (size_t i = 0; i < n; i++)
            addf(&b, "%sc%zu@example.org", i == 0 ? "" : i == 1 ? "\r\nCc: " : ",", i);
        add(&b, "\r\n\r\n");
        struct ms_mime *m = parse_lim(&lim, &b, &ev);
        assert_int_equal(ev.n_to, n < 3 ? n : 3);
        assert_int_equal(ev.n_cc, n < 3 ? n : 3);
        assert_int_equal(ev.truncated, n > 3);
        assert_bytes(ev.to[ev.n_to - 1], n < 3 ? "u1@example.org" : "u2@example.org");
        assert_bytes(ev.cc[ev.n_cc - 1], n < 3 ? "c1@example.org" : "c2@example.org");
        ms_mime_free(m);
        ms_buf_free(&b);
    }
}

static void test_message_cap(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, "Subject: big\r\n"
            "Content-Type: multipart/mixed; boundary=c\r\n\r\n"
            "--c\r\n"
            "Content-Disposition: attachment; filename=a\r\n\r\n");
    size_t head = b.len;
    add(&b, "0123456789abcdef\r\n--c--\r\n");
    /* max-1 cuts off the last LF, max parses all, max+1 too. */
    for (size_t extra = 0; extra <= 2; extra++) {
        lim.max_message = b.len - 1 + extra;
        struct ms_mime *m = parse_lim(&lim, &b, &ev); /* size/sha: all bytes */
        assert_int_equal(ev.truncated, extra == 0);
        assert_int_equal(ev.n_attachments, 1);
        assert_att(&ev.attachments[0], "a", "text/plain", "0123456789abcdef", 16);
        /* Cut in its closing boundary line: it was open at the cut. */
        assert_int_equal(ev.attachments[0].truncated, extra == 0);
        ms_mime_free(m);
    }
    /* Cut inside the attachment: what was parsed is hashed. */
    lim.max_message = head + 10;
    struct ms_mime *m = parse_lim(&lim, &b, &ev);
    assert_true(ev.truncated);
    assert_att(&ev.attachments[0], "a", "text/plain", "0123456789", 10);
    assert_true(ev.attachments[0].truncated);
    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_set_truncated(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_mime *m = ms_mime_new(&lim, NULL);
    struct ms_ev_email ev;

    assert_non_null(m);
    assert_int_equal(ms_mime_feed(m, (const uint8_t *)"Subject: x\r\n", 12), MS_OK);
    ms_mime_set_truncated(m);
    ms_mime_finish(m, &ev);
    assert_true(ev.truncated);
    assert_bytes(ev.subject, "x");
    ms_mime_free(m);
    ms_mime_free(NULL);
}

/* ---- attachments' truncated ------------------------------------------ */

/* Feeds msg in pieces of `step` bytes (0: whole), calling
 * ms_mime_set_truncated once cut bytes are in (cut > n: never), and
 * ms_mime_set_partial before finishing if asked; dumps the result. */
static void run_cut(const struct ms_limits *lim, const uint8_t *msg, size_t n, size_t cut,
                    bool partial, size_t step, struct ms_buf *d, struct ms_mime **keep_m,
                    struct ms_ev_email *ev)
{
    struct ms_mime *m = ms_mime_new(lim, NULL);
    size_t off = 0;

    assert_non_null(m);
    for (;;) {
        if (off == cut)
            ms_mime_set_truncated(m);
        if (off >= n)
            break;
        size_t end = step ? off + step : n;
        if (end > n)
            end = n;
        if (off < cut && end > cut)
            end = cut; /* stop at the cut */
        uint8_t *chunk = malloc(end - off);
        assert_non_null(chunk);
        memcpy(chunk, msg + off, end - off);
        assert_int_equal(ms_mime_feed(m, chunk, end - off), MS_OK);
        free(chunk);
        off = end;
    }
    if (partial)
        ms_mime_set_partial(m);
    memset(ev, 0, sizeof(*ev));
    ms_mime_finish(m, ev);
    ms_buf_reset(d);
    dump(d, ev);
    if (keep_m)
        *keep_m = m;
    else
        ms_mime_free(m);
}

/* Parses msg with a cut after `cut` bytes (and partial), checking that
 * every chunking gives the same result; the caller frees the parser. */
static struct ms_mime *parse_cut(const struct ms_limits *lim, const struct ms_buf *msg, size_t cut,
                                 bool partial, struct ms_ev_email *ev)
{
    struct ms_buf whole, other;
    struct ms_ev_email tmp;
    struct ms_mime *m;

    ms_buf_init(&whole, 1 << 20);
    ms_buf_init(&other, 1 << 20);
    run_cut(lim, msg->p, msg->len, cut, partial, 0, &whole, NULL, &tmp);
    for (size_t step = 1; step <= 17; step++) {
        run_cut(lim, msg->p, msg->len, cut, partial, step, &other, NULL, &tmp);
        assert_same(&whole, &other);
    }
    run_cut(lim, msg->p, msg->len, cut, partial, 0, &other, &m, ev);
    assert_same(&whole, &other);
    ms_buf_free(&whole);
    ms_buf_free(&other);
    return m;
}

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A text body then attachments a and b (base64) and c (7bit); *off_b_hdr,
 * *off_b get where b's header block and content start, *off_c where c's
 * header block starts; final: with the close delimiter and an epilogue. */
static void three_atts(struct ms_buf *b, bool final, size_t *off_b_hdr, size_t *off_b,
                       size_t *off_c)
{
    add(b, "From: a@example.org\r\n"
           "Content-Type: multipart/mixed; boundary=\"=_cut\"\r\n\r\n"
           "preamble\r\n"
           "--=_cut\r\n"
           "Content-Type: text/plain\r\n\r\n"
           "body\r\n"
           "--=_cut\r\n"
           "Content-Disposition: attachment; filename=a.bin\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n"
           "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"
           "--=_cut\r\n");
    *off_b_hdr = b->len;
    add(b, "Content-Disposition: attachment; filename=b.bin\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n");
    *off_b = b->len;
    add(b, "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC\r\n"
           "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC\r\n"
           "--=_cut\r\n");
    *off_c = b->len;
    add(b, "Content-Disposition: attachment; filename=c.bin\r\n\r\n"
           "CCCCCCCC\r\n");
    if (final)
        add(b, "--=_cut--\r\nepilogue\r\n");
}

static void assert_truncs(const struct ms_ev_email *ev, bool a, bool b, bool c)
{
    assert_int_equal(ev->n_attachments, 3);
    assert_int_equal(ev->attachments[0].truncated, a);
    assert_int_equal(ev->attachments[1].truncated, b);
    assert_int_equal(ev->attachments[2].truncated, c);
}

/* A leaf closed by its boundary is complete; one the end of the message
 * closes (no final boundary) is complete too unless the transfer is
 * partial, which leaves the message's own truncated alone. */
static void test_att_truncated_boundary(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;
    size_t hb, ob, oc;

    ms_buf_init(&b, 1 << 20);
    three_atts(&b, true, &hb, &ob, &oc);
    struct ms_mime *m = parse(&b, &ev);
    assert_truncs(&ev, false, false, false);
    assert_att(&ev.attachments[0], "a.bin", "text/plain", "AAAAAAAAAAAAAAAAAAAAAAAA", 24);
    assert_false(ev.truncated);
    ms_mime_free(m);
    /* Partial: every leaf was closed by a boundary. */
    m = parse_cut(&lim, &b, SIZE_MAX, true, &ev);
    assert_truncs(&ev, false, false, false);
    assert_false(ev.truncated);
    ms_mime_free(m);

    ms_buf_reset(&b);
    three_atts(&b, false, &hb, &ob, &oc); /* missing final boundary */
    m = parse(&b, &ev);
    assert_truncs(&ev, false, false, false);
    assert_att(&ev.attachments[2], "c.bin", "text/plain", "CCCCCCCC\r\n", 10);
    assert_errors(&ev, "missing_final_boundary");
    ms_mime_free(m);
    m = parse_cut(&lim, &b, SIZE_MAX, true, &ev);
    assert_truncs(&ev, false, false, true);
    assert_false(ev.truncated);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* ms_mime_set_truncated (a gap) while b is open: b is truncated even
 * though its boundary closes it after the cut; a, closed before, and c,
 * begun after, are not. */
static void test_att_truncated_cut(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;
    size_t hb, ob, oc;

    ms_buf_init(&b, 1 << 20);
    three_atts(&b, true, &hb, &ob, &oc);
    /* In b's content: on a line boundary, and mid-line. */
    const size_t in_b[] = { ob, ob + 34, ob + 10 };
    for (size_t i = 0; i < N_ELEMS(in_b); i++) {
        struct ms_mime *m = parse_cut(&lim, &b, in_b[i], false, &ev);
        assert_true(ev.truncated);
        assert_truncs(&ev, false, true, false);
        ms_mime_free(m);
    }
    /* In b's header block: the hole may hold the start of its content. */
    struct ms_mime *m = parse_cut(&lim, &b, hb + 5, false, &ev);
    assert_truncs(&ev, false, true, false);
    ms_mime_free(m);
    /* In the preamble and after the final boundary: nothing open. */
    m = parse_cut(&lim, &b, 75, false, &ev);
    assert_true(ev.truncated);
    assert_truncs(&ev, false, false, false);
    ms_mime_free(m);
    m = parse_cut(&lim, &b, b.len - 3, false, &ev);
    assert_true(ev.truncated);
    assert_truncs(&ev, false, false, false);
    ms_mime_free(m);
    /* In c, the last one: truncated, the others not. */
    m = parse_cut(&lim, &b, oc + 55, false, &ev);
    assert_truncs(&ev, false, false, true);
    ms_mime_free(m);

    /* Without a final boundary the end of the message closes c: after any
     * cut it may be incomplete. */
    ms_buf_reset(&b);
    three_atts(&b, false, &hb, &ob, &oc);
    m = parse_cut(&lim, &b, ob + 10, false, &ev);
    assert_truncs(&ev, false, true, true);
    ms_mime_free(m);
    m = parse_cut(&lim, &b, b.len, false, &ev); /* the end of the capture */
    assert_truncs(&ev, false, false, true);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* The message itself is the attachment: complete only if it was neither
 * cut nor partially transferred. */
static void test_att_truncated_single_part(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, "Content-Type: application/pdf\r\n"
            "Content-Disposition: attachment; filename=\"doc.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "JVBERi0xLjQK\r\n"
            "JSVFT0YK\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 1);
    assert_att(&ev.attachments[0], "doc.pdf", "application/pdf", "%PDF-1.4\n%%EOF\n", 15);
    assert_false(ev.attachments[0].truncated);
    assert_false(ev.truncated);
    ms_mime_free(m);

    /* Cut at its end (end of capture), or in the middle. */
    const size_t cuts[] = { b.len, b.len - 10 };
    for (size_t i = 0; i < N_ELEMS(cuts); i++) {
        m = parse_cut(&lim, &b, cuts[i], false, &ev);
        assert_int_equal(ev.n_attachments, 1);
        assert_true(ev.attachments[0].truncated);
        assert_true(ev.truncated);
        ms_mime_free(m);
    }

    /* Partial (POP3 TOP, IMAP BODY[]<0.n>): the attachment may go on. */
    m = parse_cut(&lim, &b, SIZE_MAX, true, &ev);
    assert_int_equal(ev.n_attachments, 1);
    assert_true(ev.attachments[0].truncated);
    assert_false(ev.truncated);
    ms_mime_free(m);

    /* A cut before the body began still counts: the header block was open. */
    m = parse_cut(&lim, &b, 20, false, &ev);
    assert_true(ev.attachments[0].truncated);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* max_message: the leaf open at the cut is truncated, those closed before
 * are not, and a leaf the end of the message closes after it is. */
static void test_att_truncated_message_cap(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;
    size_t hb, ob, oc;

    ms_buf_init(&b, 1 << 20);
    three_atts(&b, true, &hb, &ob, &oc);
    lim.max_message = ob + 40; /* in b */
    struct ms_mime *m = parse_lim(&lim, &b, &ev);
    assert_true(ev.truncated);
    /* The cap is named, so the end-of-run warning can say it was hit. */
    assert_errors(&ev, "message_too_large");
    assert_int_equal(ev.n_attachments, 2);
    assert_false(ev.attachments[0].truncated);
    assert_true(ev.attachments[1].truncated);
    ms_mime_free(m);
    lim.max_message = b.len - 3; /* in the epilogue: all closed */
    m = parse_lim(&lim, &b, &ev);
    assert_true(ev.truncated);
    assert_truncs(&ev, false, false, false);
    ms_mime_free(m);
    lim.max_message = oc + 49; /* c's header block, before its blank line */
    m = parse_lim(&lim, &b, &ev);
    assert_truncs(&ev, false, false, true);
    ms_mime_free(m);

    /* No final boundary: c runs to the end of the message. Cut before its
     * last LF it is open at the cut; with no cut it is complete. */
    ms_buf_reset(&b);
    three_atts(&b, false, &hb, &ob, &oc);
    lim.max_message = b.len - 1;
    m = parse_lim(&lim, &b, &ev);
    assert_truncs(&ev, false, false, true);
    assert_errors(&ev, "message_too_large");
    ms_mime_free(m);
    lim.max_message = b.len; /* exactly all: no cut */
    m = parse_lim(&lim, &b, &ev);
    assert_false(ev.truncated);
    /* Whole, the missing boundary is the message's own damage; cut short
     * (above), it was the cap's doing and is not claimed. */
    assert_errors(&ev, "missing_final_boundary");
    assert_truncs(&ev, false, false, false);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* Caps that cut no content (addresses, a long header field, parts) make
 * the message truncated but leave its attachments complete. */
static void test_att_truncated_other_caps(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;
    size_t hb, ob, oc;

    ms_buf_init(&b, 1 << 20);
    add(&b, "To: x@example.org, y@example.org, z@example.org\r\n"
            "Subject: a rather long subject line that goes over the cap of 128 bytes "
            "set below for one unfolded header field, and then some more\r\n");
    three_atts(&b, false, &hb, &ob, &oc); /* c closed by the end */
    lim.mime_max_addrs = 1;
    lim.mime_max_header = 128;
    struct ms_mime *m = parse_lim(&lim, &b, &ev);
    assert_true(ev.truncated);
    assert_int_equal(ev.n_to, 1);
    assert_truncs(&ev, false, false, false);
    ms_mime_free(m);

    lim = ms_limits_default();
    lim.mime_max_parts = 2;
    m = parse_lim(&lim, &b, &ev);
    assert_true(ev.truncated);
    assert_int_equal(ev.n_attachments, 2);
    assert_false(ev.attachments[0].truncated);
    assert_false(ev.attachments[1].truncated);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* Body lines longer than the line buffer pass through in fragments, and a
 * CRLF cut between two fragments is still a line break. */
static void test_long_lines(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b, want;
    struct ms_ev_email ev;

    lim.mime_max_header = 1024; /* line buffer of 1024 bytes */
    ms_buf_init(&b, 1 << 20);
    ms_buf_init(&want, 1 << 20);
    for (int i = 0; i < 1023; i++)
        add(&want, "A");
    add(&want, "\r\n"); /* CR is byte 1024 of the line: end of a fragment */
    for (int i = 0; i < 1023; i++)
        add(&want, "B");
    add(&want, "\r"); /* the same, but a bare CR: content */
    for (int i = 0; i < 1022; i++)
        add(&want, "C");
    add(&b, "Content-Type: multipart/mixed; boundary=L\r\n\r\n"
            "--L\r\n"
            "Content-Disposition: attachment; filename=long\r\n\r\n");
    addn(&b, want.p, want.len);
    add(&b, "\r\n--L--\r\n");
    struct ms_mime *m = parse_lim(&lim, &b, &ev);
    assert_int_equal(ev.n_attachments, 1);
    assert_att(&ev.attachments[0], "long", "text/plain", want.p, want.len);
    assert_false(ev.truncated);
    ms_mime_free(m);
    ms_buf_free(&b);
    ms_buf_free(&want);
}

/* The top-level entity can itself be the attachment; multipart without a
 * boundary is one opaque leaf; digest parts default to message/rfc822. */
static void test_single_part_and_odd_multiparts(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, "Content-Type: application/zip; name=\"z.zip\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "UEsDBA==\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 1);
    assert_att(&ev.attachments[0], "z.zip", "application/zip", "PK\x03\x04", 4);
    ms_mime_free(m);

    ms_buf_reset(&b);
    add(&b, "Content-Type: multipart/mixed\r\n\r\n"
            "--x\r\nContent-Disposition: attachment; filename=n\r\n\r\nn\r\n--x--\r\n");
    m = parse(&b, &ev);
    assert_int_equal(ev.n_attachments, 0);
    ms_mime_free(m);

    ms_buf_reset(&b);
    add(&b, "Content-Type: multipart/digest; boundary=d\r\n\r\n"
            "--d\r\n"
            "Content-Disposition: attachment\r\n\r\n"
            "Subject: inner\r\n\r\nhi\r\n"
            "--d--\r\n");
    m = parse(&b, &ev);
    assert_null(ev.subject.p);
    assert_int_equal(ev.n_attachments, 1);
    assert_att(&ev.attachments[0], NULL, "message/rfc822", "Subject: inner\r\n\r\nhi", 20);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* ---- mime_errors ----------------------------------------------------- */

static void check_errors(const struct ms_limits *lim, const char *msg, const char *want)
{
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b, msg);
    struct ms_mime *m = parse_lim(lim, &b, &ev);
    assert_errors(&ev, want);
    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_mime_errors(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;

    /* Invalid base64 is decoded as far as it goes, and reported once
     * however many parts have it; in a body too, not only attachments. */
    ms_buf_init(&b, 1 << 20);
    add(&b, "Content-Type: multipart/mixed; boundary=z\r\n\r\n"
            "--z\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "aGk*\r\n"
            "--z\r\n"
            "Content-Disposition: attachment; filename=a\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "YW!Jj\r\n"
            "--z\r\n"
            "Content-Disposition: attachment; filename=b\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "Y\r\n"
            "--z--\r\n");
    struct ms_mime *m = parse(&b, &ev);
    assert_errors(&ev, "invalid_base64");
    assert_int_equal(ev.n_attachments, 2);
    assert_att(&ev.attachments[0], "a", "text/plain", "abc", 3);
    ms_mime_free(m);
    ms_buf_free(&b);

    check_errors(&lim,
                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                 "a=ZZb =\r\nc=4\r\n",
                 "invalid_quoted_printable");
    check_errors(&lim,
                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                 "a=3Db soft=\r\nbreak\r\n",
                 "");
    /* Lines that are not "name: value". An mbox separator opening the
     * message is tolerated. */
    check_errors(&lim,
                 "From alice@example.org Mon Jan  1 00:00:00 2024\r\n"
                 "Subject: x\r\n\r\nbody\r\n",
                 "");
    check_errors(&lim, "Subject: x\r\nnot a header\r\n\r\nbody\r\n", "bad_header_line");
    check_errors(&lim, ": no name\r\n\r\n", "bad_header_line");
    check_errors(&lim, " folds nothing\r\nSubject: x\r\n\r\n", "bad_header_line");
    check_errors(&lim, "Subject: x\r\n\tfolded is fine\r\n\r\n", "");
    /* Multiparts without a usable boundary. */
    check_errors(&lim, "Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nx\r\n--x--\r\n",
                 "missing_boundary");
    check_errors(&lim, "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\nx\r\n",
                 "missing_boundary");
    /* Codes come in one stable order, each once. */
    check_errors(&lim,
                 "Content-Type: multipart/mixed; boundary=q\r\n\r\n"
                 "--q\r\n"
                 "bad line\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n"
                 "!!!!\r\n"
                 "--q\r\n"
                 "Content-Type: multipart/mixed\r\n\r\n",
                 "missing_final_boundary,invalid_base64,bad_header_line,missing_boundary");
}

/* RFC 5322 §2.1.1: 998 characters per line. And the boundary cap. */
static void test_line_and_boundary_limits(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();

    for (size_t len = 997; len <= 999; len++) {
        struct ms_buf b;
        struct ms_ev_email ev;
        ms_buf_init(&b, 1 << 20);
        add(&b, "X-Long: ");
        for (size_t i = 8; i < len; i++)
            add(&b, "x");
        add(&b, "\r\nSubject: after\r\n\r\nbody\r\n");
        struct ms_mime *m = parse_lim(&lim, &b, &ev);
        assert_errors(&ev, len > 998 ? "header_line_too_long" : "");
        assert_false(ev.truncated); /* the field itself fits the cap */
        assert_bytes(ev.subject, "after");
        ms_mime_free(m);
        ms_buf_free(&b);
    }

    lim.mime_max_boundary = 10;
    for (size_t len = 9; len <= 11; len++) {
        struct ms_buf b;
        struct ms_ev_email ev;
        char bnd[16];
        memset(bnd, 'b', len);
        bnd[len] = '\0';
        ms_buf_init(&b, 1 << 20);
        addf(&b, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n--%s\r\n", bnd, bnd);
        addf(&b, "Content-Disposition: attachment; filename=f\r\n\r\nf\r\n--%s--\r\n", bnd);
        struct ms_mime *m = parse_lim(&lim, &b, &ev);
        assert_errors(&ev, len > 10 ? "boundary_too_long" : "");
        assert_int_equal(ev.truncated, len > 10);
        assert_int_equal(ev.n_attachments, len > 10 ? 0 : 1);
        ms_mime_free(m);
        ms_buf_free(&b);
    }
}

/* ---- URLs -------------------------------------------------------------- */

static void assert_urls(const struct ms_ev_email *ev, const char *const *want, size_t n)
{
    for (size_t i = 0; i < ev->n_urls; i++) /* shown when an assertion fails */
        print_message("url[%zu] = %.*s\n", i, (int)ev->urls[i].len, (const char *)ev->urls[i].p);
    for (size_t i = 0; i < ev->n_urls && i < n; i++)
        assert_bytes(ev->urls[i], want[i]);
    assert_int_equal(ev->n_urls, n);
}

static const char url_html[] =
    "<html xmlns:v=\"urn:schemas-microsoft-com:vml\"\r\n"
    "xmlns:m=\"http://schemas.microsoft.com/office/2004/12/omml\" "
    "xmlns = 'http://www.w3.org/TR/REC-html40' notxmlns=\"http://kept.example/\">\r\n"
    "<body>\r\n"
    "<a href=\"https://a.example/x?a=1&amp;b=2\">one</a>\r\n"
    "<a class=x HREF = 'javascript:alert(1)'>two</a>\r\n"
    "<a href=\"#top\">top</a> <img src=\"cid:img1\"> <a href=\"cid:x\">c</a>\r\n"
    "<a href=http://unq.example/p>three</a>\r\n"
    "<a href=\"\r\n  https://folded.example/\r\n\">4</a>\r\n"
    "text http://in.text.example/ and data-href=\"/rel\" and href without equals\r\n"
    "<a href=\"https://never.closed.example/<b>x</b>\r\n"
    "</body></html>";

static void test_urls(void **state)
{
    (void)state;
    struct ms_buf b;
    struct ms_ev_email ev;

    ms_buf_init(&b, 1 << 20);
    add(&b,
        "Subject: links\r\n"
        "Content-Type: multipart/mixed; boundary=u\r\n\r\n"
        "--u\r\n"
        "Content-Type: multipart/alternative; boundary=v\r\n\r\n"
        "--v\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        /* a soft line break inside a URL: found whole once decoded */
        "Go to https://login.example.com/very/long/pa=\r\n"
        "th?id=3D42 now.\r\n"
        "(see http://paren.example/a_(b)) and <http://angle.example/>,\r\n"
        "HTTPS://Upper.Example/Path, xhttp://glued.example/ ftp://files.example/f.\r\n"
        "mail mailto:bob@example.org; again https://login.example.com/very/long/path?id=3D42\r\n"
        "bare http:// and mailto: alone\r\n"
        "--v\r\n"
        "Content-Type: text/html\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n");
    add_b64(&b, (const uint8_t *)url_html, strlen(url_html), "\r\n");
    add(&b, "--v--\r\n"
            "--u\r\n"
            "Content-Type: text/plain; name=notes.txt\r\n\r\n"
            "attached http://attached.example/\r\n"
            "--u\r\n"
            "Content-Type: application/octet-stream; name=bin\r\n\r\n"
            "http://binary.example/\r\n"
            "--u--\r\n");
    struct ms_mime *m = parse(&b, &ev);
    static const char *const want[] = {
        "https://login.example.com/very/long/path?id=42",
        "http://paren.example/a_(b)",
        "http://angle.example/",
        "https://Upper.Example/Path",
        "ftp://files.example/f",
        "mailto:bob@example.org",
        "http://kept.example/",
        "https://a.example/x?a=1&b=2",
        "javascript:alert(1)",
        "http://unq.example/p",
        "https://folded.example/",
        "http://in.text.example/",
        "https://never.closed.example/", /* up to the stray "<" */
        "http://attached.example/",      /* written "attached http://..." */
    };
    assert_urls(&ev, want, sizeof(want) / sizeof(want[0]));
    assert_errors(&ev, "");
    ms_mime_free(m);
    ms_buf_free(&b);
}

static void test_url_limits(void **state)
{
    (void)state;
    /* Count: max-1, max, max+1 distinct URLs (and duplicates do not
     * count). */
    for (size_t n = 2; n <= 4; n++) {
        struct ms_limits lim = ms_limits_default();
        struct ms_buf b;
        struct ms_ev_email ev;
        lim.mime_max_urls = 3;
        ms_buf_init(&b, 1 << 20);
        add(&b, "Subject: n\r\n\r\n");
        for (size_t i = 0; i < n; i++)
            addf(&b, "http://u%zu.example/ http://u0.example/\r\n", i);
        struct ms_mime *m = parse_lim(&lim, &b, &ev);
        assert_int_equal(ev.n_urls, n < 3 ? n : 3);
        assert_bytes(ev.urls[ev.n_urls - 1], n < 3 ? "http://u1.example/" : "http://u2.example/");
        assert_false(ev.truncated);
        ms_mime_free(m);
        ms_buf_free(&b);
    }
    /* Length: max-1, max, max+1 bytes; the longer one is cut to max. */
    for (size_t len = 19; len <= 21; len++) {
        struct ms_limits lim = ms_limits_default();
        struct ms_buf b;
        struct ms_ev_email ev;
        char url[32] = "http://example.org/";
        memset(url + 19, 'x', sizeof(url) - 19);
        url[len] = '\0';
        lim.mime_max_url_len = 20;
        ms_buf_init(&b, 1 << 20);
        addf(&b, "\r\n%s\r\n", url);
        struct ms_mime *m = parse_lim(&lim, &b, &ev);
        assert_int_equal(ev.n_urls, 1);
        assert_int_equal(ev.urls[0].len, len < 20 ? len : 20);
        assert_memory_equal(ev.urls[0].p, url, ev.urls[0].len);
        ms_mime_free(m);
        ms_buf_free(&b);
    }
    /* A cut never ends inside a UTF-8 sequence. */
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;
    lim.mime_max_url_len = 19; /* the 2-byte character just fits */
    ms_buf_init(&b, 1 << 20);
    add(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "http://example.or\xc3\xa9/abc\r\n");
    struct ms_mime *m = parse_lim(&lim, &b, &ev);
    assert_int_equal(ev.n_urls, 1);
    assert_bytes(ev.urls[0], "http://example.or\xc3\xa9");
    ms_mime_free(m);
    ms_buf_reset(&b);
    lim.mime_max_url_len = 18; /* it would be cut in two: left out */
    add(&b, "\r\nhttp://example.or\xc3\xa9/abc\r\n");
    m = parse_lim(&lim, &b, &ev);
    assert_int_equal(ev.n_urls, 1);
    assert_bytes(ev.urls[0], "http://example.or");
    ms_mime_free(m);
    /* None wanted. */
    ms_buf_reset(&b);
    lim.mime_max_urls = 0;
    add(&b, "\r\nhttp://example.org/\r\n");
    m = parse_lim(&lim, &b, &ev);
    assert_int_equal(ev.n_urls, 0);
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* ---- body_excerpt ------------------------------------------------------ */

static void test_excerpt(void **state)
{
    (void)state;
    struct ms_limits lim = ms_limits_default();
    struct ms_buf b;
    struct ms_ev_email ev;

    /* Default: none (bodies are sensitive). */
    ms_buf_init(&b, 1 << 20);
    add(&b, "Subject: s\r\n\r\nab\xc3\xa9\r\n");
    struct ms_mime *m = parse_lim(&lim, &b, &ev);
    assert_null(ev.body_excerpt.p);
    ms_mime_free(m);

    /* max-1, max, max+1 against a text of 4 bytes ending in a 2-byte
     * character: the cut never splits it. */
    ms_buf_reset(&b);
    add(&b, "Subject: s\r\n\r\nab\xc3\xa9");
    for (size_t n = 3; n <= 5; n++) {
        lim.body_excerpt = n;
        m = parse_lim(&lim, &b, &ev);
        assert_bytes(ev.body_excerpt, n < 4 ? "ab" : "ab\xc3\xa9");
        ms_mime_free(m);
    }

    /* Charset conversion after transfer decoding; the CRLF before the
     * boundary is not text. */
    lim.body_excerpt = 100;
    ms_buf_reset(&b);
    add(&b, "Content-Type: multipart/alternative; boundary=e\r\n\r\n"
            "--e\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n"
            "<p>html</p>\r\n"
            "--e\r\n"
            "Content-Type: text/plain; charset=\"ISO-8859-1\"\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Caf=E9 cr=E8me=\r\n"
            "!\r\n"
            "--e\r\n"
            "Content-Type: text/plain\r\n\r\n"
            "second plain\r\n"
            "--e--\r\n");
    m = parse_lim(&lim, &b, &ev);
    assert_bytes(ev.body_excerpt, "Caf\xc3\xa9 cr\xc3\xa8me!");
    ms_mime_free(m);

    /* HTML only: HTML it is. A text attachment is not the body; base64 is
     * decoded; an unknown charset is read as UTF-8. */
    ms_buf_reset(&b);
    add(&b, "Content-Type: multipart/mixed; boundary=e\r\n\r\n"
            "--e\r\n"
            "Content-Type: text/plain; name=a.txt\r\n\r\n"
            "attachment text\r\n"
            "--e\r\n"
            "Content-Type: text/html; charset=x-no-such-charset\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "PGI+aGk8L2I+\r\n"
            "--e--\r\n");
    m = parse_lim(&lim, &b, &ev);
    assert_bytes(ev.body_excerpt, "<b>hi</b>");
    ms_mime_free(m);

    /* No text at all. */
    ms_buf_reset(&b);
    add(&b, "Content-Type: image/png\r\n\r\nxx\r\n");
    m = parse_lim(&lim, &b, &ev);
    assert_null(ev.body_excerpt.p);
    ms_mime_free(m);

    /* UTF-16: the raw bytes kept are enough for the excerpt's length. */
    lim.body_excerpt = 5;
    ms_buf_reset(&b);
    add(&b, "Content-Type: text/plain; charset=utf-16le\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n");
    add_b64(&b, (const uint8_t *)"h\0e\0l\0l\0o\0 \0w\0o\0r\0l\0d\0", 22, "\r\n");
    m = parse_lim(&lim, &b, &ev);
    assert_bytes(ev.body_excerpt, "hello");
    ms_mime_free(m);
    ms_buf_free(&b);
}

/* ---- the message tap (--extract) ---------------------------------------- */

struct rec_att {
    struct ms_buf data;
    size_t index;
    bool ended;
};

struct rec {
    struct ms_buf raw;
    struct rec_att att[8];
    size_t n_att;
    int msg_begins, msg_ends, att_ends;
    bool refuse_msg;
    char name[32];
};

static void *rec_msg_begin(const struct ms_msg_tap *tap, const struct ms_sink *sink)
{
    struct rec *r = tap->user;
    assert_non_null(sink);
    assert_int_equal(tap->flow_id, 77);
    r->msg_begins++;
    return r->refuse_msg ? NULL : r;
}

static void rec_msg_data(void *msg, const uint8_t *p, size_t n)
{
    struct rec *r = msg;
    assert_int_equal(r->msg_ends, 0);
    addn(&r->raw, p, n);
}

static void *rec_att_begin(void *msg, size_t index, const struct ms_attachment *a)
{
    struct rec *r = msg;
    assert_true(r->n_att < 8);
    assert_non_null(a->content_type.p);
    struct rec_att *ra = &r->att[r->n_att++];
    ms_buf_init(&ra->data, 1 << 20);
    ra->index = index;
    return ra;
}

static void rec_att_data(void *att, const uint8_t *p, size_t n)
{
    struct rec_att *ra = att;
    assert_false(ra->ended);
    addn(&ra->data, p, n);
}

static struct ms_bytes rec_att_end(void *att)
{
    struct rec_att *ra = att;
    static char name[32];
    ra->ended = true;
    snprintf(name, sizeof(name), "att-%zu", ra->index);
    return ms_bytes_of(name, strlen(name));
}

static struct ms_bytes rec_msg_end(void *msg)
{
    struct rec *r = msg;
    r->msg_ends++;
    snprintf(r->name, sizeof(r->name), "msg.eml");
    return ms_bytes_of(r->name, strlen(r->name));
}

static void no_emit(void *user, const struct ms_event *ev)
{
    (void)user;
    (void)ev;
}

static void rec_init(struct rec *r, struct ms_msg_tap *tap, bool atts)
{
    memset(r, 0, sizeof(*r));
    ms_buf_init(&r->raw, 1 << 20);
    memset(tap, 0, sizeof(*tap));
    tap->msg_begin = rec_msg_begin;
    tap->msg_data = rec_msg_data;
    tap->msg_end = rec_msg_end;
    if (atts) {
        tap->att_begin = rec_att_begin;
        tap->att_data = rec_att_data;
        tap->att_end = rec_att_end;
    }
    tap->user = r;
    tap->flow_id = 77;
}

static void rec_free(struct rec *r)
{
    ms_buf_free(&r->raw);
    for (size_t i = 0; i < r->n_att; i++)
        ms_buf_free(&r->att[i].data);
}

/* The message of test_nested_alternative-like shape, with two base64
 * attachments and a quoted-printable one. */
static void build_tap_msg(struct ms_buf *b, uint8_t *img, size_t ni, uint8_t *pdf, size_t np)
{
    fill_pattern(img, ni, 11);
    fill_pattern(pdf, np, 12);
    add(b, "Subject: tap\r\n"
           "Content-Type: multipart/mixed; boundary=\"t\"\r\n\r\n"
           "--t\r\n"
           "Content-Type: text/plain\r\n\r\n"
           "body\r\n"
           "--t\r\n"
           "Content-Type: image/png; name=\"../../etc/x.png\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n");
    add_b64(b, img, ni, "\r\n");
    add(b, "--t\r\n"
           "Content-Disposition: attachment; filename=q.txt\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
           "a=3Db=\r\nc\r\n"
           "--t\r\n"
           "Content-Type: application/pdf; name=d.pdf\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n");
    add_b64(b, pdf, np, "\r\n");
    add(b, "--t--\r\n");
}

static void run_tap(const struct ms_buf *b, size_t step, bool atts)
{
    struct ms_limits lim = ms_limits_default();
    struct rec r;
    struct ms_msg_tap tap;
    struct ms_sink sink = { .emit = no_emit };
    struct ms_ev_email ev;

    rec_init(&r, &tap, atts);
    sink.tap = &tap;
    struct ms_mime *m = ms_mime_new(&lim, &sink);
    assert_non_null(m);
    for (size_t off = 0; off < b->len; off += step) {
        size_t n = b->len - off < step ? b->len - off : step;
        uint8_t *chunk = malloc(n);
        assert_non_null(chunk);
        memcpy(chunk, b->p + off, n);
        assert_int_equal(ms_mime_feed(m, chunk, n), MS_OK);
        free(chunk);
    }
    memset(&ev, 0, sizeof(ev));
    ms_mime_finish(m, &ev);
    assert_int_equal(r.msg_begins, 1);
    assert_int_equal(r.msg_ends, 1);
    /* The tap saw exactly the bytes fed, and the event says where they
     * went. */
    assert_int_equal(r.raw.len, b->len);
    assert_memory_equal(r.raw.p, b->p, b->len);
    assert_bytes(ev.eml_file, "msg.eml");
    assert_int_equal(ev.n_attachments, 3);
    assert_int_equal(r.n_att, atts ? 3 : 0);
    for (size_t i = 0; i < r.n_att; i++) {
        const struct ms_attachment *a = &ev.attachments[i];
        uint8_t h[32];
        char name[32];
        assert_true(r.att[i].ended);
        assert_int_equal(r.att[i].index, i);
        assert_int_equal(r.att[i].data.len, a->size);
        sha256_of(r.att[i].data.p, r.att[i].data.len, h);
        assert_memory_equal(h, a->sha256, 32);
        snprintf(name, sizeof(name), "att-%zu", i);
        assert_bytes(a->file, name);
    }
    if (!atts)
        for (size_t i = 0; i < ev.n_attachments; i++)
            assert_null(ev.attachments[i].file.p);
    ms_mime_free(m);
    rec_free(&r);
}

static void test_tap(void **state)
{
    (void)state;
    struct ms_buf b;
    uint8_t img[500], pdf[2000];

    ms_buf_init(&b, 1 << 20);
    build_tap_msg(&b, img, sizeof(img), pdf, sizeof(pdf));
    run_tap(&b, b.len, true);
    run_tap(&b, 1, true);
    run_tap(&b, 7, true);
    run_tap(&b, 1000, false);

    /* The tap gets every byte even past max_message (the .eml matches the
     * message hash); the attachments what was parsed. */
    {
        struct ms_limits lim = ms_limits_default();
        struct rec r;
        struct ms_msg_tap tap;
        struct ms_sink sink = { .emit = no_emit };
        struct ms_ev_email ev;
        lim.max_message = 600;
        rec_init(&r, &tap, true);
        sink.tap = &tap;
        struct ms_mime *m = ms_mime_new(&lim, &sink);
        assert_non_null(m);
        assert_int_equal(ms_mime_feed(m, b.p, b.len), MS_OK);
        ms_mime_finish(m, &ev);
        assert_true(ev.truncated);
        assert_int_equal(r.raw.len, b.len);
        assert_int_equal(r.n_att, 1);
        assert_true(r.att[0].ended);
        assert_int_equal(r.att[0].data.len, ev.attachments[0].size);
        assert_true(ev.attachments[0].size < sizeof(img));
        ms_mime_free(m);
        rec_free(&r);
    }

    /* A tap that declines the message gets nothing more. */
    {
        struct ms_limits lim = ms_limits_default();
        struct rec r;
        struct ms_msg_tap tap;
        struct ms_sink sink = { .emit = no_emit };
        struct ms_ev_email ev;
        rec_init(&r, &tap, true);
        r.refuse_msg = true;
        sink.tap = &tap;
        struct ms_mime *m = ms_mime_new(&lim, &sink);
        assert_non_null(m);
        assert_int_equal(ms_mime_feed(m, b.p, b.len), MS_OK);
        ms_mime_finish(m, &ev);
        assert_int_equal(r.raw.len, 0);
        assert_int_equal(r.n_att, 0);
        assert_int_equal(r.msg_ends, 0);
        assert_null(ev.eml_file.p);
        ms_mime_free(m);
        rec_free(&r);
    }

    /* Freed mid-attachment without finish: the tap still closes both. */
    {
        struct ms_limits lim = ms_limits_default();
        struct rec r;
        struct ms_msg_tap tap;
        struct ms_sink sink = { .emit = no_emit };
        rec_init(&r, &tap, true);
        sink.tap = &tap;
        struct ms_mime *m = ms_mime_new(&lim, &sink);
        assert_non_null(m);
        assert_int_equal(ms_mime_feed(m, b.p, 400), MS_OK);
        ms_mime_free(m);
        assert_int_equal(r.msg_ends, 1);
        assert_int_equal(r.n_att, 1);
        assert_true(r.att[0].ended);
        rec_free(&r);
    }
    ms_buf_free(&b);
}

/* ---- mime_hdr helpers ------------------------------------------------ */

static void check_param(const char *hdr, const char *name, unsigned flags, const char *want)
{
    struct ms_buf out;
    bool found = true;

    ms_buf_init(&out, 1024);
    assert_int_equal(ms_mime_hdr_param((const uint8_t *)hdr, strlen(hdr), name, flags, &out,
                                       &found),
                     MS_OK);
    if (!want) {
        assert_false(found);
    } else {
        assert_true(found);
        assert_int_equal(out.len, strlen(want));
        if (out.len)
            assert_memory_equal(out.p, want, out.len);
    }
    ms_buf_free(&out);
}

static void test_hdr_params(void **state)
{
    (void)state;
    const unsigned T = MS_MIME_PARAM_TEXT, R = MS_MIME_PARAM_RAW;

    check_param("multipart/mixed; boundary=\"a;b\\\"c\"", "boundary", R, "a;b\"c");
    check_param("multipart/mixed;boundary=plain ; x=1", "boundary", R, "plain");
    check_param("multipart/mixed; BOUNDARY=\"=?x?q?y?=\"", "boundary", R, "=?x?q?y?=");
    check_param("attachment; dummy=\"filename=wrong\"; filename=real", "filename", T, "real");
    check_param("attachment; dummy=\"x; filename=wrong\"", "filename", T, NULL);
    check_param("attachment; filename=\"unterminated", "filename", T, "unterminated");
    check_param("attachment; filename=", "filename", T, "");
    check_param("attachment; filename", "filename", T, NULL);
    check_param("attachment; filenames=a", "filename", T, NULL);
    check_param("attachment; filename*=UTF-8''%e2%82%ac%zz", "filename", T, "\xe2\x82\xac%zz");
    check_param("attachment; filename*=''plain", "filename", T, "plain");
    check_param("attachment; filename*0=\"a\"; filename*2=\"c\"", "filename", T, "a");
    check_param("attachment; filename*0=a; filename*1=b; filename*1=x", "filename", T, "ab");
    check_param("attachment; filename*1=b", "filename", T, NULL);
    check_param("attachment; filename*0*=iso-8859-1''%E9; filename*1=\"=E9\"", "filename", T,
                "\xc3\xa9=E9");
    check_param("attachment; filename*=bogus-cs''%41", "filename", T, "A");
    check_param("attachment; filename*99999999999=x", "filename", T, NULL);
    /* Quoted text, used in place or unescaped first, then decoded. */
    check_param("attachment; filename=\"=?utf-8?q?caf=C3=A9?=\"", "filename", T, "caf\xc3\xa9");
    check_param("attachment; filename=\"a\\\\b \\\"c\\\"\"", "filename", T, "a\\b \"c\"");
}

static void check_addrs(const char *list, const char *const *want, size_t n)
{
    size_t pos = 0, len, i = 0;
    const uint8_t *a;

    while (ms_mime_hdr_addr_next((const uint8_t *)list, strlen(list), &pos, &a, &len)) {
        assert_true(i < n && want);
        /* Not reached (want is NULL only with n == 0), but the analysers do
         * not know that a failed cmocka assert ends the test. */
        if (i >= n || !want)
            abort();
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(a, want[i], len);
        i++;
    }
    assert_int_equal(i, n);
}

static void test_hdr_addrs(void **state)
{
    (void)state;
    static const char *const w1[] = { "\"Last, First\" <a@x>", "b@x (Bob, \\) B)", "<c,d@x>",
                                      "e@x" };
    check_addrs(" \"Last, First\" <a@x> ,, b@x (Bob, \\) B),<c,d@x>, e@x,", w1, 4);
    check_addrs("", NULL, 0);
    check_addrs(" , ,\r\n ", NULL, 0);
    static const char *const w2[] = { "\"unterminated, quote" };
    check_addrs("\"unterminated, quote", w2, 1);
}

static void test_hdr_value_and_charsets(void **state)
{
    (void)state;
    const uint8_t *v;
    size_t vlen;
    const char *h = "  text/plain ; charset=\"a;b\"";

    ms_mime_hdr_value((const uint8_t *)h, strlen(h), &v, &vlen);
    assert_int_equal(vlen, 10);
    assert_memory_equal(v, "text/plain", 10);

    struct ms_buf out;
    ms_buf_init(&out, 64);
    /* invalid GBK byte: replaced, conversion goes on */
    assert_int_equal(ms_mime_hdr_to_utf8((const uint8_t *)"gbk", 3,
                                         (const uint8_t *)"\xb2\xe2\xff"
                                                          "a",
                                         4, &out),
                     MS_OK);
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.p,
                        "\xe6\xb5\x8b\xef\xbf\xbd"
                        "a",
                        7);
    /* cut by the cap: on a character boundary */
    struct ms_buf small;
    const char *gb = "\xbb\xd8\xb8\xb4: \xbb\xd8\xb8\xb4: \xb2\xe2\xca\xd4";
    ms_buf_init(&small, 20);
    assert_int_equal(ms_mime_hdr_to_utf8((const uint8_t *)"GB2312", 6, (const uint8_t *)gb,
                                         strlen(gb), &small),
                     MS_ERR_LIMIT);
    assert_int_equal(small.len, 19);
    assert_memory_equal(small.p, "回复: 回复: 测", 19);
    ms_buf_free(&small);
    ms_buf_reset(&out);
    assert_int_equal(ms_mime_hdr_to_utf8((const uint8_t *)"../../x", 7, (const uint8_t *)"a", 1,
                                         &out),
                     MS_ERR_PROTO);
    assert_int_equal(out.len, 0);
    /* overlong, surrogate and truncated UTF-8 */
    assert_int_equal(ms_mime_hdr_utf8((const uint8_t *)"\xc0\xaf\xed\xa0\x80\xe2\x82", 7, &out),
                     MS_OK);
    assert_int_equal(out.len, 7 * 3);
    ms_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text),
        cmocka_unit_test(test_absent_headers),
        cmocka_unit_test(test_mixed_base64),
        cmocka_unit_test(test_bare_lf),
        cmocka_unit_test(test_crlf_before_boundary),
        cmocka_unit_test(test_qp_html),
        cmocka_unit_test(test_nested_alternative),
        cmocka_unit_test(test_encoded_subjects),
        cmocka_unit_test(test_filename_params),
        cmocka_unit_test(test_missing_final_boundary),
        cmocka_unit_test(test_b64_padding_split),
        cmocka_unit_test(test_header_over_cap),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_parts_limit),
        cmocka_unit_test(test_addrs_limit),
        cmocka_unit_test(test_message_cap),
        cmocka_unit_test(test_set_truncated),
        cmocka_unit_test(test_att_truncated_boundary),
        cmocka_unit_test(test_att_truncated_cut),
        cmocka_unit_test(test_att_truncated_single_part),
        cmocka_unit_test(test_att_truncated_message_cap),
        cmocka_unit_test(test_att_truncated_other_caps),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_single_part_and_odd_multiparts),
        cmocka_unit_test(test_mime_errors),
        cmocka_unit_test(test_line_and_boundary_limits),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_url_limits),
        cmocka_unit_test(test_excerpt),
        cmocka_unit_test(test_tap),
        cmocka_unit_test(test_hdr_params),
        cmocka_unit_test(test_hdr_addrs),
        cmocka_unit_test(test_hdr_value_and_charsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
