#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

void ms_buf_init(struct ms_buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

/* Grows geometrically but never beyond max, so a hostile peer cannot make
 * one buffer cost more than its cap. */
static enum ms_rc grow(struct ms_buf *b, size_t need)
{
    if (need <= b->cap)
        return MS_OK;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > b->max / 2 ? b->max : ncap * 2;
    if (ncap < need)
        ncap = need;
    uint8_t *np = ms_realloc(b->p, ncap);
    if (!np)
        return MS_ERR_NOMEM;
    b->p = np;
    b->cap = ncap;
    return MS_OK;
}

enum ms_rc ms_buf_append(struct ms_buf *b, const void *d, size_t n)
{
    if (n == 0)
        return MS_OK;
    if (n > b->max || b->len > b->max - n)
        return MS_ERR_LIMIT;
    enum ms_rc rc = grow(b, b->len + n);
    if (rc != MS_OK)
        return rc;
    memcpy(b->p + b->len, d, n);
    b->len += n;
    return MS_OK;
}

enum ms_rc ms_buf_append_some(struct ms_buf *b, const void *d, size_t n)
{
    size_t room = b->len < b->max ? b->max - b->len : 0;
    size_t take = n < room ? n : room;
    if (take && ms_buf_append(b, d, take) != MS_OK)
        return MS_ERR_NOMEM;
    return take < n ? MS_ERR_LIMIT : MS_OK;
}

enum ms_rc ms_buf_reserve(struct ms_buf *b, size_t n)
{
    size_t room = b->len < b->max ? b->max - b->len : 0;
    return grow(b, b->len + (n < room ? n : room));
}

void ms_buf_reset(struct ms_buf *b)
{
    b->len = 0;
}

void ms_buf_free(struct ms_buf *b)
{
    ms_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
