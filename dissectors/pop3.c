/* POP3 dissector (RFC 1939, RFC 2449 CAPA/PIPELINING, RFC 2595 STLS,
 * RFC 5034 AUTH).
 *
 * Client lines are commands; server lines are replies, matched to commands
 * in order through a bounded FIFO, since RFC 2449 lets clients pipeline.
 * Multi-line replies (RETR, TOP, CAPA, LIST, UIDL, bare AUTH) run until a
 * line holding only "."; RETR and TOP bodies are dot-unstuffed (RFC 1939
 * section 3) and handed to the MIME parser.
 *
 * Reported: USER/PASS logins with the reply to PASS as outcome, AUTH
 * exchanges (decoded by sasl.c) with the final reply as outcome, and every
 * message retrieved. After a successful STLS nothing more is read: what
 * follows is TLS. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ascii.h"
#include "../common/buf.h"
#include "../common/linebuf.h"
#include "dissector.h"
#include "mime.h"
#include "sasl.h"

enum pop3_cmd {
    CMD_OTHER = 0,
    CMD_USER,
    CMD_PASS,
    CMD_RETR,
    CMD_TOP,
    CMD_CAPA,
    CMD_LIST,
    CMD_UIDL,
    CMD_AUTH,
    CMD_STLS,
    CMD_QUIT,
};

struct pending {
    enum pop3_cmd cmd;
    bool has_arg;
};

struct pop3 {
    struct ms_limits lim;
    struct ms_sink sink;
    struct ms_linebuf lb[2];
    bool skip_line[2];        /* after a gap: drop up to the next line end */

    struct pending *fifo;     /* commands awaiting their reply */
    size_t fifo_head, fifo_len;

    bool greeted;             /* the server's banner went by */
    bool sasl_exchange;       /* an AUTH exchange holds the client's lines */
    struct ms_sasl sasl;
    bool encrypted;           /* STLS accepted: the rest is TLS */

    struct ms_buf user;       /* from the latest USER */
    bool have_user;
    bool user_truncated;
    struct ms_buf pass;       /* PASS awaiting its reply */
    bool pass_pending;
    bool pass_truncated;
    bool pass_gap;            /* a gap hit the connection while it waited */

    /* Multi-line reply in progress. */
    bool multi;
    enum pop3_cmd multi_cmd;
    struct ms_mime *msg;      /* RETR/TOP body, NULL for other lists */
    bool anomaly_long_line;
};

/* ---- events ---------------------------------------------------------- */

static void emit_anomaly(struct pop3 *s, const char *code, const char *detail)
{
    struct ms_event ev = { .kind = MS_EV_ANOMALY, .app_proto = "pop3" };
    ev.u.anomaly.code = code;
    ev.u.anomaly.detail = ms_bytes_of(detail, strlen(detail));
    s->sink.emit(s->sink.user, &ev);
}

static void emit_userpass(struct pop3 *s, enum ms_outcome outcome, const uint8_t *reply, size_t rlen)
{
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "pop3" };
    struct ms_ev_credential *c = &ev.u.cred;
    c->command = "USER";
    c->mechanism = "USER";
    c->username = s->have_user ? ms_bytes_of(s->user.p ? s->user.p : (const uint8_t *)"", s->user.len)
                               : MS_BYTES_NONE;
    c->password = ms_bytes_of(s->pass.p ? s->pass.p : (const uint8_t *)"", s->pass.len);
    c->outcome = outcome;
    c->server_reply = reply ? ms_bytes_of(reply, rlen) : MS_BYTES_NONE;
    c->tls = false;
    c->incomplete = !s->have_user || s->user_truncated || s->pass_truncated || s->pass_gap;
    s->sink.emit(s->sink.user, &ev);
    s->pass_pending = false;
    s->pass_gap = false;
    ms_buf_reset(&s->pass);
}

/* Reports what an AUTH exchange revealed, once its outcome is known. */
static void end_sasl(struct pop3 *s, enum ms_outcome outcome, const uint8_t *reply, size_t rlen)
{
    s->sasl_exchange = false;
    if (s->sasl.anomaly)
        emit_anomaly(s, s->sasl.anomaly, "undecodable SASL response");
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "pop3" };
    struct ms_ev_credential *c = &ev.u.cred;
    if (!ms_sasl_credential(&s->sasl, c))
        return;
    c->command = "AUTH";
    c->outcome = outcome;
    c->server_reply = reply ? ms_bytes_of(reply, rlen) : MS_BYTES_NONE;
    c->tls = false;
    s->sink.emit(s->sink.user, &ev);
}

static void end_message(struct pop3 *s, bool truncated)
{
    if (!s->msg)
        return;
    if (truncated)
        ms_mime_set_truncated(s->msg);
    struct ms_event ev = { .kind = MS_EV_EMAIL, .app_proto = "pop3" };
    ms_mime_finish(s->msg, &ev.u.email);
    ev.u.email.command = s->multi_cmd == CMD_TOP ? "TOP" : "RETR";
    s->sink.emit(s->sink.user, &ev);
    ms_mime_free(s->msg);
    s->msg = NULL;
}

/* ---- command FIFO ---------------------------------------------------- */

static void fifo_push(struct pop3 *s, enum pop3_cmd cmd, bool has_arg)
{
    if (s->fifo_len == s->lim.max_pending_cmds) {
        /* A client may pipeline, but not without bound: forget the oldest
         * so that a flood cannot grow state. */
        emit_anomaly(s, "too_many_pending_commands", "pipelined commands past the cap");
        s->fifo_head = (s->fifo_head + 1) % s->lim.max_pending_cmds;
        s->fifo_len--;
    }
    size_t i = (s->fifo_head + s->fifo_len) % s->lim.max_pending_cmds;
    s->fifo[i].cmd = cmd;
    s->fifo[i].has_arg = has_arg;
    s->fifo_len++;
}

static bool fifo_pop(struct pop3 *s, struct pending *out)
{
    if (s->fifo_len == 0)
        return false;
    *out = s->fifo[s->fifo_head];
    s->fifo_head = (s->fifo_head + 1) % s->lim.max_pending_cmds;
    s->fifo_len--;
    return true;
}

/* ---- client side ----------------------------------------------------- */

static enum pop3_cmd parse_cmd(const uint8_t *w, size_t n)
{
    static const struct { const char *kw; enum pop3_cmd cmd; } table[] = {
        { "USER", CMD_USER }, { "PASS", CMD_PASS }, { "RETR", CMD_RETR },
        { "TOP", CMD_TOP },   { "CAPA", CMD_CAPA }, { "LIST", CMD_LIST },
        { "UIDL", CMD_UIDL }, { "AUTH", CMD_AUTH }, { "STLS", CMD_STLS },
        { "QUIT", CMD_QUIT },
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (ms_ascii_eq(w, n, table[i].kw))
            return table[i].cmd;
    }
    return CMD_OTHER;
}

/* command = keyword [SP arguments] CRLF (RFC 1939 section 3). Keywords are
 * case-insensitive; PASS takes the whole rest of the line, spaces included
 * (RFC 1939 section 7 allows a password with spaces). */
static void client_line(struct pop3 *s, const uint8_t *line, size_t len)
{
    if (s->sasl_exchange) {
        /* SASL responses are not commands; the final reply ends them. */
        ms_sasl_response(&s->sasl, line, len);
        return;
    }
    size_t kw_end = 0;
    while (kw_end < len && line[kw_end] != ' ')
        kw_end++;
    enum pop3_cmd cmd = parse_cmd(line, kw_end);
    const uint8_t *arg = kw_end < len ? line + kw_end + 1 : line + len;
    size_t arg_len = kw_end < len ? len - kw_end - 1 : 0;
    /* Some clients pad with trailing blanks; a password keeps them. */
    bool has_arg = false;
    for (size_t i = 0; i < arg_len; i++)
        has_arg = has_arg || !ms_ascii_space(arg[i]);

    switch (cmd) {
    case CMD_USER:
        ms_buf_reset(&s->user);
        s->user_truncated = ms_buf_append_some(&s->user, arg, arg_len) < arg_len;
        s->have_user = true;
        break;
    case CMD_PASS:
        if (s->pass_pending) /* a second PASS before the first's reply */
            emit_userpass(s, MS_OUTCOME_UNKNOWN, NULL, 0);
        ms_buf_reset(&s->pass);
        s->pass_truncated = ms_buf_append_some(&s->pass, arg, arg_len) < arg_len;
        s->pass_pending = true;
        break;
    case CMD_AUTH:
        /* AUTH mechanism [initial-response] (RFC 5034 section 4) */
        if (has_arg) {
            size_t m = 0;
            while (m < arg_len && arg[m] != ' ')
                m++;
            bool has_ir = m < arg_len;
            ms_sasl_start(&s->sasl, arg, m, has_ir ? arg + m + 1 : NULL,
                          has_ir ? arg_len - m - 1 : 0, has_ir);
            s->sasl_exchange = true;
        }
        break;
    default:
        break;
    }
    fifo_push(s, cmd, has_arg);
}

/* ---- server side ----------------------------------------------------- */

static bool multiline_reply(const struct pending *p)
{
    switch (p->cmd) {
    case CMD_RETR:
    case CMD_TOP:
    case CMD_CAPA:
        return true;
    case CMD_LIST:
    case CMD_UIDL:
    case CMD_AUTH: /* bare AUTH lists mechanisms (RFC 1734 servers) */
        return !p->has_arg;
    default:
        return false;
    }
}

static void server_status(struct pop3 *s, bool ok, const uint8_t *line, size_t len)
{
    struct pending p;
    if (!fifo_pop(s, &p)) {
        s->greeted = true; /* the banner, or a reply we joined too late for */
        return;
    }
    switch (p.cmd) {
    case CMD_PASS:
        if (s->pass_pending)
            emit_userpass(s, ok ? MS_OUTCOME_SUCCESS : MS_OUTCOME_FAILURE, line, len);
        break;
    case CMD_AUTH:
        if (s->sasl_exchange)
            end_sasl(s, ok ? MS_OUTCOME_SUCCESS : MS_OUTCOME_FAILURE, line, len);
        break;
    case CMD_STLS:
        if (ok)
            s->encrypted = true;
        break;
    default:
        break;
    }
    if (ok && multiline_reply(&p)) {
        s->multi = true;
        s->multi_cmd = p.cmd;
        if (p.cmd == CMD_RETR || p.cmd == CMD_TOP) {
            s->msg = ms_mime_new(&s->lim, &s->sink);
            if (!s->msg)
                emit_anomaly(s, "out_of_memory", "message not parsed");
        }
    }
}

/* One line of a multi-line reply (RFC 1939 section 3): a line of just "."
 * ends it, and a leading "." on any other line was added by the server. */
static void multi_line(struct pop3 *s, const uint8_t *line, size_t len, unsigned flags)
{
    bool line_start = !(flags & MS_LINE_CONT);
    if (line_start && len > 0 && line[0] == '.') {
        if (ms_line_strip(line, len) == 1 && !(flags & MS_LINE_PARTIAL) && line[len - 1] == '\n') {
            end_message(s, false);
            s->multi = false;
            return;
        }
        line++;
        len--;
    }
    if (s->msg && ms_mime_feed(s->msg, line, len) != MS_OK) {
        emit_anomaly(s, "out_of_memory", "message parsing stopped");
        ms_mime_set_truncated(s->msg);
    }
}

static void server_line(struct pop3 *s, const uint8_t *line, size_t len)
{
    size_t n = ms_line_strip(line, len);
    if (n >= 3 && memcmp(line, "+OK", 3) == 0 && (n == 3 || line[3] == ' ' || line[3] == '\t')) {
        server_status(s, true, line, n);
    } else if (n >= 4 && memcmp(line, "-ERR", 4) == 0) {
        server_status(s, false, line, n);
    } else if (n >= 1 && line[0] == '+' && s->sasl_exchange) {
        /* "+ challenge": a SASL continuation, the AUTH is still pending. */
        size_t skip = n >= 2 && line[1] == ' ' ? 2 : 1;
        ms_sasl_challenge(&s->sasl, line + skip, n - skip);
    } else if (!s->greeted && s->fifo_len == 0) {
        s->greeted = true;
    }
}

/* ---- line dispatch --------------------------------------------------- */

static void on_line(struct pop3 *s, unsigned dir, const uint8_t *line, size_t len, unsigned flags)
{
    if (s->encrypted)
        return;
    if (s->skip_line[dir]) {
        /* After a gap we are mid-line: what precedes the next LF is the tail
         * of a line we cannot interpret. */
        s->skip_line[dir] = (flags & MS_LINE_PARTIAL) != 0;
        return;
    }
    if (dir == MS_DIR_TO_CLIENT && s->multi) {
        multi_line(s, line, len, flags);
        return;
    }
    /* Outside message bodies a line is a command or a reply. One longer
     * than the cap is not something a real client or server sends: report
     * it once and ignore all its fragments. */
    if (flags & MS_LINE_CONT)
        return;
    if (flags & MS_LINE_PARTIAL) {
        if (!s->anomaly_long_line) {
            s->anomaly_long_line = true;
            emit_anomaly(s, "line_too_long", dir == MS_DIR_TO_SERVER ? "client line over the cap"
                                                                      : "server line over the cap");
        }
        return;
    }
    if (dir == MS_DIR_TO_SERVER)
        client_line(s, line, ms_line_strip(line, len));
    else
        server_line(s, line, len);
}

static void on_line_cli(void *ctx, const uint8_t *line, size_t len, unsigned flags)
{
    on_line(ctx, MS_DIR_TO_SERVER, line, len, flags);
}

static void on_line_srv(void *ctx, const uint8_t *line, size_t len, unsigned flags)
{
    on_line(ctx, MS_DIR_TO_CLIENT, line, len, flags);
}

/* ---- vtable ---------------------------------------------------------- */

static void *pop3_create(const struct ms_limits *lim, const struct ms_sink *sink)
{
    struct pop3 *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->lim = *lim;
    if (s->lim.max_pending_cmds == 0)
        s->lim.max_pending_cmds = 1;
    s->sink = *sink;
    s->fifo = calloc(s->lim.max_pending_cmds, sizeof(*s->fifo));
    if (!s->fifo) {
        free(s);
        return NULL;
    }
    ms_linebuf_init(&s->lb[MS_DIR_TO_SERVER], lim->max_line, on_line_cli, s);
    ms_linebuf_init(&s->lb[MS_DIR_TO_CLIENT], lim->max_line, on_line_srv, s);
    ms_buf_init(&s->user, lim->max_secret);
    ms_buf_init(&s->pass, lim->max_secret);
    ms_sasl_init(&s->sasl, lim);
    return s;
}

static enum ms_rc pop3_feed(void *st, unsigned dir, const uint8_t *p, size_t n)
{
    struct pop3 *s = st;
    if (dir > 1)
        return MS_ERR_ARG;
    if (!s->encrypted)
        ms_linebuf_feed(&s->lb[dir], p, n);
    return MS_OK;
}

static void pop3_gap(void *st, unsigned dir, uint64_t missing)
{
    struct pop3 *s = st;
    if (dir > 1 || s->encrypted)
        return;
    ms_linebuf_reset(&s->lb[dir]);
    /* We are mid-line now: skip to the next line before parsing again. */
    s->skip_line[dir] = true;
    if (dir == MS_DIR_TO_CLIENT && s->msg)
        ms_mime_set_truncated(s->msg);
    if (s->pass_pending)
        s->pass_gap = true;
}

static void pop3_finish(void *st)
{
    struct pop3 *s = st;
    if (!s->encrypted) {
        ms_linebuf_flush(&s->lb[MS_DIR_TO_SERVER]);
        ms_linebuf_flush(&s->lb[MS_DIR_TO_CLIENT]);
    }
    if (s->multi)
        end_message(s, true);
    s->multi = false;
    if (s->pass_pending)
        emit_userpass(s, MS_OUTCOME_UNKNOWN, NULL, 0);
    if (s->sasl_exchange)
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0);
}

static void pop3_destroy(void *st)
{
    struct pop3 *s = st;
    if (!s)
        return;
    ms_mime_free(s->msg);
    ms_linebuf_free(&s->lb[0]);
    ms_linebuf_free(&s->lb[1]);
    ms_buf_free(&s->user);
    ms_buf_free(&s->pass);
    ms_sasl_free(&s->sasl);
    free(s->fifo);
    free(s);
}

/* Server: a banner or reply starting "+OK" / "-ERR". Client: a command
 * only POP3 has. Either needs a whole first line to say yes. */
static enum ms_probe pop3_probe(unsigned dir, const uint8_t *p, size_t n)
{
    const uint8_t *lf = memchr(p, '\n', n);
    if (!lf)
        return n < 512 ? MS_PROBE_MAYBE : MS_PROBE_NO;
    size_t len = ms_line_strip(p, (size_t)(lf - p) + 1);
    if (dir == MS_DIR_TO_CLIENT) {
        if ((len >= 3 && memcmp(p, "+OK", 3) == 0 && (len == 3 || p[3] == ' ')) ||
            (len >= 4 && memcmp(p, "-ERR", 4) == 0))
            return MS_PROBE_YES;
        return MS_PROBE_NO;
    }
    static const char *const only_pop3[] = { "USER ", "PASS ", "APOP ", "STLS", "CAPA",
                                             "RETR ", "UIDL", "TOP ", "STAT" };
    for (size_t i = 0; i < sizeof(only_pop3) / sizeof(only_pop3[0]); i++) {
        if (ms_ascii_prefix(p, len, only_pop3[i]))
            return MS_PROBE_YES;
    }
    return MS_PROBE_NO;
}

const struct ms_dissector ms_dissector_pop3 = {
    .name = "pop3",
    .probe = pop3_probe,
    .create = pop3_create,
    .feed = pop3_feed,
    .gap = pop3_gap,
    .finish = pop3_finish,
    .destroy = pop3_destroy,
};
