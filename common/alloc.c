#include "alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Test only (alloc.h): NULL unless a test installed a hook on this thread.
 * Each wrapper tests it once; all the rest is the slow path below. */
static _Thread_local struct ms_alloc_hook *hook;

void ms_alloc_set_hook(struct ms_alloc_hook *h)
{
    hook = h;
}

/* Counts the call; true when it is the one to fail. */
static bool hook_fails(void)
{
    hook->calls++;
    if (hook->calls != hook->fail_at)
        return false;
    hook->failed++;
    errno = ENOMEM;
    return true;
}

/* A new block (p non-NULL) is live until ms_free. */
static void *hook_took(void *p)
{
    if (p)
        hook->live++;
    return p;
}

void *ms_malloc(size_t n)
{
    if (__builtin_expect(hook != NULL, 0))
        return hook_fails() ? NULL : hook_took(malloc(n));
    return malloc(n);
}

void *ms_calloc(size_t nmemb, size_t size)
{
    if (__builtin_expect(hook != NULL, 0))
        return hook_fails() ? NULL : hook_took(calloc(nmemb, size));
    return calloc(nmemb, size);
}

/* A failed realloc leaves p allocated, as libc's does. */
void *ms_realloc(void *p, size_t n)
{
    if (__builtin_expect(hook != NULL, 0)) {
        if (hook_fails())
            return NULL;
        void *np = realloc(p, n);
        if (p && n == 0)
            hook->live--; /* glibc frees p and returns NULL */
        return p ? np : hook_took(np);
    }
    return realloc(p, n);
}

char *ms_strdup(const char *s)
{
    if (__builtin_expect(hook != NULL, 0))
        return hook_fails() ? NULL : hook_took(strdup(s));
    return strdup(s);
}

void ms_free(void *p)
{
    if (__builtin_expect(hook != NULL, 0) && p)
        hook->live--;
    free(p);
}
