/* Header-value helpers for the MIME parser (and anyone reading RFC 5322
 * headers): RFC 2047 encoded words, RFC 2045/2183/2231 parameters, address
 * lists, and charset conversion to UTF-8 (glibc iconv).
 *
 * Inputs are (pointer, length) spans of an unfolded header value. Results are
 * appended to a caller's ms_buf; when its cap cuts a result, what fit is kept
 * (never ending inside a UTF-8 sequence) and MS_ERR_LIMIT is returned.
 * Every function returns valid UTF-8: bytes that are not are replaced by
 * U+FFFD. */
#ifndef MS_MIME_HDR_H
#define MS_MIME_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/buf.h"
#include "../common/rc.h"

/* Unstructured text (Subject, display names): decodes encoded words, joins
 * adjacent ones, copies the rest. */
enum ms_rc ms_mime_hdr_decode(const uint8_t *p, size_t n, struct ms_buf *out);

/* Copies p as UTF-8, replacing invalid sequences with U+FFFD. */
enum ms_rc ms_mime_hdr_utf8(const uint8_t *p, size_t n, struct ms_buf *out);

/* Converts text in charset cs (e.g. "ISO-8859-1", "gb2312", may carry an
 * RFC 2231 "*lang" suffix) to UTF-8. MS_ERR_PROTO, with out untouched,
 * when iconv does not know the charset. */
enum ms_rc ms_mime_hdr_to_utf8(const uint8_t *cs, size_t cslen, const uint8_t *p, size_t n,
                               struct ms_buf *out);

/* The value before the parameters, e.g. "multipart/mixed" or "attachment",
 * trimmed, as a span of p (not lower-cased). */
void ms_mime_hdr_value(const uint8_t *p, size_t n, const uint8_t **v, size_t *vlen);

#define MS_MIME_PARAM_RAW 0x0u /* boundary: keep bytes as they are */
#define MS_MIME_PARAM_TEXT \
    0x1u /* filename, name: decode to UTF-8, also
                                      RFC 2047 words in quoted values */

/* Finds parameter `name` (case-insensitive) of a Content-Type or
 * Content-Disposition value and appends its value to out: quoted-string
 * unescaped, RFC 2231 continuations joined and charset-decoded. *found tells
 * whether it was there at all. */
enum ms_rc ms_mime_hdr_param(const uint8_t *p, size_t n, const char *name, unsigned flags,
                             struct ms_buf *out, bool *found);

/* Address-list iterator (RFC 5322 §3.4): the next comma-separated item that
 * is outside quotes, <angle brackets> and (comments), trimmed. *pos starts at
 * 0. Empty items are skipped; false at the end. */
bool ms_mime_hdr_addr_next(const uint8_t *p, size_t n, size_t *pos, const uint8_t **a,
                           size_t *alen);

#endif
