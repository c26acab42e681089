/* POP3 dissector (RFC 1939, RFC 2449 CAPA/PIPELINING, RFC 2595 STLS,
 * RFC 5034 AUTH).
 *
 * Client lines are commands; server lines are replies, matched to commands
 * in order through a bounded FIFO, since RFC 2449 lets clients pipeline.
 * Multi-line replies (RETR, TOP, CAPA, LIST, UIDL, bare AUTH) run until a
 * line holding only "."; RETR and TOP bodies are dot-unstuffed (RFC 1939
 * section 3) and handed to the MIME parser.
 *
 * Reported: USER/PASS logins with the reply to PASS as outcome, APOP logins
 * (RFC 1939 section 7: the banner's timestamp is the challenge), AUTH
 * exchanges (decoded by sasl.c) with the final reply as outcome, and every
 * message retrieved (TOP ones marked partial). Every login carries whether
 * the server's CAPA list offered STLS (RFC 2595 section 4). Lines, gaps,
 * the stop after a successful STLS and the STLS command injection rule
 * are the text session's (textsess.h); commands injected after STLS are
 * still parsed (a vulnerable server runs them).
 *
 * A pipelining client may send several logins before the first reply
 * (USER a, PASS x, USER b, PASS y). Each PASS or APOP therefore snapshots
 * its user and secret, when it is sent, into a ring of pending logins, and
 * its FIFO entry carries the login's sequence number, so that the reply to
 * that very command gives its outcome. The ring holds at most
 * min(max_pending_cmds, MS_POP3_MAX_PENDING_LOGINS) logins: past it the oldest
 * is reported with an unknown outcome (anomaly too_many_pending_logins), as
 * is a login whose command the FIFO drops (too_many_pending_commands) and
 * every login still waiting when the connection ends.
 *
 * Gaps: a reply lost in a hole would shift every later pairing, and a lost
 * command's reply would be taken for the next command's. So a gap in either
 * direction settles every login still awaiting its reply, outcome unknown
 * (pop3_gap); a reply that nothing awaits is paired with nothing; and after
 * a hole, commands sent before the replies have caught up with the FIFO
 * (it drains, or a client seen to send one command at a time gets a reply
 * it did not wait for) get no outcome either (struct pending.unsure). A
 * client-side hole also forgets the USER name and ends an AUTH exchange:
 * what the lost lines said is unknown. A server-side hole leaves the
 * client's responses whole: the exchange goes on, incomplete, without a
 * hashcat line and with an unknown outcome, until the server's next status
 * line or a line that is plainly a command. A client line that begins
 * right after a hole is parsed when it plainly is a command (a PASS then
 * names no user: USER was forgotten), and a lone "." still ends a
 * multi-line reply. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/ascii.h"
#include "../common/buf.h"
#include "../common/linebuf.h"
#include "cmdfifo.h"
#include "dissector.h"
#include "emit.h"
#include "keyword.h"
#include "sasl.h"
#include "textsess.h"

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
    CMD_APOP,
};

struct pending {
    enum pop3_cmd cmd;
    bool has_arg;
    bool unsure;    /* sent after a gap, before the replies caught up */
    uint64_t login; /* PASS, APOP: sequence number of its login */
};

struct login {
    enum pop3_cmd cmd;    /* CMD_PASS or CMD_APOP */
    struct ms_buf user;   /* PASS: the latest USER when PASS was sent */
    struct ms_buf secret; /* PASS: the password; APOP: the digest */
    bool have_user;
    bool incomplete; /* cut, malformed, or PASS without USER */
    bool gap;        /* a gap made its reply unknowable */
};

/* A ring of struct login in command order; record seq lives at
 * rec[(head + seq - head_seq) % cap] while head_seq <= seq < head_seq + len. */
struct login_ring {
    struct login *rec;
    size_t cap, head, len;
    uint64_t head_seq;
};

struct pop3 {
    struct ms_limits lim;
    struct ms_textsess ts; /* lines, gaps, STLS (textsess.h) */

    struct ms_cmdfifo fifo; /* commands awaiting their reply (struct pending) */

    bool greeted;              /* the server's banner went by */
    bool sasl_exchange;        /* an AUTH exchange holds the client's lines */
    bool sasl_piped;           /* ... one sent before the previous AUTH's reply:
                                 which reply is its own is not known */
    bool sasl_dead;            /* ... one a client-side gap ended: its lines are
                                 skipped until the server's next status line */
    enum ms_emit_cut sasl_cut; /* a server-side gap hit the exchange */
    struct ms_sasl sasl;

    struct ms_buf user; /* from the latest USER */
    bool have_user;
    bool user_truncated;
    struct login_ring logins; /* PASS and APOP awaiting their reply */

    /* APOP (RFC 1939 section 7). */
    struct ms_buf apop_ts;   /* the banner's <timestamp>, angle brackets included */
    struct ms_buf apop_line; /* the hashcat line being emitted */

    /* Multi-line reply in progress. */
    bool multi;
    enum pop3_cmd multi_cmd;
    struct ms_textmsg msg; /* RETR/TOP body, none for other lists */

    /* After a gap (see the top of the file). */
    bool unsure;     /* replies may not line up with the FIFO yet */
    bool pipelining; /* the client sent a command while another awaited
                                 its reply (or may have: a hole with commands
                                 pending) */
};

/* ---- events ---------------------------------------------------------- */

static void emit_anomaly(struct pop3 *s, enum ms_anomaly a, const char *detail)
{
    ms_textsess_anomaly(&s->ts, a, detail);
}

static void emit_userpass(struct pop3 *s, const struct login *l, enum ms_outcome outcome,
                          const uint8_t *reply, size_t rlen)
{
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "pop3" };
    struct ms_ev_credential *c = &ev.u.cred;
    c->command = "USER";
    c->mechanism = "USER";
    c->username = l->have_user ? ms_emit_buf(&l->user) : MS_BYTES_NONE;
    c->password = ms_emit_buf(&l->secret);
    c->incomplete = l->incomplete || l->gap;
    ms_textsess_credential(&s->ts, &ev, outcome, reply, rlen);
}

/* Reports what an AUTH exchange revealed, once its outcome is known (or
 * once a gap made it unknowable: cut). */
static void end_sasl(struct pop3 *s, enum ms_outcome outcome, const uint8_t *reply, size_t rlen,
                     enum ms_emit_cut cut)
{
    s->sasl_exchange = false;
    ms_emit_settle_cut(&s->sasl_cut, &outcome, &reply, &rlen, &cut);
    if (s->sasl_piped) {
        s->sasl_piped = false;
        outcome = MS_OUTCOME_UNKNOWN;
        reply = NULL;
        rlen = 0;
    }
    ms_textsess_sasl_end(&s->ts, &s->sasl, "AUTH", ms_sasl_anomaly_detail(&s->sasl), outcome, reply,
                         rlen, cut, false);
}

static bool hex32(const struct ms_buf *b)
{
    if (b->len != 32)
        return false;
    for (size_t i = 0; i < 32; i++) {
        uint8_t c = ms_ascii_lower(b->p[i]);
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* APOP: the digest is MD5(timestamp || secret) (RFC 1939 section 7), which
 * is hashcat's mode 20, md5($salt.$pass), with the banner's timestamp as
 * the salt: "digest:timestamp". */
static void emit_apop(struct pop3 *s, const struct login *l, enum ms_outcome outcome,
                      const uint8_t *reply, size_t rlen)
{
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "pop3" };
    struct ms_ev_credential *c = &ev.u.cred;
    c->command = "APOP";
    c->mechanism = "APOP";
    c->username = ms_emit_buf(&l->user);
    c->response = ms_emit_buf(&l->secret);
    bool whole = !l->incomplete && hex32(&l->secret);
    if (s->apop_ts.len) {
        c->challenge = ms_emit_buf(&s->apop_ts);
        uint8_t dg[33];
        for (size_t i = 0; whole && i < 32; i++)
            dg[i] = ms_ascii_lower(l->secret.p[i]);
        dg[32] = ':';
        ms_buf_reset(&s->apop_line);
        /* apop_line holds any timestamp kept (max_secret): only memory
         * fails, and the credential would lack its hashcat line. */
        if (whole && (ms_buf_append(&s->apop_line, dg, 33) != MS_OK ||
                      ms_buf_append(&s->apop_line, s->apop_ts.p, s->apop_ts.len) != MS_OK)) {
            ms_textsess_nomem(&s->ts, "an APOP hashcat line could not be built");
            return;
        }
        if (whole) {
            c->hashcat = ms_emit_buf(&s->apop_line);
            c->hashcat_mode = 20;
        }
    }
    /* Without the banner's timestamp (or with one too long for the line)
     * the digest cannot be attacked. A gap leaves the digest whole: only
     * the outcome is unknown. */
    c->incomplete = !whole || c->hashcat_mode == 0 || l->gap;
    ms_textsess_credential(&s->ts, &ev, outcome, reply, rlen);
}

static void end_message(struct pop3 *s, bool truncated)
{
    /* TOP moves the header and only n lines of the body (RFC 1939 7). */
    bool partial = s->multi_cmd == CMD_TOP;
    ms_textsess_msg_emit(&s->ts, &s->msg, partial ? "TOP" : "RETR", partial, true, truncated);
}

/* ---- pending logins -------------------------------------------------- */

static enum ms_rc logins_init(struct login_ring *r, const struct ms_limits *lim)
{
    size_t cap = lim->max_pending_cmds ? lim->max_pending_cmds : 1; /* as cmdfifo */
    if (cap > MS_POP3_MAX_PENDING_LOGINS)
        cap = MS_POP3_MAX_PENDING_LOGINS;
    r->rec = ms_calloc(cap, sizeof(*r->rec));
    if (!r->rec)
        return MS_ERR_NOMEM;
    r->cap = cap;
    /* The secret holds a password (max_secret) or an APOP digest. */
    size_t secret_max = lim->max_secret > MS_POP3_APOP_DIGEST_MAX ? lim->max_secret
                                                                  : MS_POP3_APOP_DIGEST_MAX;
    for (size_t i = 0; i < cap; i++) {
        ms_buf_init(&r->rec[i].user, lim->max_secret);
        ms_buf_init(&r->rec[i].secret, secret_max);
    }
    return MS_OK;
}

static void logins_free(struct login_ring *r)
{
    for (size_t i = 0; r->rec && i < r->cap; i++) {
        ms_buf_free(&r->rec[i].user);
        ms_buf_free(&r->rec[i].secret);
    }
    ms_free(r->rec);
    r->rec = NULL;
    r->len = 0;
}

/* The sequence number the next login will get. */
static uint64_t logins_next_seq(const struct login_ring *r)
{
    return r->head_seq + r->len;
}

/* Reports the oldest pending login and forgets it. */
static void logins_emit_head(struct pop3 *s, enum ms_outcome outcome, const uint8_t *reply,
                             size_t rlen)
{
    struct login_ring *r = &s->logins;
    const struct login *l = &r->rec[r->head];
    if (l->cmd == CMD_APOP)
        emit_apop(s, l, outcome, reply, rlen);
    else
        emit_userpass(s, l, outcome, reply, rlen);
    r->head = (r->head + 1) % r->cap;
    r->len--;
    r->head_seq++;
}

/* A fresh record for a login just sent, emptied; the oldest pending login
 * is reported with an unknown outcome when the ring is full. */
static struct login *logins_add(struct pop3 *s, enum pop3_cmd cmd)
{
    struct login_ring *r = &s->logins;
    if (r->len == r->cap) {
        emit_anomaly(s, MS_ANOM_TOO_MANY_PENDING_LOGINS, "pipelined logins past the cap");
        logins_emit_head(s, MS_OUTCOME_UNKNOWN, NULL, 0);
    }
    struct login *l = &r->rec[(r->head + r->len) % r->cap];
    r->len++;
    l->cmd = cmd;
    ms_buf_reset(&l->user);
    ms_buf_reset(&l->secret);
    l->have_user = false;
    l->incomplete = false;
    l->gap = false;
    return l;
}

/* The reply to login seq arrived (or its command was dropped: unknown).
 * Logins are answered in order, so seq is the oldest one still pending, or
 * one already reported (the ring overflowed): then nothing is left to say.
 * Any older one still pending would have lost its reply: unknown. */
static void logins_answer(struct pop3 *s, uint64_t seq, enum ms_outcome outcome,
                          const uint8_t *reply, size_t rlen)
{
    struct login_ring *r = &s->logins;
    while (r->len && r->head_seq < seq)
        logins_emit_head(s, MS_OUTCOME_UNKNOWN, NULL, 0);
    if (r->len && r->head_seq == seq)
        logins_emit_head(s, outcome, reply, rlen);
}

/* ---- command FIFO ---------------------------------------------------- */

/* What USER named is no longer known to be the next PASS's user. */
static void forget_user(struct pop3 *s)
{
    ms_buf_reset(&s->user);
    s->have_user = false;
    s->user_truncated = false;
}

/* A reply will come for a command not in the FIFO (forgotten past the cap),
 * or one was lost (dropped over the line cap): from here on no reply is
 * trusted to be its command's, those waiting now included. */
static void pairing_lost(struct pop3 *s)
{
    s->unsure = true;
    for (size_t i = 0; i < s->fifo.len; i++)
        ((struct pending *)ms_cmdfifo_at(&s->fifo, i))->unsure = true;
}

static void fifo_push(struct pop3 *s, enum pop3_cmd cmd, bool has_arg, uint64_t login)
{
    struct pending p = { .cmd = cmd, .has_arg = has_arg, .unsure = s->unsure, .login = login },
                   dropped;
    if (s->fifo.len > 0)
        s->pipelining = true;
    if (ms_cmdfifo_push(&s->fifo, &p, &dropped)) {
        emit_anomaly(s, MS_ANOM_TOO_MANY_PENDING_COMMANDS, "pipelined commands past the cap");
        /* The dropped command's reply will never be matched to it. */
        if (dropped.cmd == CMD_PASS || dropped.cmd == CMD_APOP)
            logins_answer(s, dropped.login, MS_OUTCOME_UNKNOWN, NULL, 0);
        if (dropped.cmd == CMD_PASS || dropped.cmd == CMD_APOP ||
            (dropped.cmd == CMD_AUTH && dropped.has_arg))
            ms_textsess_login_reply(&s->ts, MS_OUTCOME_UNKNOWN);
        if (dropped.cmd == CMD_STLS) /* its reply will be taken for another's */
            ms_textsess_starttls_forget(&s->ts);
        /* Its reply will come all the same, and be taken for the next
         * command's: pairing is off from here on, as after a hole. */
        pairing_lost(s);
    }
}

/* ---- client side ----------------------------------------------------- */

/* True for a line no SASL response is: one with a space (base64 has none)
 * or a bare POP3 keyword (RFC 1939, 2449, 2595, 5034). After a server-side
 * gap an exchange may be over unseen; the client's next command ends it. */
static bool plainly_command(const uint8_t *line, size_t len)
{
    static const char *const bare[] = { "STAT", "LIST", "UIDL", "NOOP", "RSET",
                                        "QUIT", "CAPA", "STLS", "AUTH" };
    if (memchr(line, ' ', len))
        return true;
    for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
        if (ms_ascii_eq(line, len, bare[i]))
            return true;
    }
    return false;
}

static enum pop3_cmd parse_cmd(const uint8_t *w, size_t n)
{
    static const struct ms_keyword table[] = {
        { "USER", CMD_USER }, { "PASS", CMD_PASS }, { "RETR", CMD_RETR }, { "TOP", CMD_TOP },
        { "CAPA", CMD_CAPA }, { "LIST", CMD_LIST }, { "UIDL", CMD_UIDL }, { "AUTH", CMD_AUTH },
        { "STLS", CMD_STLS }, { "QUIT", CMD_QUIT }, { "APOP", CMD_APOP },
    };
    return ms_keyword_find(table, sizeof(table) / sizeof(table[0]), w, n, CMD_OTHER);
}

/* command = keyword [SP arguments] CRLF (RFC 1939 section 3). Keywords are
 * case-insensitive; PASS takes the whole rest of the line, spaces included
 * (RFC 1939 section 7 allows a password with spaces). */
static void client_line(struct pop3 *s, const uint8_t *line, size_t len)
{
    if (s->sasl_exchange && s->sasl_cut != MS_CUT_NONE && plainly_command(line, len))
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE); /* its end was lost */
    /* A SASL response is base64 (RFC 5034 4): a command line during an
     * exchange is a command (its reply, later, still ends the exchange),
     * never a response: "USER carol" would otherwise vanish into it. */
    if (s->sasl_exchange && !plainly_command(line, len)) {
        /* SASL responses are not commands; the final reply ends them. */
        ms_sasl_response(&s->sasl, line, len);
        return;
    }
    if (s->sasl_dead)
        return; /* a response in an exchange a gap ended: already reported */
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

    /* Queued first: when the FIFO is full the command it drops may be a
     * login, whose record is then reported and frees its place in the
     * ring before this one takes a place there. */
    fifo_push(s, cmd, has_arg, logins_next_seq(&s->logins));
    switch (cmd) {
    case CMD_USER: {
        ms_buf_reset(&s->user);
        enum ms_rc rc = ms_buf_append_some(&s->user, arg, arg_len);
        if (rc == MS_ERR_NOMEM) {
            ms_textsess_nomem(&s->ts, "a user name could not be kept");
            return;
        }
        s->user_truncated = rc == MS_ERR_LIMIT;
        s->have_user = true;
        break;
    }
    case CMD_PASS:
        break;
    default:
        /* USER names the user of the PASS that follows it (RFC 1939 7);
         * after any other command a PASS names no one known. */
        forget_user(s);
        break;
    }
    if (cmd == CMD_PASS || cmd == CMD_APOP || (cmd == CMD_AUTH && has_arg))
        ms_textsess_login_sent(&s->ts);
    switch (cmd) {
    case CMD_PASS: {
        /* The user is the one named when PASS was sent: a pipelining
         * client may send its next USER before this PASS is answered. */
        struct login *l = logins_add(s, CMD_PASS);
        l->gap = s->unsure;
        l->have_user = s->have_user;
        size_t take = arg_len < s->lim.max_secret ? arg_len : s->lim.max_secret;
        l->incomplete = !s->have_user || s->user_truncated || take < arg_len;
        /* Both fit their buffers (max_secret): only memory fails. */
        if ((s->have_user && ms_buf_append(&l->user, s->user.p, s->user.len) != MS_OK) ||
            ms_buf_append(&l->secret, arg, take) != MS_OK)
            ms_textsess_nomem(&s->ts, "a login could not be kept");
        break;
    }
    case CMD_APOP: {
        /* APOP name digest (RFC 1939 section 7); the digest is the last
         * word, so a name with spaces stays whole. */
        struct login *l = logins_add(s, CMD_APOP);
        l->gap = s->unsure;
        size_t sp = arg_len;
        while (sp > 0 && arg[sp - 1] != ' ')
            sp--;
        if (sp == 0) {
            emit_anomaly(s, MS_ANOM_APOP_MALFORMED, "APOP without a digest");
            if (ms_buf_append_some(&l->user, arg, arg_len) == MS_ERR_NOMEM)
                ms_textsess_nomem(&s->ts, "a login could not be kept");
            l->incomplete = true;
        } else {
            enum ms_rc rc = ms_buf_append_some(&l->user, arg, sp - 1);
            l->incomplete = rc == MS_ERR_LIMIT;
            size_t dlen = arg_len - sp;
            size_t take = dlen < MS_POP3_APOP_DIGEST_MAX ? dlen : MS_POP3_APOP_DIGEST_MAX;
            if (take < dlen)
                l->incomplete = true;
            /* The digest fits its buffer: only memory fails. */
            if (rc == MS_ERR_NOMEM || ms_buf_append(&l->secret, arg + sp, take) != MS_OK) {
                ms_textsess_nomem(&s->ts, "a login could not be kept");
                break;
            }
            if (!hex32(&l->secret))
                emit_anomaly(s, MS_ANOM_APOP_MALFORMED, "APOP digest is not 32 hex digits");
        }
        break;
    }
    case CMD_STLS:
        /* Bytes the client sends before the reply were written before TLS
         * could start: the text session watches for them. */
        ms_textsess_starttls_sent(&s->ts);
        break;
    case CMD_AUTH:
        /* AUTH mechanism [initial-response] (RFC 5034 section 4) */
        if (has_arg && s->sasl_exchange) {
            /* Pipelined behind an AUTH still awaiting its reply (RFC 5034
             * forbids it): that one ends here, and the replies to come
             * cannot be told apart. */
            end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
            s->sasl_piped = true;
        }
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
    /* The server is done with any AUTH exchange a gap ended or cut. */
    s->sasl_dead = false;
    if (s->sasl_exchange && s->sasl_cut != MS_CUT_NONE)
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
    struct pending p;
    if (!ms_cmdfifo_pop(&s->fifo, &p)) {
        /* The banner, or a reply we joined too late for. An APOP server's
         * banner carries a timestamp, an RFC 822 msg-id (RFC 1939 7). */
        if (!s->greeted && ok) {
            const uint8_t *lt = memchr(line, '<', len);
            const uint8_t *gt = lt ? memchr(lt, '>', len - (size_t)(lt - line)) : NULL;
            if (gt) {
                ms_buf_reset(&s->apop_ts);
                size_t tl = (size_t)(gt - lt) + 1;
                enum ms_rc rc = ms_buf_append_some(&s->apop_ts, lt, tl);
                if (rc == MS_ERR_NOMEM) {
                    /* APOP credentials would lack their challenge. */
                    ms_textsess_nomem(&s->ts, "the APOP timestamp could not be kept");
                    return;
                }
                if (rc == MS_ERR_LIMIT)
                    ms_buf_reset(&s->apop_ts); /* a cut salt is useless */
            }
        }
        s->greeted = true;
        /* Nothing awaited this reply: it answers a command lost in a gap
         * (or sent before the capture), and is paired with nothing. */
        return;
    }
    /* After a hole, replies stay unsure for the rest of the connection:
     * neither an empty FIFO nor a reply nothing awaited proves them back
     * in step (a lost command's reply may still come, a skipped line may
     * have been a whole reply), and a wrong outcome is worse than none. */
    /* A command sent while replies could still be those of commands lost
     * in a gap: this reply may not be its own. */
    enum ms_outcome outcome = ok ? MS_OUTCOME_SUCCESS : MS_OUTCOME_FAILURE;
    const uint8_t *reply = line;
    size_t rlen = len;
    if (p.unsure) {
        outcome = MS_OUTCOME_UNKNOWN;
        reply = NULL;
        rlen = 0;
    }
    if (p.cmd == CMD_PASS || p.cmd == CMD_APOP || (p.cmd == CMD_AUTH && p.has_arg))
        ms_textsess_login_reply(&s->ts, outcome);
    switch (p.cmd) {
    case CMD_PASS:
    case CMD_APOP:
        logins_answer(s, p.login, outcome, reply, rlen);
        break;
    case CMD_AUTH:
        if (s->sasl_exchange)
            end_sasl(s, outcome, reply, rlen, p.unsure ? MS_CUT_INCOMPLETE : MS_CUT_NONE);
        break;
    case CMD_CAPA:
        if (ok) {
            /* A fresh list replaces what an earlier CAPA said (RFC 2449
             * 5); the STLS line is multi_line's. */
            ms_textsess_caps_list(&s->ts, true);
            /* A reply that may be another command's is no listing. */
            if (!p.unsure)
                ms_textsess_listing_begin(&s->ts);
        }
        break;
    case CMD_STLS:
        ms_textsess_starttls_reply(&s->ts, ok);
        if (!ok)
            ms_textsess_tls_refused(&s->ts);
        break;
    default:
        break;
    }
    if (ok && multiline_reply(&p)) {
        s->multi = true;
        s->multi_cmd = p.cmd;
        if (p.cmd == CMD_RETR || p.cmd == CMD_TOP)
            ms_textsess_msg_new(&s->ts, &s->msg);
    }
}

/* One line of a multi-line reply (RFC 1939 section 3): a line of just "."
 * ends it, and a leading "." on any other line was added by the server. */
static void multi_line(struct pop3 *s, const uint8_t *line, size_t len, unsigned flags)
{
    bool line_start = !(flags & MS_LINE_CONT);
    if (line_start && len > 0 && line[0] == '.') {
        if (ms_line_strip(line, len) == 1 && !(flags & MS_LINE_PARTIAL) && line[len - 1] == '\n') {
            if (s->multi_cmd == CMD_CAPA)
                ms_textsess_listing_end(&s->ts);
            end_message(s, false);
            s->multi = false;
            return;
        }
        line++;
        len--;
    }
    if (s->multi_cmd == CMD_CAPA && line_start) {
        /* capa = keyword *(SP param) (RFC 2449 section 5); STLS is RFC
         * 2595 section 4's, SASL lists the AUTH mechanisms (RFC 5034). */
        size_t n = ms_line_strip(line, len);
        size_t kw = 0;
        while (kw < n && line[kw] != ' ')
            kw++;
        if (ms_ascii_eq(line, kw, "STLS")) {
            ms_textsess_caps_tls(&s->ts);
        } else if (ms_ascii_eq(line, kw, "SASL")) {
            size_t i = kw;
            while (i < n) {
                while (i < n && line[i] == ' ')
                    i++;
                size_t e = i;
                while (e < n && line[e] != ' ')
                    e++;
                ms_textsess_caps_mech(&s->ts, line + i, e - i);
                i = e;
            }
        }
    }
    ms_textsess_msg_feed(&s->ts, &s->msg, line, len);
}

static void server_line(struct pop3 *s, const uint8_t *line, size_t len)
{
    size_t n = ms_line_strip(line, len);
    if (n >= 3 && memcmp(line, "+OK", 3) == 0 && (n == 3 || line[3] == ' ' || line[3] == '\t')) {
        server_status(s, true, line, n);
    } else if (n >= 4 && memcmp(line, "-ERR", 4) == 0) {
        server_status(s, false, line, n);
    } else if (n >= 1 && line[0] == '+' && s->sasl_exchange && s->sasl_cut == MS_CUT_NONE) {
        /* "+ challenge": a SASL continuation, the AUTH is still pending.
         * After a server-side gap it may not be the one the client
         * answers: not used. */
        size_t skip = n >= 2 && line[1] == ' ' ? 2 : 1;
        ms_sasl_challenge(&s->sasl, line + skip, n - skip);
    } else if (!s->greeted && s->fifo.len == 0) {
        s->greeted = true;
    }
}

/* ---- line dispatch --------------------------------------------------- */

/* Bare keywords (RFC 1939, 2449, 2595) besides parse_cmd's. */
static bool bare_keyword(const uint8_t *w, size_t n)
{
    static const char *const bare[] = { "STAT", "NOOP", "RSET", "DELE", "LAST" };
    for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
        if (ms_ascii_eq(w, n, bare[i]))
            return true;
    }
    return false;
}

/* The first line after a hole. Client: a line that begins with a POP3
 * keyword is a command (a hole of whole segments ends on a line boundary),
 * so "PASS x" right after a hole is read; USER was forgotten by the hole
 * (pop3_lost), so the PASS names no user. Server: a lone "." still ends a
 * multi-line reply (a tail never is one: it would have been ".."); missing
 * it would run the next replies into the message. */
static bool pop3_plausible(void *ctx, unsigned dir, const uint8_t *line, size_t len)
{
    struct pop3 *s = ctx;
    size_t n = ms_line_strip(line, len);
    if (dir == MS_TO_CLIENT)
        return s->multi && n == 1 && line[0] == '.';
    size_t kw = 0;
    while (kw < n && line[kw] != ' ')
        kw++;
    return parse_cmd(line, kw) != CMD_OTHER || bare_keyword(line, kw);
}

/* A multi-line reply is message text: its long lines are data. */
static bool pop3_takes_fragments(void *ctx, unsigned dir)
{
    const struct pop3 *s = ctx;
    return dir == MS_TO_CLIENT && s->multi;
}

/* A hole in one direction (README, Streams: what a gap means). Whatever
 * awaited a reply is settled now, outcome unknown: in the server's bytes
 * its reply may be lost, and the replies after the hole then belong to
 * commands sent before it, lost in it or sent after it, with no telling
 * which. In the client's bytes the replies to the commands pending are
 * still to come, first: their FIFO records stay, so that a RETR's body or
 * an STLS is still read as such, but their logins are reported now. */
static void lost_in_gap(struct pop3 *s, unsigned dir)
{
    if (dir == MS_TO_CLIENT)
        ms_textsess_msg_gap(&s->msg);
    /* Commands pending besides an AUTH whose responses the hole cut. */
    bool others_pending = s->fifo.len > (s->sasl_exchange ? 1u : 0u);
    while (s->logins.len) {
        s->logins.rec[s->logins.head].gap = true;
        logins_emit_head(s, MS_OUTCOME_UNKNOWN, NULL, 0);
    }
    if (s->sasl_exchange && dir == MS_TO_CLIENT) {
        /* The hole may have taken the challenge the response answers, or
         * the final reply: the client's lines go on being read, but the
         * outcome is unknown (end_sasl). */
        s->sasl_cut = MS_CUT_NO_HASHCAT;
    } else if (s->sasl_exchange) {
        /* Lines after the hole are not this exchange's for sure: never
         * continued. */
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_INCOMPLETE);
        s->sasl_dead = true;
    }
    if (dir == MS_TO_CLIENT) {
        ms_cmdfifo_clear(&s->fifo);
        /* An STLS's reply may be the one lost: what the client sends now
         * is not read (it may be TLS), as in SMTP. */
        ms_textsess_starttls_lost(&s->ts);
        /* Replies to what was pending may still come (or were lost); and
         * the line after the hole is skipped, which may be a whole reply
         * to a command not yet seen (a hole given up before the request
         * it answers came). */
        s->unsure = true;
        return;
    }
    /* Commands may be lost: their replies come ahead of later commands'.
     * A USER lost in the hole would have named someone else. */
    s->unsure = true;
    if (others_pending)
        s->pipelining = true;
    forget_user(s);
}

/* A line lost (textsess.h): what it would have changed is unknown. A
 * client line dropped over the cap was a command (the server will answer
 * it) that may have named another user, or been a SASL response; a server
 * line was a reply, and the replies after it may no longer line up. */
static void pop3_lost(void *ctx, unsigned dir, enum ms_ts_lost why)
{
    struct pop3 *s = ctx;
    if (why == MS_TS_LOST_GAP) {
        lost_in_gap(s, dir);
        return;
    }
    if (dir == MS_TO_SERVER) {
        if (s->sasl_exchange) {
            s->sasl_cut = MS_CUT_INCOMPLETE;
            ms_sasl_lost_response(&s->sasl);
            return;
        }
        fifo_push(s, CMD_OTHER, true, logins_next_seq(&s->logins));
        forget_user(s);
        return;
    }
    pairing_lost(s);
}

static void pop3_line(void *ctx, unsigned dir, const uint8_t *line, size_t len, unsigned flags)
{
    struct pop3 *s = ctx;
    if (dir == MS_TO_CLIENT && s->multi)
        multi_line(s, line, len, flags);
    else if (dir == MS_TO_SERVER)
        client_line(s, line, ms_line_strip(line, len));
    else
        server_line(s, line, len);
}

static const struct ms_textsess_ops pop3_ops = {
    .proto = "pop3",
    .injection = MS_ANOM_STLS_COMMAND_INJECTION,
    .injection_detail = "plaintext sent after STLS before the server's reply",
    .on_line = pop3_line,
    .plausible_line_start = pop3_plausible,
    .on_lost = pop3_lost,
    .takes_fragments = pop3_takes_fragments,
};

/* ---- vtable ---------------------------------------------------------- */

static void *pop3_create(const struct ms_limits *lim, const struct ms_sink *sink)
{
    struct pop3 *s = ms_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->lim = *lim;
    if (ms_cmdfifo_init(&s->fifo, lim->max_pending_cmds, sizeof(struct pending)) != MS_OK) {
        ms_free(s);
        return NULL;
    }
    if (logins_init(&s->logins, lim) != MS_OK) {
        ms_cmdfifo_free(&s->fifo);
        ms_free(s);
        return NULL;
    }
    ms_textsess_init(&s->ts, &s->lim, sink, &pop3_ops, s);
    ms_buf_init(&s->user, lim->max_secret);
    ms_buf_init(&s->apop_ts, lim->max_secret);
    ms_buf_init(&s->apop_line, 33 + lim->max_secret);
    ms_sasl_init(&s->sasl, lim);
    return s;
}

static enum ms_rc pop3_feed(void *st, unsigned dir, const uint8_t *p, size_t n)
{
    struct pop3 *s = st;
    return ms_textsess_feed(&s->ts, dir, p, n);
}

static void pop3_gap(void *st, unsigned dir, uint64_t missing)
{
    struct pop3 *s = st;
    (void)missing;
    ms_textsess_gap(&s->ts, dir);
}

static void pop3_finish(void *st)
{
    struct pop3 *s = st;
    ms_textsess_finish(&s->ts);
    if (s->multi)
        end_message(s, true);
    s->multi = false;
    while (s->logins.len)
        logins_emit_head(s, MS_OUTCOME_UNKNOWN, NULL, 0);
    if (s->sasl_exchange)
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
}

static void pop3_destroy(void *st)
{
    struct pop3 *s = st;
    if (!s)
        return;
    ms_textsess_msg_free(&s->msg);
    ms_textsess_free(&s->ts);
    ms_buf_free(&s->user);
    logins_free(&s->logins);
    ms_buf_free(&s->apop_ts);
    ms_buf_free(&s->apop_line);
    ms_sasl_free(&s->sasl);
    ms_cmdfifo_free(&s->fifo);
    ms_free(s);
}

/* Server: a banner or reply starting "+OK" / "-ERR". Client: a command
 * only POP3 has. Either needs a whole first line to say yes. */
static enum ms_probe pop3_probe(unsigned dir, const uint8_t *p, size_t n)
{
    const uint8_t *lf = memchr(p, '\n', n);
    if (!lf)
        return n < MS_PROBE_WINDOW ? MS_PROBE_MAYBE : MS_PROBE_NO;
    size_t len = ms_line_strip(p, (size_t)(lf - p) + 1);
    if (dir == MS_TO_CLIENT) {
        if ((len >= 3 && memcmp(p, "+OK", 3) == 0 && (len == 3 || p[3] == ' ')) ||
            (len >= 4 && memcmp(p, "-ERR", 4) == 0))
            return MS_PROBE_YES;
        return MS_PROBE_NO;
    }
    static const char *const only_pop3[] = { "USER ", "PASS ", "APOP ", "STLS", "CAPA",
                                             "RETR ", "UIDL",  "TOP ",  "STAT" };
    for (size_t i = 0; i < sizeof(only_pop3) / sizeof(only_pop3[0]); i++) {
        if (ms_ascii_prefix(p, len, only_pop3[i]))
            return MS_PROBE_YES;
    }
    return MS_PROBE_NO;
}

static bool pop3_tls(const void *st)
{
    return ms_textsess_tls(&((const struct pop3 *)st)->ts);
}

static void pop3_posture(const void *st, struct ms_session_posture *out)
{
    ms_textsess_posture(&((const struct pop3 *)st)->ts, out);
}

const struct ms_dissector ms_dissector_pop3 = {
    .name = "pop3",
    .probe = pop3_probe,
    .create = pop3_create,
    .feed = pop3_feed,
    .gap = pop3_gap,
    .finish = pop3_finish,
    .destroy = pop3_destroy,
    .tls = pop3_tls,
    .posture = pop3_posture,
};
