/* Unit tests for dissectors/mime_url.c: the URLs found do not depend on how
 * the text is cut. Fed a byte at a time, the scanner takes its general
 * path for every byte (the window filled byte by byte); fed whole or in
 * random pieces, runs of text go through the window in one copy. Random
 * documents built of URL, href, xmlns and plain-text fragments, in text and
 * HTML, must give the same URLs, in the same order, every way. What the
 * URLs are is checked by test_mime's test_urls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dissectors/mime_url.h"

#define FOUND_MAX 8192

struct found {
    char text[FOUND_MAX];
    size_t len;
    size_t count;
};

static void on_url(void *ctx, const uint8_t *url, size_t len)
{
    struct found *f = ctx;
    assert_true(f->len + len + 1 < sizeof(f->text));
    memcpy(f->text + f->len, url, len);
    f->len += len;
    f->text[f->len++] = '\n';
    f->count++;
}

static uint32_t next(uint32_t *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return *seed >> 8;
}

/* piece: 0 whole, 1 a byte at a time, else random pieces of 0..piece-1. */
static void scan(const uint8_t *doc, size_t n, bool html, size_t piece, uint32_t seed,
                 struct found *f)
{
    struct ms_url_scan s;
    memset(f, 0, sizeof(*f));
    ms_url_scan_init(&s, 64, on_url, f);
    ms_url_scan_start(&s, html);
    for (size_t at = 0; at < n;) {
        size_t k = piece == 0 ? n : piece == 1 ? 1 : next(&seed) % piece;
        if (k > n - at)
            k = n - at;
        assert_int_equal(ms_url_scan_feed(&s, doc + at, k), MS_OK);
        at += k;
    }
    ms_url_scan_end(&s);
    ms_url_scan_free(&s);
}

static void test_split_invariance(void **state)
{
    (void)state;
    static const char *const frag[] = {
        "http://a.example/x",
        "HTTPS://B.Example/y?q=1&amp;z=2",
        "mailto:bob@example.org",
        "ftp://files.example/pub/",
        "xhttp://glued.example/",
        "see http://dot.example/a. ",
        "(http://paren.example/(a)) ",
        "<a href=\"http://h.example/1\">",
        "<a href = 'rel/path?x'>",
        "<a HREF=unquoted.html>",
        "<a href=\"#anchor\">",
        "<img src=\"cid:part1\">",
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" ",
        "xmlns:o = \"urn:schemas-microsoft-com:office\" ",
        "xmlns:v=\n  'http://schemas.example/v'",
        "                                                            ",
        "          ",
        "xmlns:x=",
        "xmlns=",
        "'",
        "\r\n",
        "\t",
        "of ",
        "f",
        "/",
        ":",
        "//",
        "href",
        "http:/",
        "\xc3\xa9t\xc3\xa9 ",
        "Line of a message body, text and more text. ",
        "http://long.example/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "\"",
        ">",
        "<",
    };
    enum { DOC_MAX = 6000 };
    uint8_t *doc = malloc(DOC_MAX + 200);
    struct found *whole = malloc(sizeof(*whole)), *bytes = malloc(sizeof(*bytes)),
                 *cut = malloc(sizeof(*cut));
    assert_non_null(doc);
    assert_non_null(whole);
    assert_non_null(bytes);
    assert_non_null(cut);
    uint32_t seed = 4242;
    size_t urls = 0;
    for (int round = 0; round < 400; round++) {
        size_t n = 0, want = next(&seed) % DOC_MAX;
        while (n < want) {
            const char *f = frag[next(&seed) % (sizeof(frag) / sizeof(frag[0]))];
            size_t k = strlen(f);
            memcpy(doc + n, f, k);
            n += k;
        }
        bool html = round & 1;
        scan(doc, n, html, 0, 0, whole);
        scan(doc, n, html, 1, 0, bytes);
        scan(doc, n, html, 2 + (size_t)round % 150, seed, cut);
        assert_int_equal(bytes->count, whole->count);
        assert_int_equal(bytes->len, whole->len);
        assert_memory_equal(bytes->text, whole->text, whole->len);
        assert_int_equal(cut->count, whole->count);
        assert_memory_equal(cut->text, whole->text, whole->len);
        urls += whole->count;
    }
    /* The documents do hold URLs: the comparison is not of empty lists. */
    assert_true(urls > 1000);
    free(doc);
    free(whole);
    free(bytes);
    free(cut);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_invariance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
