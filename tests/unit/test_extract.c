/* Unit tests for output/extract.c (--extract): file names, modes, the
 * no-overwrite rule, the byte cap at max-1/max/max+1, and failures turned
 * into anomalies. Each test works in its own fresh temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/limits.h"
#include "dissectors/mime.h"
#include "output/extract.h"

/* ---- helpers --------------------------------------------------------- */

struct seen {
    char codes[8][48];
    size_t n;
};

static void record(void *user, const struct ms_event *ev)
{
    struct seen *s = user;
    assert_int_equal(ev->kind, MS_EV_ANOMALY);
    assert_string_equal(ev->u.anomaly.type, "extract");
    assert_non_null(ev->u.anomaly.detail.p);
    assert_true(s->n < 8);
    snprintf(s->codes[s->n++], sizeof(s->codes[0]), "%s", ev->u.anomaly.code);
}

static char *mkdir_tmp(void)
{
    char tmpl[] = "/tmp/ms-test-extract-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything in it, depth first, without following the
 * symlinks the tests plant. */
static void rm_tmp(char *dir)
{
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    assert_false(ferror(f));
    assert_int_equal(fclose(f), 0);
    return n;
}

static void assert_mode_0600(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
}

static void assert_bytes_str(struct ms_bytes b, const char *s)
{
    assert_non_null(b.p);
    assert_int_equal(b.len, strlen(s));
    assert_memory_equal(b.p, s, b.len);
}

static const char msg1[] =
    "Subject: x\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "hello\r\n"
    "--b\r\n"
    "Content-Disposition: attachment; filename=\"..\\\\..\\\\Windows\\\\evil file\x01.exe\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "aGVsbG8gd29ybGQ=\r\n" /* "hello world" */
    "--b\r\n"
    "Content-Disposition: attachment\r\n\r\n"
    "noname\r\n"
    "--b--\r\n";

/* Runs msg through a MIME parser whose sink has the extractor's tap. */
static void run_msg(struct ms_extract *x, uint64_t flow_id, const char *msg, size_t n,
                    struct seen *seen, struct ms_ev_email *ev, struct ms_mime **keep)
{
    struct ms_limits lim = ms_limits_default();
    static struct ms_msg_tap tap;
    static struct ms_sink sink;

    ms_extract_tap(x, &tap);
    tap.flow_id = flow_id;
    sink.emit = record;
    sink.user = seen;
    sink.tap = &tap;
    struct ms_mime *m = ms_mime_new(&lim, &sink);
    assert_non_null(m);
    /* In small pieces, as a dissector would feed it. */
    for (size_t off = 0; off < n; off += 5)
        assert_int_equal(ms_mime_feed(m, (const uint8_t *)msg + off, n - off < 5 ? n - off : 5),
                         MS_OK);
    memset(ev, 0, sizeof(*ev));
    ms_mime_finish(m, ev);
    *keep = m;
}

/* ---- tests ----------------------------------------------------------- */

static void check_safe(const char *in, const char *want)
{
    char out[80];
    size_t n = ms_extract_safe_name((const uint8_t *)in, strlen(in), out, sizeof(out));
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, want);
}

static void test_safe_names(void **state)
{
    (void)state;
    check_safe("report.pdf", "report.pdf");
    check_safe("../../etc/passwd", "passwd");
    check_safe("..\\..\\Windows\\evil.exe", "evil.exe");
    check_safe(".bashrc", "bashrc");
    check_safe("...", "attachment");
    check_safe("", "attachment");
    check_safe("/", "attachment");
    check_safe("a\x01\x1b[31mb.txt", "a_31mb.txt");
    check_safe("r\xc3\xa9sum\xc3\xa9 final.doc", "r_sum_final.doc");
    check_safe("x.tar.gz", "x.tar.gz");
    check_safe("name.", "name");
    check_safe("-rf", "-rf"); /* harmless: the name is always prefixed */
    check_safe("a.ext with space", "a.ext_with_space");

    /* Length: max-1, max, max+1 (64), the extension kept. */
    char in[200], want[80];
    for (size_t len = 63; len <= 65; len++) {
        memset(in, 'a', len - 4);
        memcpy(in + len - 4, ".pdf", 5);
        size_t keep = len <= 64 ? len : 64;
        memset(want, 'a', keep - 4);
        memcpy(want + keep - 4, ".pdf", 5);
        check_safe(in, want);
    }
    /* An "extension" too long to be one is just cut. */
    memset(in, 'b', 100);
    in[0] = '.';
    in[1] = 'c';
    in[100] = '\0';
    memset(want, 'b', 64);
    want[0] = 'c';
    want[64] = '\0';
    check_safe(in, want);
    /* A small output buffer still gets a terminated, bounded name. */
    char small[6];
    assert_int_equal(ms_extract_safe_name((const uint8_t *)"abcdef.pdf", 10, small, sizeof(small)),
                     5);
    assert_string_equal(small, "a.pdf");
}

static void test_extract_files(void **state)
{
    (void)state;
    char *dir = mkdir_tmp();
    char err[256], path[512];
    struct seen seen = { 0 };
    struct ms_ev_email ev;
    struct ms_mime *m;
    uint8_t buf[4096];

    struct ms_extract *x = ms_extract_open(dir, MS_EXTRACT_ATTACHMENTS, 1 << 20, err, sizeof(err));
    assert_non_null(x);
    run_msg(x, 123, msg1, strlen(msg1), &seen, &ev, &m);
    assert_int_equal(seen.n, 0);

    /* The .eml is the message byte for byte, named from flow and seq. */
    snprintf(path, sizeof(path), "%s/123-1.eml", dir);
    assert_bytes_str(ev.eml_file, path);
    assert_int_equal(read_file(path, buf, sizeof(buf)), strlen(msg1));
    assert_memory_equal(buf, msg1, strlen(msg1));
    assert_mode_0600(path);

    /* Attachments: decoded, safe names with the message's prefix. */
    assert_int_equal(ev.n_attachments, 2);
    snprintf(path, sizeof(path), "%s/123-1-1-evil_file.exe", dir);
    assert_bytes_str(ev.attachments[0].file, path);
    assert_int_equal(read_file(path, buf, sizeof(buf)), 11);
    assert_memory_equal(buf, "hello world", 11);
    assert_mode_0600(path);
    snprintf(path, sizeof(path), "%s/123-1-2-attachment", dir);
    assert_bytes_str(ev.attachments[1].file, path);
    assert_int_equal(read_file(path, buf, sizeof(buf)), 6);
    assert_mode_0600(path);
    ms_mime_free(m);

    /* The next message of the run gets the next number. */
    run_msg(x, 123, "Subject: y\r\n\r\nz\r\n", 17, &seen, &ev, &m);
    snprintf(path, sizeof(path), "%s/123-2.eml", dir);
    assert_bytes_str(ev.eml_file, path);
    ms_mime_free(m);
    assert_int_equal(ms_extract_files(x), 4);
    ms_extract_close(x);

    /* A second run into the same directory never overwrites: each
     * existing name is an anomaly, the old file stays as it was, and no
     * file is reported. A planted symlink is not followed either. */
    snprintf(path, sizeof(path), "%s/123-2.eml", dir);
    assert_int_equal(unlink(path), 0);
    char target[512];
    snprintf(target, sizeof(target), "%s/target", dir);
    FILE *t = fopen(target, "w");
    assert_non_null(t);
    assert_int_equal(fclose(t), 0);
    assert_int_equal(symlink(target, path), 0);

    x = ms_extract_open(dir, 0, 1 << 20, err, sizeof(err));
    assert_non_null(x);
    run_msg(x, 123, msg1, strlen(msg1), &seen, &ev, &m);
    assert_null(ev.eml_file.p);
    assert_null(ev.attachments[0].file.p); /* attachments not asked for */
    ms_mime_free(m);
    run_msg(x, 123, "Subject: y\r\n\r\nz\r\n", 17, &seen, &ev, &m);
    assert_null(ev.eml_file.p);
    ms_mime_free(m);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.codes[0], "extract_file_exists");
    assert_string_equal(seen.codes[1], "extract_file_exists");
    snprintf(path, sizeof(path), "%s/123-1.eml", dir);
    assert_int_equal(read_file(path, buf, sizeof(buf)), strlen(msg1));
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(ms_extract_files(x), 0);
    ms_extract_close(x);
    rm_tmp(dir);
}

/* The byte cap counts the bytes of every file kept; a file that would pass
 * it is removed and reported, and later smaller files still fit. */
static void test_extract_cap(void **state)
{
    (void)state;
    static const char small[] = "Subject: s\r\n\r\nsmall\r\n"; /* 21 bytes */
    size_t n = strlen(msg1);

    for (size_t cap = n - 1; cap <= n + 1; cap++) {
        char *dir = mkdir_tmp();
        char err[256];
        struct seen seen = { 0 };
        struct ms_ev_email ev;
        struct ms_mime *m;
        struct ms_extract *x = ms_extract_open(dir, 0, cap, err, sizeof(err));
        assert_non_null(x);
        run_msg(x, 9, msg1, n, &seen, &ev, &m);
        if (cap < n) {
            char path[512];
            assert_null(ev.eml_file.p);
            assert_int_equal(seen.n, 1);
            assert_string_equal(seen.codes[0], "extract_limit_reached");
            snprintf(path, sizeof(path), "%s/9-1.eml", dir);
            assert_int_equal(access(path, F_OK), -1); /* removed */
        } else {
            assert_non_null(ev.eml_file.p);
            assert_int_equal(seen.n, 0);
        }
        ms_mime_free(m);
        /* 21 more bytes fit only where the first message was refused. */
        run_msg(x, 9, small, strlen(small), &seen, &ev, &m);
        assert_int_equal(ev.eml_file.p != NULL, cap < n);
        ms_mime_free(m);
        ms_extract_close(x);
        rm_tmp(dir);
    }
}

static void test_extract_open(void **state)
{
    (void)state;
    char *dir = mkdir_tmp();
    char err[256], sub[512];
    struct stat st;

    /* Created (0700) when missing; a trailing slash is fine. */
    snprintf(sub, sizeof(sub), "%s/new/", dir);
    struct ms_extract *x = ms_extract_open(sub, 0, 100, err, sizeof(err));
    assert_non_null(x);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    struct ms_msg_tap tap;
    ms_extract_tap(x, &tap);
    assert_non_null(tap.msg_begin);
    assert_null(tap.att_begin);
    ms_extract_close(x);
    ms_extract_close(NULL);

    /* A path that cannot be a directory. */
    snprintf(sub, sizeof(sub), "%s/file", dir);
    FILE *f = fopen(sub, "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    err[0] = '\0';
    assert_null(ms_extract_open(sub, 0, 100, err, sizeof(err)));
    assert_true(strlen(err) > 0);
    snprintf(sub, sizeof(sub), "%s/missing/deeper", dir);
    assert_null(ms_extract_open(sub, 0, 100, err, sizeof(err)));
    rm_tmp(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safe_names),
        cmocka_unit_test(test_extract_files),
        cmocka_unit_test(test_extract_cap),
        cmocka_unit_test(test_extract_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
