/* Streaming quoted-printable decoder, RFC 2045 §6.7.
 *
 *   quoted-printable := qp-line *(CRLF qp-line)
 *   qp-line     := *(qp-segment transport-padding CRLF) qp-part transport-padding
 *   qp-segment  := qp-section *(SPACE / TAB) "="      ; soft line break
 *   hex-octet   := "=" 2(DIGIT / "A" / "B" / "C" / "D" / "E" / "F")
 *   transport-padding := *LWSP-char                   ; MUST be deleted
 */
#include "qp.h"

#include <stdbool.h>
#include <string.h>

#include "ascii.h"

enum {
    QP_TEXT = 0, /* ordinary text; ws[] may hold blanks */
    QP_CR,       /* text, then CR: a line break if LF follows */
    QP_EQ,       /* "=" */
    QP_EQ_HEX,   /* "=X" */
    QP_EQ_WS,    /* "=" then blanks: soft break if the line ends here */
    QP_EQ_CR,    /* "=" [blanks] CR */
};

static bool blank(uint8_t c)
{
    return c == ' ' || c == '\t';
}

void ms_qp_init(struct ms_qp *s)
{
    memset(s, 0, sizeof(*s));
}

static size_t put_ws(struct ms_qp *s, uint8_t *out)
{
    size_t n = s->nws;

    if (n == 0)
        return 0;
    memcpy(out, s->ws, n);
    s->nws = 0;
    return n;
}

/* A byte QP_TEXT passes on as it is, whatever follows. */
static bool plain(uint8_t c)
{
    return c != '=' && c != ' ' && c != '\t' && c != '\r' && c != '\n';
}

/* What QP_TEXT, with no blanks held, does to in[*pi..n) while the result
 * does not depend on the state or on bytes beyond n: plain bytes as they
 * are, "=XX" as its byte, a blank with a plain byte after it (so it ends
 * no line) as it is. Writes to out, returns the count, moves *pi. */
static size_t text_run(const uint8_t *in, size_t *pi, size_t n, uint8_t *out)
{
    size_t i = *pi, o = 0;
    while (i < n) {
        uint8_t c = in[i];
        if (plain(c)) {
            out[o++] = c;
            i++;
        } else if (c == '=' && n - i >= 3 && ms_ascii_hexval(in[i + 1]) >= 0 &&
                   ms_ascii_hexval(in[i + 2]) >= 0) {
            out[o++] = (uint8_t)((unsigned)ms_ascii_hexval(in[i + 1]) << 4 |
                                 (unsigned)ms_ascii_hexval(in[i + 2]));
            i += 3;
        } else if (blank(c) && n - i >= 2 && plain(in[i + 1])) {
            out[o++] = c;
            out[o++] = in[i + 1];
            i += 2;
        } else {
            break;
        }
    }
    *pi = i;
    return o;
}

size_t ms_qp_decode(struct ms_qp *s, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0;
    size_t i = 0;

    /* Every branch either consumes in[i] or moves to QP_TEXT without
     * consuming it, and QP_TEXT always consumes: the loop makes progress. */
    while (i < n) {
        if (s->state == QP_TEXT && s->nws == 0) {
            /* The hot path: ordinary text without the state machine. */
            o += text_run(in, &i, n, out + o);
            if (i == n)
                break;
        }
        uint8_t c = in[i];

        switch (s->state) {
        case QP_TEXT:
            i++;
            if (c == '=') {
                o += put_ws(s, out + o);
                s->state = QP_EQ;
            } else if (blank(c)) {
                if (s->nws == MS_QP_WS_MAX)
                    o += put_ws(s, out + o);
                s->ws[s->nws++] = c;
            } else if (c == '\r') {
                s->state = QP_CR;
            } else if (c == '\n') {
                s->nws = 0; /* trailing blanks are deleted */
                out[o++] = c;
            } else {
                o += put_ws(s, out + o);
                out[o++] = c;
            }
            break;
        case QP_CR:
            if (c == '\n') {
                i++;
                s->nws = 0;
                out[o++] = '\r';
                out[o++] = '\n';
            } else {
                /* A bare CR is data, and so are the blanks before it. */
                o += put_ws(s, out + o);
                out[o++] = '\r';
            }
            s->state = QP_TEXT;
            break;
        case QP_EQ:
            if (ms_ascii_hexval(c) >= 0) { /* either case: encoders emit lower case too */
                i++;
                s->hex1 = c;
                s->state = QP_EQ_HEX;
            } else if (c == '\r') {
                i++;
                s->state = QP_EQ_CR;
            } else if (c == '\n') {
                i++;
                s->state = QP_TEXT; /* soft line break */
            } else if (blank(c)) {
                i++;
                s->ws[s->nws++] = c;
                s->state = QP_EQ_WS;
            } else {
                s->invalid++;
                out[o++] = '=';
                s->state = QP_TEXT;
            }
            break;
        case QP_EQ_HEX:
            if (ms_ascii_hexval(c) >= 0) {
                i++;
                /* hex1 was a hex digit when stored (QP_EQ): both values are 0..15. */
                out[o++] = (uint8_t)((unsigned)ms_ascii_hexval(s->hex1) << 4 |
                                     (unsigned)ms_ascii_hexval(c));
            } else {
                s->invalid++;
                out[o++] = '=';
                out[o++] = s->hex1;
            }
            s->state = QP_TEXT;
            break;
        case QP_EQ_WS:
            if (blank(c) && s->nws < MS_QP_WS_MAX) {
                i++;
                s->ws[s->nws++] = c;
            } else if (c == '\r') {
                i++;
                s->state = QP_EQ_CR;
            } else if (c == '\n') {
                i++;
                s->nws = 0; /* "=  \n": soft break with transport padding */
                s->state = QP_TEXT;
            } else {
                s->invalid++;
                out[o++] = '=';
                o += put_ws(s, out + o);
                s->state = QP_TEXT;
            }
            break;
        case QP_EQ_CR:
            if (c == '\n') {
                i++;
                s->nws = 0;
            } else {
                s->invalid++;
                out[o++] = '=';
                o += put_ws(s, out + o);
                out[o++] = '\r';
            }
            s->state = QP_TEXT;
            break;
        }
    }
    return o;
}

size_t ms_qp_finish(struct ms_qp *s, uint8_t *out)
{
    size_t o = 0;

    switch (s->state) {
    case QP_CR:
        o += put_ws(s, out + o);
        out[o++] = '\r';
        break;
    case QP_EQ_HEX:
        s->invalid++;
        out[o++] = '=';
        out[o++] = s->hex1;
        break;
    default:
        /* QP_TEXT: held blanks end the last line, so they are trailing.
         * QP_EQ*: "=" at the very end is a soft break whose line break
         * belonged to the MIME boundary that follows. */
        break;
    }
    s->nws = 0;
    s->state = QP_TEXT;
    return o;
}
