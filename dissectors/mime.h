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
/* The message's content was cut here (capture gap, cap, end of capture):
 * the message is truncated, and so is the attachment being parsed now (its
 * leaf open, or its header block being read), even if its boundary closes
 * it later; attachments closed before stay complete, and a leaf the end of
 * the message closes is truncated. Call it when the bytes are lost (at the
 * gap), not when the message ends, or a leaf that was open during the gap
 * and closed after it would look complete. The max_message cut in
 * ms_mime_feed does the same by itself. */
void ms_mime_set_truncated(struct ms_mime *m);
/* The same, for a hole in the capture: the attachment being parsed also
 * says it had a gap (Suricata's fileinfo "gaps"). */
void ms_mime_set_gap(struct ms_mime *m);
/* Only part of the message is transferred (POP3 TOP, IMAP partial or
 * section fetches): a leaf that the end of the message closes (no closing
 * boundary) is then truncated. The message's own truncated is not set.
 * Call before or at ms_mime_finish. */
void ms_mime_set_partial(struct ms_mime *m);
/* Ends the message and fills the header, size, hash, attachment,
 * body_excerpt, urls, mime_errors and eml_file fields of *out (command,
 * envelope, accepted and partial are left untouched). An attachment is
 * truncated when its decoded content may be incomplete: a cut while it was
 * open (above), or the end of the message closed it after a cut or in a
 * partial transfer; a leaf its boundary closed with no cut is complete.
 * Pointers in *out stay valid until ms_mime_free. Call once. */
void ms_mime_finish(struct ms_mime *m, struct ms_ev_email *out);
/* True once an allocation failed: parsing stopped there (the hash and size
 * still cover every byte fed), and ms_mime_finish reports the message
 * truncated. */
bool ms_mime_failed(const struct ms_mime *m);
void ms_mime_free(struct ms_mime *m); /* NULL is a no-op */

#endif
