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
/* Appends as much as fits under max: MS_OK when all n bytes were taken,
 * MS_ERR_LIMIT when max cut them (what fits was taken), MS_ERR_NOMEM when
 * nothing was taken for lack of memory. A cut is data past a cap (keep the
 * head, say truncated); out of memory is a failure, never a cut: what is
 * missing then was not cut off by any rule, so the head alone is not the
 * truth and callers drop it (GUIDE: dropped, with out_of_memory). */
enum ms_rc ms_buf_append_some(struct ms_buf *b, const void *d, size_t n);
/* Makes room for n more bytes (as many as max leaves), so that appending
 * them cannot fail for lack of memory; MS_ERR_NOMEM when the room cannot
 * be had. For a buffer filled through helpers that report any failure as
 * a cut (dissectors/ntlm.h). */
enum ms_rc ms_buf_reserve(struct ms_buf *b, size_t n);
void ms_buf_reset(struct ms_buf *b); /* len = 0, keeps memory */
void ms_buf_free(struct ms_buf *b);  /* safe on a zeroed or freed buffer */

#endif
