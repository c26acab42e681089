/* Split-invariance harness: runs a dissector over a transcript fed whole,
 * byte by byte, and with every chunk split at every offset, recording the
 * events as text so the runs can be compared exactly. */
#ifndef MS_TEST_SPLIT_H
#define MS_TEST_SPLIT_H

#include <stddef.h>
#include "../../common/buf.h"
#include "../../dissectors/dissector.h"

struct ms_chunk {
    unsigned dir;     /* MS_TO_SERVER or MS_TO_CLIENT */
    const char *data; /* may hold NULs when len is given */
    size_t len;       /* 0: strlen(data) */
    uint64_t gap;     /* > 0: a reassembly gap of this many bytes instead */
};

/* Transcript literals: a client line, a server line, one given with its
 * length (it holds NULs), a gap; N counts an array's chunks. */
#define C(s)                             \
    {                                    \
        .dir = MS_TO_SERVER, .data = (s) \
    }
#define S(s)                             \
    {                                    \
        .dir = MS_TO_CLIENT, .data = (s) \
    }
#define CN(s)                                                  \
    {                                                          \
        .dir = MS_TO_SERVER, .data = (s), .len = sizeof(s) - 1 \
    }
#define GAP(d, n)              \
    {                          \
        .dir = (d), .gap = (n) \
    }
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Records an event in the log (user: the struct ms_buf being built). */
typedef void (*ms_test_recorder)(void *user, const struct ms_event *ev);

/* Feeds the transcript in the given mode and returns the event log
 * (malloc'd, NUL-terminated; the caller frees). split == 0: whole chunks;
 * split == 1: byte by byte; split == k > 1: every chunk cut at k - 1. */
char *ms_test_run(const struct ms_dissector *d, const struct ms_limits *lim,
                  const struct ms_chunk *chunks, size_t n, size_t split);

/* Runs every mode and asserts (cmocka) that all give the whole-chunk log;
 * returns that log (caller frees). */
char *ms_test_run_all(const struct ms_dissector *d, const struct ms_limits *lim,
                      const struct ms_chunk *chunks, size_t n);

/* The same with a recorder of the test's own, for fields the common log
 * leaves out. */
char *ms_test_run_with(const struct ms_dissector *d, const struct ms_limits *lim,
                       const struct ms_chunk *chunks, size_t n, size_t split, ms_test_recorder rec);
char *ms_test_run_all_with(const struct ms_dissector *d, const struct ms_limits *lim,
                           const struct ms_chunk *chunks, size_t n, ms_test_recorder rec);

#endif
