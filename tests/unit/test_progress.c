/* The progress line (output/progress.h) as the terminal gets it: a file
 * name's C0 and C1 controls, DEL, invalid UTF-8, bidi overrides and
 * isolates, line separators and invisible characters each become '?' per
 * byte (the text view's rule, ms_text_steers); other UTF-8 passes; a line
 * cut to MS_PROGRESS_LINE_MAX ends between characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "../../common/limits.h"
#include "../../output/progress.h"

static const char ERASE[] = "\r\033[K";

/* What ms_progress_set writes for line, after the erase. */
static void drawn(const char *line, char *out, size_t outlen)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    struct ms_progress *p = ms_progress_new(fd[1]);
    assert_non_null(p);
    ms_progress_set(p, line);
    ms_progress_free(p);
    close(fd[1]);
    char buf[2 * MS_PROGRESS_LINE_MAX];
    ssize_t n = read(fd[0], buf, sizeof(buf) - 1);
    close(fd[0]);
    assert_true(n >= (ssize_t)strlen(ERASE));
    buf[n] = '\0';
    assert_memory_equal(buf, ERASE, strlen(ERASE));
    assert_true(strlen(buf + strlen(ERASE)) < outlen);
    memcpy(out, buf + strlen(ERASE), strlen(buf + strlen(ERASE)) + 1);
}

static void same(const char *line, const char *want)
{
    char got[2 * MS_PROGRESS_LINE_MAX];
    drawn(line, got, sizeof(got));
    assert_string_equal(got, want);
}

static void test_escapes(void **state)
{
    (void)state;
    same("a\x1b[2Jb.pcap: 1 kB", "a?[2Jb.pcap: 1 kB"); /* C0: ESC */
    same("a\x7f"
         "b",
         "a?b"); /* DEL */
    same("a\xc2\x9b"
         "2Jb",
         "a??2Jb"); /* C1: 8-bit CSI */
    /* U+202E RLO (written as bytes: the check sees the character) */
    same("x2J\xe2\x80\xaegnp.pcap", "x2J???gnp.pcap"); // NOLINT(misc-misleading-bidirectional)
    same("a\xe2\x81\xa6"
         "b\xe2\x81\xa9",
         "a???b???"); /* U+2066, U+2069 */
    same("a\xe2\x80\x8f"
         "b\xd8\x9c",
         "a???b??");                               /* U+200F RLM, U+061C */
    same("user\xe2\x80\x8b.pcap", "user???.pcap"); /* U+200B ZWSP */
    same("a\xef\xbb\xbf"
         "b\xc2\xad",
         "a???b??"); /* U+FEFF, U+00AD */
    same("a\xe2\x80\xa8"
         "b",
         "a???b"); /* U+2028 */
    same("a\xff"
         "b\xed\xa0\x80",
         "a?b???"); /* invalid, a surrogate */
    same("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.pcap", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.pcap");
}

static void test_cut(void **state)
{
    (void)state;
    /* Three-byte characters across the cut: whole ones only, none
     * turned to '?'. */
    char line[3 * MS_PROGRESS_LINE_MAX];
    size_t n = 0;
    line[n++] = 'x';
    while (n + 3 < sizeof(line)) {
        memcpy(line + n, "\xe6\x97\xa5", 3);
        n += 3;
    }
    line[n] = '\0';
    char got[2 * MS_PROGRESS_LINE_MAX];
    drawn(line, got, sizeof(got));
    size_t len = strlen(got);
    assert_true(len < MS_PROGRESS_LINE_MAX && len + 3 >= MS_PROGRESS_LINE_MAX - 1);
    assert_int_equal((len - 1) % 3, 0);
    assert_null(strchr(got, '?'));
    assert_memory_equal(got, line, len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
