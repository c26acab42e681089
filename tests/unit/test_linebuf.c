/* Line assembler: terminators kept, long lines fragmented at max_line
 * whatever the chunking, raw runs, flush and reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../common/linebuf.h"

struct rec {
    char log[4096];
    size_t at;
};

static void on_line(void *ctx, const uint8_t *line, size_t len, unsigned flags)
{
    struct rec *r = ctx;
    int n = snprintf(r->log + r->at, sizeof(r->log) - r->at, "%c%c%c[%.*s]",
                     (flags & MS_LINE_CONT) ? 'c' : '-', (flags & MS_LINE_PARTIAL) ? 'p' : '-',
                     (flags & MS_LINE_RAW) ? 'r' : '-', (int)len, (const char *)line);
    r->at += (size_t)n;
}

/* Feeds input in pieces of `step` bytes (0: whole) and returns the log. */
static void run(const char *in, size_t max_line, size_t step, struct rec *r)
{
    struct ms_linebuf lb;
    memset(r, 0, sizeof(*r));
    ms_linebuf_init(&lb, max_line, on_line, r);
    size_t n = strlen(in);
    size_t s = step ? step : n;
    for (size_t off = 0; off < n; off += s)
        ms_linebuf_feed(&lb, (const uint8_t *)in + off, off + s > n ? n - off : s);
    ms_linebuf_flush(&lb);
    ms_linebuf_free(&lb);
}

static void test_lines_keep_terminators(void **state)
{
    (void)state;
    struct rec r;
    run("a\r\nbc\nd", 100, 0, &r);
    assert_string_equal(r.log, "---[a\r\n]---[bc\n]---[d]");
}

static void test_long_line_fragments_same_for_any_chunking(void **state)
{
    (void)state;
    const char *in = "0123456789abcdef\r\nxy\r\n";
    struct rec whole, piece;
    run(in, 8, 0, &whole);
    assert_string_equal(whole.log, "-p-[01234567]cp-[89abcdef]c--[\r\n]---[xy\r\n]");
    for (size_t step = 1; step < strlen(in); step++) {
        run(in, 8, step, &piece);
        assert_string_equal(whole.log, piece.log);
    }
}

/* max_line - 1, max_line and max_line + 1 bytes including the LF. */
static void test_cap_boundaries(void **state)
{
    (void)state;
    struct rec r;
    run("abcdef\n", 8, 0, &r);
    assert_string_equal(r.log, "---[abcdef\n]");
    run("abcdefg\n", 8, 0, &r);
    assert_string_equal(r.log, "---[abcdefg\n]");
    run("abcdefgh\n", 8, 0, &r);
    assert_string_equal(r.log, "-p-[abcdefgh]c--[\n]");
}

struct raw_ctx {
    struct ms_linebuf *lb;
    struct rec r;
};

static void on_line_raw(void *ctx, const uint8_t *line, size_t len, unsigned flags)
{
    struct raw_ctx *c = ctx;
    on_line(&c->r, line, len, flags);
    /* "{n}" announces n raw bytes, as an IMAP literal does. */
    if (!(flags & MS_LINE_RAW) && len >= 4 && line[0] == '{')
        ms_linebuf_raw(c->lb, (uint64_t)(line[1] - '0'));
}

static void test_raw_run(void **state)
{
    (void)state;
    const char *in = "{5}\nab\ncdX\n";
    for (size_t step = 1; step <= strlen(in); step++) {
        struct ms_linebuf lb;
        struct raw_ctx c;
        memset(&c, 0, sizeof(c));
        c.lb = &lb;
        ms_linebuf_init(&lb, 64, on_line_raw, &c);
        for (size_t off = 0; off < strlen(in); off += step) {
            size_t n = strlen(in) - off < step ? strlen(in) - off : step;
            ms_linebuf_feed(&lb, (const uint8_t *)in + off, n);
        }
        ms_linebuf_free(&lb);
        /* Concatenate the raw pieces: they must be exactly "ab\ncd". */
        char raw[16] = "";
        size_t at = 0;
        for (const char *p = strstr(c.r.log, "--r["); p; p = strstr(p + 1, "--r[")) {
            const char *e = strchr(p + 4, ']');
            memcpy(raw + at, p + 4, (size_t)(e - p - 4));
            at += (size_t)(e - p - 4);
        }
        raw[at] = '\0';
        assert_string_equal(raw, "ab\ncd");
        assert_non_null(strstr(c.r.log, "---[X\n]"));
    }
}

static void test_reset_drops_partial(void **state)
{
    (void)state;
    struct rec r;
    memset(&r, 0, sizeof(r));
    struct ms_linebuf lb;
    ms_linebuf_init(&lb, 64, on_line, &r);
    ms_linebuf_feed(&lb, (const uint8_t *)"half", 4);
    ms_linebuf_reset(&lb);
    ms_linebuf_feed(&lb, (const uint8_t *)"new\n", 4);
    ms_linebuf_free(&lb);
    assert_string_equal(r.log, "---[new\n]");
    assert_int_equal(ms_line_strip((const uint8_t *)"ab\r\n", 4), 2);
    assert_int_equal(ms_line_strip((const uint8_t *)"ab\n", 3), 2);
    assert_int_equal(ms_line_strip((const uint8_t *)"ab", 2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_keep_terminators),
        cmocka_unit_test(test_long_line_fragments_same_for_any_chunking),
        cmocka_unit_test(test_cap_boundaries),
        cmocka_unit_test(test_raw_run),
        cmocka_unit_test(test_reset_drops_partial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
