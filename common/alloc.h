/* Every allocation of mailspill's own code goes through these wrappers
 * (scripts/check-src.sh bans malloc, calloc, realloc and strdup elsewhere
 * in the sources), so that a test can make any one of them fail
 * (tests/alloc/alloc_fail.c: curl's torture test, Suricata's nallocinc).
 * They behave as their libc namesakes; ms_free is free() for what they
 * returned. Allocations made inside nDPI, json-c, libpcap and OpenSSL do
 * not come here.
 *
 * What a failure must lead to (GUIDE: errors): a clean error return
 * (MS_ERR_NOMEM, a constructor's NULL), or a flow or message dropped with
 * an out_of_memory anomaly; never a crash, a leak, or a part of something
 * reported as if it were the whole. */
#ifndef MS_ALLOC_H
#define MS_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *ms_malloc(size_t n);
void *ms_calloc(size_t nmemb, size_t size);
void *ms_realloc(void *p, size_t n);
char *ms_strdup(const char *s);
void ms_free(void *p);

/* ---- test only ---------------------------------------------------------
 * The one exception to "no global mutable state": a thread-local pointer
 * to a hook the test owns. Unset (NULL, always outside the tests), each
 * wrapper pays one predictable branch. Set, every call of an allocating
 * wrapper on this thread is counted in it, and the one numbered fail_at
 * fails as the system would when out of memory (NULL, errno ENOMEM). */
struct ms_alloc_hook {
    uint64_t calls;   /* allocating calls so far (ms_realloc included) */
    uint64_t fail_at; /* the call that fails, counting from 1; 0: none */
    uint64_t failed;  /* calls made to fail (0 or 1) */
    int64_t live;     /* blocks allocated since the hook was set, less those
                         freed (ms_free of non-NULL): 0 after a clean teardown */
};

/* Installs h for this thread (NULL: removes it); h stays the caller's. */
void ms_alloc_set_hook(struct ms_alloc_hook *h);

#endif
