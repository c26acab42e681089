/* Line assembler for text protocols (Zeek ContentLine, Suricata discard-till-LF).
 * Bytes go in in chunks of any size; complete lines come out through a
 * callback, each including its terminator (LF or CRLF), so callers can hash
 * exactly what crossed the wire. A line longer than max_line comes out in
 * max_line-sized fragments flagged MS_LINE_PARTIAL / MS_LINE_CONT; bytes are
 * never dropped, unless memory runs out (then nothing more is delivered).
 * Fragment boundaries depend only on the byte stream, never on how it was
 * chunked, so parsers stay split-invariant. */
#ifndef MS_LINEBUF_H
#define MS_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

#define MS_LINE_CONT 0x1u    /* continues a line begun in an earlier callback */
#define MS_LINE_PARTIAL 0x2u /* the line is not finished; more follows */
#define MS_LINE_RAW 0x4u     /* bytes of a raw run requested by ms_linebuf_raw */

typedef void (*ms_line_cb)(void *ctx, const uint8_t *line, size_t len, unsigned flags);

struct ms_linebuf {
    struct ms_buf acc; /* bytes of an unfinished line */
    size_t max_line;
    uint64_t raw_left; /* > 0: deliver this many bytes raw before lines resume */
    bool cont;         /* the next fragment continues an earlier one */
    bool nomem;        /* an unfinished line could not be kept: nothing more is delivered */
    ms_line_cb cb;
    void *ctx;
};

void ms_linebuf_init(struct ms_linebuf *lb, size_t max_line, ms_line_cb cb, void *ctx);
/* Consumes all n bytes. The callback may call ms_linebuf_raw or _reset.
 * MS_ERR_NOMEM (sticky) when an unfinished line could not be kept: its
 * bytes and all that follow are dropped, since delivering the rest of the
 * line as if it were whole (or its head as a cut line) would hand on a
 * line that was never sent ("PASS sec" of "PASS secret"). */
enum ms_rc ms_linebuf_feed(struct ms_linebuf *lb, const uint8_t *d, size_t n);
/* The next nbytes are delivered as MS_LINE_RAW chunks (IMAP {n}, BDAT n). */
void ms_linebuf_raw(struct ms_linebuf *lb, uint64_t nbytes);
/* Delivers an unfinished line (without terminator, flags without PARTIAL). */
void ms_linebuf_flush(struct ms_linebuf *lb);
/* Drops any unfinished line and raw run (after a gap). */
void ms_linebuf_reset(struct ms_linebuf *lb);
void ms_linebuf_free(struct ms_linebuf *lb);

/* Length of the line without its LF or CRLF terminator. */
size_t ms_line_strip(const uint8_t *line, size_t len);

#endif
