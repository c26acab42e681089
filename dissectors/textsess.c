/* The text session shared by the POP3, IMAP and SMTP dissectors
 * (textsess.h). */
#include <stdio.h>
#include <string.h>

#include "../common/bytes.h"
#include "dissector.h"
#include "emit.h"
#include "textsess.h"

/* The first byte of a TLS record carrying a handshake (RFC 8446 5.1,
 * ContentType handshake(22)): a client that went ahead with TLS without
 * waiting for the reply to STARTTLS. */
#define TLS_HANDSHAKE_RECORD 0x16

/* The client went ahead with TLS: its bytes start a TLS handshake record
 * (RFC 8446 5.1: type 22, legacy version 3.x with x <= 4, a length of at
 * most 2^14 + 2048). A bare 0x16 is not enough: an injector could put one
 * before plaintext commands to hide them. n may be short of the 5-byte
 * header (a line cut at a length byte that is LF, or a partial line):
 * then the bytes there must fit. */
static bool tls_record_start(const uint8_t *p, size_t n)
{
    if (n == 0 || p[0] != TLS_HANDSHAKE_RECORD)
        return false;
    if (n >= 2 && p[1] != 0x03)
        return false;
    if (n >= 3 && p[2] > 0x04)
        return false;
    if (n >= 5) {
        unsigned len = ms_be16(p + 3);
        if (len == 0 || len > 18432)
            return false;
    }
    return true;
}

/* A server line was lost: it may have been in a listing, or the reply to
 * a login (which may then have succeeded). */
static void server_line_lost(struct ms_textsess *ts)
{
    ts->listing_hole = true;
    if (ts->login_pending)
        ts->logged_in = true;
}

static void report_injection(struct ms_textsess *ts)
{
    ms_emit_anomaly_once(&ts->sink, ts->ops->proto, &ts->said_injection, ts->ops->injection,
                         ts->ops->injection_detail);
}

/* Every line of either direction passes here, in this order: the stop after
 * TLS, raw runs, the resync after a gap, the injection rule, then lines over
 * the cap, then the protocol. */
static void on_line(struct ms_textsess *ts, unsigned dir, const uint8_t *line, size_t len,
                    unsigned flags)
{
    if (ts->encrypted || ts->rc != MS_OK)
        return;
    if (flags & MS_LINE_RAW) {
        if (ts->ops->on_raw)
            ts->ops->on_raw(ts->proto, dir, line, len);
        return;
    }
    if (ts->skip_line[dir]) {
        /* After a gap we are mid-line: what precedes the next line end is
         * the tail of a line that cannot be interpreted, unless it plainly
         * starts something the protocol reads (a hole that ended on a line
         * boundary, as holes of whole segments do). */
        bool parse = !(flags & MS_LINE_PARTIAL) && ts->ops->plausible_line_start &&
                     ts->ops->plausible_line_start(ts->proto, dir, line, len);
        ts->skip_line[dir] = (flags & MS_LINE_PARTIAL) != 0;
        if (!parse)
            return;
    }
    if (dir == MS_TO_SERVER && ts->starttls_unknown)
        return; /* perhaps TLS: its reply was lost */
    if (dir == MS_TO_SERVER && ts->starttls_wait) {
        if (!(flags & MS_LINE_CONT) && tls_record_start(line, len)) {
            ts->encrypted = ts->tls = true;
            return;
        }
        report_injection(ts);
        flags |= MS_TS_INJECTED;
    }
    if ((flags & (MS_LINE_CONT | MS_LINE_PARTIAL)) &&
        !(ts->ops->takes_fragments && ts->ops->takes_fragments(ts->proto, dir))) {
        /* A command or reply longer than the cap is not something a real
         * client or server sends: reported once, all its fragments
         * ignored, and the protocol forgets what it could have changed. */
        if (flags & MS_LINE_CONT)
            return;
        ms_textsess_long_line(ts, dir);
        if (dir == MS_TO_CLIENT)
            server_line_lost(ts);
        if (ts->ops->on_lost)
            ts->ops->on_lost(ts->proto, dir, MS_TS_LOST_OVER_CAP);
        return;
    }
    ts->ops->on_line(ts->proto, dir, line, len, flags);
}

static void on_line_cli(void *ctx, const uint8_t *line, size_t len, unsigned flags)
{
    on_line(ctx, MS_TO_SERVER, line, len, flags);
}

static void on_line_srv(void *ctx, const uint8_t *line, size_t len, unsigned flags)
{
    on_line(ctx, MS_TO_CLIENT, line, len, flags);
}

void ms_textsess_init(struct ms_textsess *ts, const struct ms_limits *lim,
                      const struct ms_sink *sink, const struct ms_textsess_ops *ops, void *proto)
{
    memset(ts, 0, sizeof(*ts));
    ts->lim = lim;
    ts->sink = *sink;
    ts->ops = ops;
    ts->proto = proto;
    ms_linebuf_init(&ts->lb[MS_TO_SERVER], lim->max_line, on_line_cli, ts);
    ms_linebuf_init(&ts->lb[MS_TO_CLIENT], lim->max_line, on_line_srv, ts);
}

void ms_textsess_free(struct ms_textsess *ts)
{
    ms_linebuf_free(&ts->lb[0]);
    ms_linebuf_free(&ts->lb[1]);
}

enum ms_rc ms_textsess_feed(struct ms_textsess *ts, unsigned dir, const uint8_t *p, size_t n)
{
    if (dir > 1)
        return MS_ERR_ARG;
    if (!ts->encrypted && ts->rc == MS_OK && ms_linebuf_feed(&ts->lb[dir], p, n) != MS_OK)
        ms_textsess_nomem(ts, "a line could not be kept");
    return ts->rc;
}

void ms_textsess_gap(struct ms_textsess *ts, unsigned dir)
{
    if (dir > 1 || ts->encrypted || ts->rc != MS_OK)
        return;
    ms_linebuf_reset(&ts->lb[dir]);
    ts->skip_line[dir] = true;
    if (dir == MS_TO_CLIENT)
        server_line_lost(ts);
    if (ts->ops->on_lost)
        ts->ops->on_lost(ts->proto, dir, MS_TS_LOST_GAP);
}

void ms_textsess_resync_raw(struct ms_textsess *ts, unsigned dir, uint64_t left)
{
    ms_linebuf_reset(&ts->lb[dir]);
    ms_linebuf_raw(&ts->lb[dir], left);
    if (dir == MS_TO_CLIENT)
        server_line_lost(ts);
}

void ms_textsess_finish(struct ms_textsess *ts)
{
    if (ts->encrypted || ts->rc != MS_OK)
        return;
    /* What comes out now lacks its terminator: it may be cut. */
    ts->at_end = true;
    ms_linebuf_flush(&ts->lb[MS_TO_SERVER]);
    ms_linebuf_flush(&ts->lb[MS_TO_CLIENT]);
}

void ms_textsess_raw(struct ms_textsess *ts, unsigned dir, uint64_t n)
{
    ms_linebuf_raw(&ts->lb[dir], n);
}

void ms_textsess_encrypt(struct ms_textsess *ts)
{
    ts->encrypted = true;
}

void ms_textsess_starttls_sent(struct ms_textsess *ts)
{
    ts->starttls_wait = true;
}

void ms_textsess_starttls_reply(struct ms_textsess *ts, bool ok)
{
    /* Client bytes not yet a whole line reached the server before its
     * reply all the same. */
    const struct ms_buf *acc = &ts->lb[MS_TO_SERVER].acc;
    if (ts->starttls_wait && acc->len > 0 && !tls_record_start(acc->p, acc->len))
        report_injection(ts);
    ts->starttls_wait = false;
    ts->starttls_unknown = false; /* its reply came after all */
    if (ok)
        ts->encrypted = ts->tls = true;
}

void ms_textsess_starttls_forget(struct ms_textsess *ts)
{
    ts->starttls_wait = false;
}

void ms_textsess_starttls_lost(struct ms_textsess *ts)
{
    if (!ts->starttls_wait)
        return;
    ts->starttls_wait = false;
    ts->starttls_unknown = true;
}

void ms_textsess_caps_list(struct ms_textsess *ts, bool fresh)
{
    /* A list once logged in (PREAUTH, "OK [CAPABILITY ...] Logged in")
     * need not offer STARTTLS: it says nothing of the offer before. */
    if (ts->logged_in)
        return;
    ts->caps_seen = true;
    if (fresh)
        ts->caps_tls = false;
}

void ms_textsess_caps_tls(struct ms_textsess *ts)
{
    ts->caps_tls = true;
    ts->offered_any = true;
}

void ms_textsess_caps_logindisabled(struct ms_textsess *ts)
{
    ts->caps_tls = true;
}

void ms_textsess_listing_begin(struct ms_textsess *ts)
{
    ts->listing_open = true;
    ts->listing_hole = false;
}

void ms_textsess_listing_end(struct ms_textsess *ts)
{
    if (ts->listing_open && !ts->listing_hole && !ts->logged_in && !ts->at_end)
        ts->listing_complete = true;
    ts->listing_open = false;
}

/* sasl-mech = 1*20(UPPER-ALPHA / DIGIT / "-" / "_") (RFC 4422 3.1);
 * servers write them in either case. */
void ms_textsess_caps_mech(struct ms_textsess *ts, const uint8_t *p, size_t n)
{
    char name[MS_SASL_MECH_NAME_MAX + 1];
    if (n == 0 || n > MS_SASL_MECH_NAME_MAX)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = (char)p[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return;
        name[i] = c;
    }
    name[n] = '\0';
    for (size_t i = 0; i < ts->n_mechs; i++) {
        if (strcmp(ts->mechs[i], name) == 0)
            return;
    }
    if (ts->n_mechs == MS_SESSION_MAX_MECHS) {
        ts->mechs_truncated = true;
        return;
    }
    memcpy(ts->mechs[ts->n_mechs++], name, n + 1);
}

void ms_textsess_login_sent(struct ms_textsess *ts)
{
    ts->login_pending = true;
}

void ms_textsess_login_reply(struct ms_textsess *ts, enum ms_outcome outcome)
{
    ts->login_pending = false;
    if (outcome != MS_OUTCOME_FAILURE)
        ts->logged_in = true;
}

void ms_textsess_posture(const struct ms_textsess *ts, struct ms_session_posture *out)
{
    memset(out, 0, sizeof(*out));
    if (ts->offered_any)
        out->starttls_offered = MS_TRI_TRUE;
    else if (ts->listing_complete || ts->tls_refused)
        out->starttls_offered = MS_TRI_FALSE; /* a cut list may have lost it */
    out->listing_complete = ts->listing_complete;
    out->tls = ts->tls;
    memcpy(out->mechs, ts->mechs, sizeof(out->mechs));
    out->n_mechs = ts->n_mechs;
    out->mechs_truncated = ts->mechs_truncated;
}

void ms_textsess_tls_refused(struct ms_textsess *ts)
{
    ts->tls_refused = true;
}

enum ms_tristate ms_textsess_tls_offered(const struct ms_textsess *ts)
{
    if (ts->caps_seen && ts->caps_tls)
        return MS_TRI_TRUE;
    if (ts->caps_seen || ts->tls_refused)
        return MS_TRI_FALSE;
    return MS_TRI_UNKNOWN;
}

void ms_textsess_credential(struct ms_textsess *ts, struct ms_event *ev, enum ms_outcome outcome,
                            const uint8_t *reply, size_t rlen)
{
    if (ts->rc != MS_OK)
        return; /* dropped: it may lack a part the failure took */
    if (outcome == MS_OUTCOME_SUCCESS)
        ts->logged_in = true;
    ms_emit_credential(&ts->sink, ev, outcome, reply, rlen, ms_textsess_tls_offered(ts));
}

void ms_textsess_sasl_end(struct ms_textsess *ts, const struct ms_sasl *sasl, const char *command,
                          const char *detail, enum ms_outcome outcome, const uint8_t *reply,
                          size_t rlen, enum ms_emit_cut cut, bool incomplete)
{
    struct ms_event ev;
    if (ts->rc != MS_OK)
        return;
    if (ms_sasl_nomem(sasl)) {
        /* A part of the exchange could not be kept: its credential would
         * lack it. Only this exchange is dropped; the next starts afresh. */
        ms_textsess_anomaly(ts, MS_ANOM_OUT_OF_MEMORY,
                            "out of memory: the credential of a SASL exchange is not reported");
        return;
    }
    if (!ms_emit_sasl_begin(&ts->sink, ts->ops->proto, command, sasl, detail, &ev))
        return;
    ev.u.cred.incomplete = ev.u.cred.incomplete || incomplete;
    ms_emit_cut(&ev.u.cred, cut);
    ms_textsess_credential(ts, &ev, outcome, reply, rlen);
}

void ms_textsess_login_unconfirmed(struct ms_textsess *ts, const char *command)
{
    char detail[96];
    snprintf(detail, sizeof(detail), "%s after lost client bytes got no reply that fits it",
             command);
    ms_textsess_anomaly(ts, MS_ANOM_LOGIN_UNCONFIRMED, detail);
}

void ms_textsess_nomem(struct ms_textsess *ts, const char *what)
{
    if (ts->rc != MS_OK)
        return;
    ts->rc = MS_ERR_NOMEM;
    char detail[160];
    snprintf(detail, sizeof(detail), "out of memory (%s): the rest of this session is not parsed",
             what);
    ms_textsess_anomaly(ts, MS_ANOM_OUT_OF_MEMORY, detail);
}

void ms_textsess_anomaly(struct ms_textsess *ts, enum ms_anomaly a, const char *detail)
{
    ms_emit_anomaly(&ts->sink, ts->ops->proto, a, detail);
}

void ms_textsess_long_line(struct ms_textsess *ts, unsigned dir)
{
    ms_emit_anomaly_once(&ts->sink, ts->ops->proto, &ts->said_long_line, MS_ANOM_LINE_TOO_LONG,
                         dir == MS_TO_SERVER ? "client line over the cap"
                                             : "server line over the cap");
}

/* ---- messages -------------------------------------------------------- */

bool ms_textsess_msg_new(struct ms_textsess *ts, struct ms_textmsg *m)
{
    m->failed = false;
    m->mime = ms_mime_new(ts->lim, &ts->sink);
    if (!m->mime)
        ms_textsess_anomaly(ts, MS_ANOM_OUT_OF_MEMORY, "message not parsed");
    return m->mime != NULL;
}

void ms_textsess_msg_feed(struct ms_textsess *ts, struct ms_textmsg *m, const uint8_t *p, size_t n)
{
    if (!m->mime || m->failed)
        return;
    if (ms_mime_feed(m->mime, p, n) != MS_OK) {
        /* Out of memory is sticky in the parser: said once. */
        m->failed = true;
        ms_textsess_anomaly(ts, MS_ANOM_OUT_OF_MEMORY, "message parsing stopped");
        ms_mime_set_truncated(m->mime);
    }
}

void ms_textsess_msg_gap(struct ms_textmsg *m)
{
    if (m->mime)
        ms_mime_set_gap(m->mime);
}

void ms_textsess_msg_emit(struct ms_textsess *ts, struct ms_textmsg *m, const char *command,
                          bool partial, bool to_client, bool truncated)
{
    if (!m->mime)
        return;
    if (ts->rc != MS_OK) {
        ms_textsess_msg_free(m); /* dropped with the session */
        return;
    }
    if (truncated)
        ms_mime_set_truncated(m->mime);
    /* A part of a message (POP3 TOP, an IMAP section): an attachment
     * running to its end may be cut. */
    if (partial)
        ms_mime_set_partial(m->mime);
    struct ms_event ev = { .kind = MS_EV_EMAIL, .app_proto = ts->ops->proto };
    ms_mime_finish(m->mime, &ev.u.email);
    ms_textsess_msg_check(ts, m);
    ev.u.email.command = command;
    ev.u.email.partial = partial;
    ev.u.email.to_client = to_client;
    ts->sink.emit(ts->sink.user, &ev);
    ms_textsess_msg_free(m);
}

void ms_textsess_msg_check(struct ms_textsess *ts, struct ms_textmsg *m)
{
    if (m->mime && !m->failed && ms_mime_failed(m->mime)) {
        m->failed = true;
        ms_textsess_anomaly(ts, MS_ANOM_OUT_OF_MEMORY, "message parsing stopped");
    }
}

void ms_textsess_msg_free(struct ms_textmsg *m)
{
    ms_mime_free(m->mime);
    m->mime = NULL;
    m->failed = false;
}
