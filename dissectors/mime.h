/* Streaming RFC 5322 / MIME (RFC 2045-2047, 2231) message parser.
 * Fed the bytes of one message exactly as transferred (after SMTP/POP3
 * dot-unstuffing, or an IMAP literal), in chunks of any size; it never keeps
 * more than one bounded line plus decoder state. It extracts the headers the
 * email event reports, hashes and measures the whole message, and hashes each
 * attachment's decoded content. Split-invariant: any chunking gives the same
 * result. It also reports MIME damage (mime_errors), URLs found in text
 * parts, a bounded excerpt of the first text part (lim->body_excerpt), and
 * feeds the sink's message tap, if any (--extract; see common/event.h). */
#ifndef MS_MIME_H
#define MS_MIME_H

#include <stddef.h>
#include <stdint.h>
#include "../common/event.h"
#include "../common/limits.h"
#include "../common/rc.h"

struct ms_mime;

/* NULL when out of memory. lim is copied; sink (may be NULL) must outlive
 * the parser: its tap, if any, is given the message content. */
struct ms_mime *ms_mime_new(const struct ms_limits *lim, const struct ms_sink *sink);
/* Consumes all n bytes. MS_ERR_NOMEM is sticky; parsing stops. */
enum ms_rc ms_mime_feed(struct ms_mime *m, const uint8_t *p, size_t n);
/* The message was cut short (capture gap, cap, end of capture). */
void ms_mime_set_truncated(struct ms_mime *m);
/* Ends the message and fills the header, size, hash, attachment,
 * body_excerpt, urls, mime_errors and eml_file fields of *out (command,
 * envelope, accepted and partial are left untouched). Pointers in *out stay
 * valid until ms_mime_free. Call once. */
void ms_mime_finish(struct ms_mime *m, struct ms_ev_email *out);
void ms_mime_free(struct ms_mime *m); /* NULL is a no-op */

#endif
