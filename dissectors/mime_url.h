/* URL finder for the decoded text of MIME parts (phishing triage).
 *
 * Fed the transfer-decoded bytes of one text part in chunks of any size; it
 * keeps one bounded candidate and a few bytes of look-behind, so any
 * chunking finds the same URLs. It recognises
 *   - absolute URLs with the schemes http://, https://, ftp:// and mailto:
 *     (RFC 3986 §3; scheme matched case-insensitively and reported in lower
 *     case), starting at a word boundary and running to white space, a
 *     control character or one of < > " ` (and ' in HTML), with trailing
 *     sentence punctuation dropped;
 *   - in HTML, the value of every href attribute, quoted or not, whatever
 *     its scheme (javascript:, data:, relative), except empty ones, #anchors
 *     and cid: references; "&amp;" in HTML values becomes "&". XML
 *     namespace names (xmlns="http://...", as in every Outlook message) are
 *     identifiers, not links, and are left out.
 * A URL longer than max_len is cut to its first max_len bytes (never inside
 * a UTF-8 sequence). Deduplication is the caller's business. */
#ifndef MS_MIME_URL_H
#define MS_MIME_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/buf.h"
#include "../common/rc.h"

/* Called for each URL found; the bytes are valid only during the call. */
typedef void (*ms_url_cb)(void *ctx, const uint8_t *url, size_t len);

/* Look-behind: the longest scheme ("https://") and what may precede it in
 * an XML namespace declaration (' xmlns:abc = "'). */
#define MS_URL_WIN 40

struct ms_url_scan {
    unsigned state;
    bool html;
    uint8_t win[2 * MS_URL_WIN]; /* last bytes of text, as they came */
    size_t nwin;
    bool drop;         /* the URL being collected is not reported */
    uint8_t quote;     /* the quote that ends an href value, or 0 */
    size_t scheme_len; /* 0 for an href value */
    struct ms_buf cur; /* the URL being collected, capped at max_len */
    bool cut;          /* cur reached max_len */
    ms_url_cb cb;
    void *ctx;
};

void ms_url_scan_init(struct ms_url_scan *s, size_t max_len, ms_url_cb cb, void *ctx);
/* A new text part begins; html turns on href="..." extraction. */
void ms_url_scan_start(struct ms_url_scan *s, bool html);
/* MS_ERR_NOMEM (sticky for this part: the candidate is dropped). */
enum ms_rc ms_url_scan_feed(struct ms_url_scan *s, const uint8_t *p, size_t n);
/* The part ended: a URL running to its end is reported. */
void ms_url_scan_end(struct ms_url_scan *s);
void ms_url_scan_free(struct ms_url_scan *s);

#endif
