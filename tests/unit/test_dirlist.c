/* Unit tests for app/dirlist.c (-r DIR): which entries of a folder are
 * read (regular files and links to them; not hidden files, subfolders,
 * links to folders, pipes), in strcmp order of their names, joined to the
 * folder's path without a doubled slash; a dangling link is kept (opening
 * it then says why it is skipped); several folders append; a folder that
 * cannot be read is MS_ERR_IO with its name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/dirlist.h"

static char base[] = "/tmp/test_dirlist.XXXXXX";

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", base, name);
}

static void touch(const char *name)
{
    char p[512];
    path_of(p, sizeof(p), name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_true(fputs("x", f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(base))
        return -1;
    char p[512];
    path_of(p, sizeof(p), "d");
    mkdir(p, 0700);
    touch("d/b.pcap");
    touch("d/B.pcap");
    touch("d/10.pcap");
    touch("d/9.pcap");
    touch("d/a b.pcap.gz");
    touch("d/.hidden.pcap");
    path_of(p, sizeof(p), "d/sub");
    mkdir(p, 0700);
    touch("d/sub/inner.pcap");
    path_of(p, sizeof(p), "d/fifo");
    mkfifo(p, 0600);
    path_of(p, sizeof(p), "d/link-to-file");
    symlink("b.pcap", p);
    path_of(p, sizeof(p), "d/link-to-dir");
    symlink("sub", p);
    path_of(p, sizeof(p), "d/link-dangling");
    symlink("nowhere", p);
    path_of(p, sizeof(p), "empty");
    mkdir(p, 0700);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    /* Depth first, links not followed. */
    return nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_listing(void **state)
{
    (void)state;
    char dir[512], want[600];
    path_of(dir, sizeof(dir), "d");
    static const char *names[] = { "10.pcap", "9.pcap",        "B.pcap",      "a b.pcap.gz",
                                   "b.pcap",  "link-dangling", "link-to-file" };
    const size_t nn = sizeof(names) / sizeof(names[0]);
    for (int slash = 0; slash < 2; slash++) {
        struct ms_dirlist dl = { 0 };
        char arg[520];
        snprintf(arg, sizeof(arg), "%s%s", dir, slash ? "/" : "");
        char err[256];
        assert_int_equal(ms_dirlist_add(&dl, arg, err, sizeof(err)), MS_OK);
        assert_int_equal(dl.n, nn);
        for (size_t i = 0; i < nn; i++) {
            snprintf(want, sizeof(want), "%s/%s", dir, names[i]);
            assert_string_equal(dl.paths[i], want);
        }
        ms_dirlist_free(&dl);
        assert_null(dl.paths);
        assert_int_equal(dl.n, 0);
    }
    ms_dirlist_free(NULL);
}

static void test_append_and_errors(void **state)
{
    (void)state;
    char d[512], sub[512], empty[512], missing[512], err[256];
    path_of(d, sizeof(d), "d");
    path_of(sub, sizeof(sub), "d/sub");
    path_of(empty, sizeof(empty), "empty");
    path_of(missing, sizeof(missing), "missing");
    assert_true(ms_dirlist_is_dir(d));
    assert_true(ms_dirlist_is_dir(sub));
    path_of(err, sizeof(err), "d/link-to-dir");
    assert_true(ms_dirlist_is_dir(err));
    path_of(err, sizeof(err), "d/b.pcap");
    assert_false(ms_dirlist_is_dir(err));
    assert_false(ms_dirlist_is_dir(missing));

    struct ms_dirlist dl = { 0 };
    assert_int_equal(ms_dirlist_add(&dl, sub, err, sizeof(err)), MS_OK);
    assert_int_equal(dl.n, 1);
    char *first = dl.paths[0];
    assert_int_equal(ms_dirlist_add(&dl, empty, err, sizeof(err)), MS_OK);
    assert_int_equal(dl.n, 1);
    assert_int_equal(ms_dirlist_add(&dl, missing, err, sizeof(err)), MS_ERR_IO);
    assert_non_null(strstr(err, missing));
    assert_int_equal(dl.n, 1);
    assert_int_equal(ms_dirlist_add(&dl, d, err, sizeof(err)), MS_OK);
    assert_int_equal(dl.n, 8);
    /* The earlier paths stay where they were: a pipeline names its source
     * with one. */
    assert_ptr_equal(dl.paths[0], first);
    assert_string_equal(strrchr(dl.paths[1], '/'), "/10.pcap");
    ms_dirlist_free(&dl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listing),
        cmocka_unit_test(test_append_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
