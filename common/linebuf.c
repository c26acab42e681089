#include "linebuf.h"

#include <string.h>

void ms_linebuf_init(struct ms_linebuf *lb, size_t max_line, ms_line_cb cb, void *ctx)
{
    ms_buf_init(&lb->acc, max_line);
    lb->max_line = max_line ? max_line : 1;
    lb->raw_left = 0;
    lb->cont = false;
    lb->nomem = false;
    lb->cb = cb;
    lb->ctx = ctx;
}

static void deliver(struct ms_linebuf *lb, const uint8_t *p, size_t n, bool partial)
{
    unsigned flags = (lb->cont ? MS_LINE_CONT : 0) | (partial ? MS_LINE_PARTIAL : 0);
    lb->cont = partial;
    lb->cb(lb->ctx, p, n, flags);
}

/* Out of memory for the unfinished line: see ms_linebuf_feed. */
static enum ms_rc lost(struct ms_linebuf *lb)
{
    lb->nomem = true;
    lb->acc.len = 0;
    lb->raw_left = 0;
    return MS_ERR_NOMEM;
}

enum ms_rc ms_linebuf_feed(struct ms_linebuf *lb, const uint8_t *d, size_t n)
{
    if (lb->nomem)
        return MS_ERR_NOMEM;
    while (n > 0) {
        if (lb->raw_left > 0) {
            size_t take = lb->raw_left < n ? (size_t)lb->raw_left : n;
            lb->raw_left -= take;
            lb->cb(lb->ctx, d, take, MS_LINE_RAW);
            d += take;
            n -= take;
            continue;
        }
        /* Look no further than what would complete a max_line fragment. */
        size_t room = lb->max_line - lb->acc.len;
        size_t scan = n < room ? n : room;
        const uint8_t *lf = memchr(d, '\n', scan);
        if (lf) {
            size_t take = (size_t)(lf - d) + 1;
            if (lb->acc.len == 0) {
                deliver(lb, d, take, false);
            } else {
                /* take fits under max_line (scan <= room): only memory fails. */
                if (ms_buf_append(&lb->acc, d, take) != MS_OK)
                    return lost(lb);
                size_t len = lb->acc.len;
                lb->acc.len = 0; /* before the callback: it may feed/reset */
                deliver(lb, lb->acc.p, len, false);
            }
            d += take;
            n -= take;
        } else if (scan == room) {
            /* A full fragment without LF: hand it on, flagged partial. */
            if (lb->acc.len == 0) {
                deliver(lb, d, scan, true);
            } else {
                if (ms_buf_append(&lb->acc, d, scan) != MS_OK)
                    return lost(lb);
                size_t len = lb->acc.len;
                lb->acc.len = 0;
                deliver(lb, lb->acc.p, len, true);
            }
            d += scan;
            n -= scan;
        } else {
            if (ms_buf_append(&lb->acc, d, n) != MS_OK)
                return lost(lb);
            n = 0;
        }
    }
    return MS_OK;
}

void ms_linebuf_raw(struct ms_linebuf *lb, uint64_t nbytes)
{
    lb->raw_left = nbytes;
}

void ms_linebuf_flush(struct ms_linebuf *lb)
{
    if (lb->acc.len == 0 || lb->nomem)
        return;
    size_t len = lb->acc.len;
    lb->acc.len = 0;
    unsigned flags = lb->cont ? MS_LINE_CONT : 0;
    lb->cont = false;
    lb->cb(lb->ctx, lb->acc.p, len, flags);
}

void ms_linebuf_reset(struct ms_linebuf *lb)
{
    lb->acc.len = 0;
    lb->raw_left = 0;
    lb->cont = false;
}

void ms_linebuf_free(struct ms_linebuf *lb)
{
    ms_buf_free(&lb->acc);
}

size_t ms_line_strip(const uint8_t *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    return len;
}
