/* Quoted-printable decoding (RFC 2045 §6.7), streaming.
 *
 * State lives in struct ms_qp, so input can be cut anywhere with the same
 * result. "=XX" (either hex case) becomes a byte, "=" at the end of a line is
 * a soft line break (also "=" followed by trailing blanks, and "=" at the very
 * end of the data, whose line break went to a MIME boundary), hard line breaks
 * are passed through as they came (CRLF or LF), and blanks at the end of a
 * line are deleted (rule 3). A malformed "=" is passed through literally and
 * counted in `invalid`.
 *
 *   struct ms_qp s; ms_qp_init(&s);
 *   n = ms_qp_decode(&s, in, len, out);   out: MS_QP_OUT_MAX(len) bytes
 *   n = ms_qp_finish(&s, out);            out: MS_QP_HOLD bytes
 */
#ifndef MS_QP_H
#define MS_QP_H

#include <stddef.h>
#include <stdint.h>
#include "limits.h"

/* Blanks held back to see whether they end a line: MS_QP_WS_MAX
 * (common/limits.h); the excess is passed on. */

struct ms_qp {
    unsigned state;           /* internal, see qp.c */
    uint8_t hex1;             /* first digit of "=X?" */
    uint8_t ws[MS_QP_WS_MAX]; /* held blanks */
    size_t nws;
    uint64_t invalid; /* malformed "=" sequences */
};

/* Most bytes the decoder can hold back between calls. */
#define MS_QP_HOLD (MS_QP_WS_MAX + 3)
/* Upper bound of what one ms_qp_decode call writes for n input bytes. */
#define MS_QP_OUT_MAX(n) ((n) + MS_QP_HOLD)

void ms_qp_init(struct ms_qp *s);
size_t ms_qp_decode(struct ms_qp *s, const uint8_t *in, size_t n, uint8_t *out);
/* Ends the stream: writes what is held that belongs to the output and
 * resets the state (invalid is kept). */
size_t ms_qp_finish(struct ms_qp *s, uint8_t *out);

#endif
