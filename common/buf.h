/* Growable byte buffer with a hard cap fixed at init (curl dynbuf style). */
#ifndef MS_BUF_H
#define MS_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "rc.h"

struct ms_buf {
    uint8_t *p;
    size_t len, cap, max;
};

void ms_buf_init(struct ms_buf *b, size_t max);
/* Appends all n bytes, or nothing: MS_ERR_LIMIT past max, MS_ERR_NOMEM. */
enum ms_rc ms_buf_append(struct ms_buf *b, const void *d, size_t n);
/* Appends as much as fits under max; returns how many bytes were taken. */
size_t ms_buf_append_some(struct ms_buf *b, const void *d, size_t n);
void ms_buf_reset(struct ms_buf *b); /* len = 0, keeps memory */
void ms_buf_free(struct ms_buf *b);  /* safe on a zeroed or freed buffer */

#endif
