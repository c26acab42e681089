#include "progress.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/limits.h"
#include "../common/utf8.h"
#include "text.h"

struct ms_progress {
    pthread_mutex_t mu;
    int fd;
    bool shown; /* the line is on the terminal now */
    char line[MS_PROGRESS_LINE_MAX];
};

/* A terminal write: short writes go on, errors are let go (a progress line
 * is worth no failure). */
static void put(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Back to the line's start, and clear it ("\r", then EL: erase in line). */
static const char ERASE[] = "\r\033[K";

struct ms_progress *ms_progress_new(int fd)
{
    struct ms_progress *p = ms_calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->fd = fd;
    return p;
}

void ms_progress_set(struct ms_progress *p, const char *line)
{
    /* A writer blocked on the terminal (a scroll lock) holds the lock:
     * this update is skipped rather than stopping the reader. */
    if (!p || pthread_mutex_trylock(&p->mu) != 0)
        return;
    /* A file name may hold anything: what the text view escapes (controls,
     * invalid UTF-8, C1 controls, bidi overrides, invisible characters:
     * ms_text_steers) becomes '?' per byte, and a cut falls between UTF-8
     * characters. */
    size_t n = strnlen(line, sizeof(p->line) - 1);
    if (n == sizeof(p->line) - 1)
        while (n > 0 && ((unsigned char)line[n] & 0xc0) == 0x80)
            n--;
    const uint8_t *u = (const uint8_t *)line;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = ms_utf8_seq(u + i, n - i, &cp);
        bool bad = k == 0 || cp < 0x20 || cp == 0x7f || ms_text_steers(cp);
        if (k == 0)
            k = 1;
        for (size_t j = 0; j < k; j++)
            p->line[i + j] = line[i + j];
        if (bad)
            memset(p->line + i, '?', k);
        i += k;
    }
    p->line[n] = '\0';
    put(p->fd, ERASE, sizeof(ERASE) - 1);
    put(p->fd, p->line, strlen(p->line));
    p->shown = true;
    pthread_mutex_unlock(&p->mu);
}

void ms_progress_clear(struct ms_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->shown)
        put(p->fd, ERASE, sizeof(ERASE) - 1);
    p->shown = false;
    pthread_mutex_unlock(&p->mu);
}

void ms_progress_pause(struct ms_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->shown)
        put(p->fd, ERASE, sizeof(ERASE) - 1);
}

void ms_progress_resume(struct ms_progress *p)
{
    if (!p)
        return;
    if (p->shown)
        put(p->fd, p->line, strlen(p->line));
    pthread_mutex_unlock(&p->mu);
}

void ms_progress_warn(struct ms_progress *p, const char *fmt, ...)
{
    ms_progress_pause(p);
    va_list ap;
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fflush(stderr); /* on the terminal before the line comes back */
    ms_progress_resume(p);
}

void ms_progress_free(struct ms_progress *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->mu);
    ms_free(p);
}
