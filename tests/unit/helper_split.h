/* Split-invariance harness: runs a dissector over a transcript fed whole,
 * byte by byte, and with every chunk split at every offset, recording the
 * events as text so the runs can be compared exactly. */
#ifndef MS_TEST_SPLIT_H
#define MS_TEST_SPLIT_H

#include <stddef.h>
#include "../../common/buf.h"
#include "../../dissectors/dissector.h"

struct ms_chunk {
    unsigned dir;       /* MS_DIR_TO_SERVER or MS_DIR_TO_CLIENT */
    const char *data;   /* may hold NULs when len is given */
    size_t len;         /* 0: strlen(data) */
    uint64_t gap;       /* > 0: a reassembly gap of this many bytes instead */
};

/* Feeds the transcript in the given mode and returns the event log
 * (malloc'd, NUL-terminated; the caller frees). split == 0: whole chunks;
 * split == 1: byte by byte; split == k > 1: every chunk cut at k - 1. */
char *ms_test_run(const struct ms_dissector *d, const struct ms_limits *lim,
                  const struct ms_chunk *chunks, size_t n, size_t split);

/* Runs every mode and asserts (cmocka) that all give the whole-chunk log;
 * returns that log (caller frees). */
char *ms_test_run_all(const struct ms_dissector *d, const struct ms_limits *lim,
                      const struct ms_chunk *chunks, size_t n);

#endif
