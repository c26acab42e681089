/* Bounded command FIFO (cmdfifo.h). */
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "cmdfifo.h"

enum ms_rc ms_cmdfifo_init(struct ms_cmdfifo *f, size_t cap, size_t size)
{
    memset(f, 0, sizeof(*f));
    f->cap = cap ? cap : 1;
    f->size = size;
    f->slot = ms_calloc(f->cap, size);
    return f->slot ? MS_OK : MS_ERR_NOMEM;
}

bool ms_cmdfifo_push(struct ms_cmdfifo *f, const void *rec, void *dropped)
{
    bool full = f->len == f->cap;
    if (full) {
        /* A client may pipeline, but not without bound: forget the oldest
         * so that a flood cannot grow state. */
        ms_cmdfifo_pop(f, dropped);
    }
    memcpy(f->slot + ((f->head + f->len) % f->cap) * f->size, rec, f->size);
    f->len++;
    return full;
}

bool ms_cmdfifo_pop(struct ms_cmdfifo *f, void *out)
{
    if (f->len == 0)
        return false;
    memcpy(out, f->slot + f->head * f->size, f->size);
    f->head = (f->head + 1) % f->cap;
    f->len--;
    return true;
}

const void *ms_cmdfifo_peek(const struct ms_cmdfifo *f)
{
    return f->len ? f->slot + f->head * f->size : NULL;
}

void *ms_cmdfifo_at(struct ms_cmdfifo *f, size_t i)
{
    return i < f->len ? f->slot + ((f->head + i) % f->cap) * f->size : NULL;
}

void ms_cmdfifo_clear(struct ms_cmdfifo *f)
{
    f->head = 0;
    f->len = 0;
}

void ms_cmdfifo_free(struct ms_cmdfifo *f)
{
    ms_free(f->slot);
    f->slot = NULL;
    f->len = 0;
}
