/* SMTP dissector (RFC 5321; RFC 4954 AUTH; RFC 2920 PIPELINING; RFC 3030
 * CHUNKING/BDAT; RFC 3207 STARTTLS).
 *
 * Client lines are commands; server lines are replies (RFC 5321 4.2: a
 * 3-digit code, "-" on every line of a multi-line reply but the last). Each
 * complete reply answers the oldest command in a bounded FIFO, since RFC 2920
 * lets a client send MAIL/RCPT/DATA in one go; the greeting is answered by
 * nobody and is recognised as the first 220 (or 421/554) the server sends,
 * even when the client talked first.
 *
 * Messages: the client enters DATA mode as soon as it sends DATA, without
 * waiting for the 354 (captures of the client side only, and clients that
 * pipeline the body, must still yield messages); a refusal of DATA cancels
 * it. The body is dot-unstuffed (RFC 5321 4.5.2) up to the line ".", fed to
 * the MIME parser, and reported once the server's verdict on it arrives
 * (accepted true for 2xx, false for 4xx/5xx), or at the end of the capture
 * with the verdict unknown. BDAT chunks (RFC 3030 2) are exact byte counts,
 * never unstuffed; the message ends with the chunk marked LAST. Each
 * message carries its transaction's envelope (MAIL FROM, RCPT TO, as the
 * client wrote them) and the latest HELO/EHLO argument; a hole in the
 * client's bytes outside message data forgets both (a lost command may
 * have changed them).
 *
 * Logins: AUTH exchanges go through sasl.c; "334 text" replies are
 * challenges, client lines are responses until the final reply (235 success,
 * anything else failure). Lines, gaps, the stop after a 220 to STARTTLS and
 * the command injection rule (client bytes after STARTTLS, before its
 * reply: CVE-2011-0411) are the text session's (textsess.h); injected
 * commands are not parsed as the client's.
 *
 * Gaps: a reply lost in a hole would shift every later pairing, and a lost
 * command's reply would be taken for the next command's. So a gap in either
 * direction settles what awaited a reply, unknown: an AUTH is reported with
 * an unknown outcome, a message with no verdict (smtp_gap); a reply that
 * nothing awaits is paired with nothing; and after a hole, commands sent
 * before the replies have caught up with the FIFO (it drains, or a client
 * seen to send one command at a time gets a reply it did not wait for) get
 * no outcome or verdict either (struct pending.unsure). A hole inside
 * message data loses no command (the data ends at "." or at a BDAT count):
 * it only truncates the message. A client-side hole ends an AUTH exchange
 * (never continued with lines after it); a server-side one leaves the
 * client's responses whole: the exchange goes on, incomplete, without a
 * hashcat line and with an unknown outcome, until the server's next final
 * reply or the client's next command. */
#include <stdbool.h>
#include <stdint.h>
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

enum smtp_cmd {
    CMD_OTHER = 0,
    CMD_HELO,
    CMD_EHLO,
    CMD_MAIL,
    CMD_RCPT,
    CMD_DATA,
    CMD_DATA_END, /* not a command: the "." ending the data, awaiting the verdict */
    CMD_BDAT,
    CMD_RSET,
    CMD_AUTH,
    CMD_STARTTLS,
    CMD_QUIT,
    CMD_NOOP,
    CMD_VRFY,
    CMD_EXPN,
    CMD_HELP,
};

/* One message from DATA (or its first BDAT) to the server's verdict. */
struct smsg {
    struct ms_textmsg body; /* the MIME parser */
    const char *command;    /* "DATA" or "BDAT" */
    struct ms_ev_email ev;  /* filled by ms_mime_finish once the data ended */
    bool finished;
    struct ms_buf helo; /* the HELO/EHLO in effect, copied from the session */
    bool have_helo;
    struct ms_buf from; /* envelope, moved from the transaction */
    bool have_from;
    struct ms_buf rcpt; /* recipient addresses, back to back */
    size_t *rcpt_len;   /* length of each, in order */
    size_t n_rcpt;
};

struct pending {
    enum smtp_cmd cmd;
    bool unsure;      /* sent after a gap, before the replies caught up */
    struct smsg *msg; /* DATA_END and the last BDAT: the message judged */
};

/* Fields are grouped by what they track, not packed by size: the padding
 * (~32 bytes a session) is small beside the line buffers and limits. */
/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): see above */
struct smtp {
    struct ms_limits lim;
    struct ms_textsess ts; /* lines, gaps, STARTTLS (textsess.h) */

    struct ms_cmdfifo fifo; /* commands awaiting their reply (struct pending) */
    bool server_seen;       /* any reply line at all (else: a one-sided capture) */
    bool greeting_expected; /* the server's first reply is its greeting */

    /* The reply being assembled (multi-line replies, RFC 5321 4.2.1). */
    bool in_reply;
    enum smtp_cmd reply_for;
    bool reply_greeting;
    bool reply_cap_starttls;

    /* The argument of the latest HELO/EHLO (RFC 5321 4.1.1.1), capped at
     * max_line. Suricata keeps the first; a new EHLO resets the session
     * (RFC 5321 4.1.4), so the latest is the one in effect. Forgotten by a
     * hole in the client's bytes, which may have held another. */
    struct ms_buf helo;
    bool have_helo;

    bool sasl_exchange;        /* an AUTH exchange holds the client's lines */
    bool sasl_client_done;     /* the client went on with commands meanwhile */
    bool sasl_gap;             /* a response could not be read (over the line cap) */
    bool sasl_dead;            /* an exchange a client-side gap ended: the client's
                                 lines that are not commands are its responses,
                                 skipped */
    enum ms_emit_cut sasl_cut; /* a server-side gap hit the exchange (and took
                                 its AUTH record: the next final reply ends it) */
    bool sasl_confirm;         /* begun after a client hole: reported only once a
                                 reply fits an AUTH (sasl_fits) */
    bool sasl_fits;
    bool sasl_bogus; /* ... and a "response" came before any 334 asked for one */
    struct ms_sasl sasl;

    /* The mail transaction (RFC 5321 3.3). */
    struct ms_buf tx_from;
    bool tx_have_from;
    struct ms_buf tx_rcpt;
    size_t *tx_rcpt_len;
    size_t tx_n_rcpt;
    bool tx_rcpt_over;

    /* Message data in progress. */
    struct smsg *cur;
    bool data_mode;     /* DATA: lines up to "." are the message */
    uint64_t bdat_left; /* BDAT: raw bytes still to come in this chunk */
    bool bdat_active;   /* a BDAT chunk is being received */
    bool bdat_last;     /* ... and it is the LAST one */

    /* After a gap (see the top of the file). */
    bool unsure;      /* replies may not line up with the FIFO yet */
    bool client_hole; /* the client's bytes had a hole: a DATA may be lost */
    bool pipelining;  /* the client sent a command while another awaited
                                 its reply (or may have: a hole with commands
                                 pending) */
};

/* ---- events ---------------------------------------------------------- */

static void emit_anomaly(struct smtp *s, enum ms_anomaly a, const char *detail)
{
    ms_textsess_anomaly(&s->ts, a, detail);
}

/* Reports what an AUTH exchange revealed, once its outcome is known (or
 * once a gap made it unknowable: cut). */
static void end_sasl(struct smtp *s, enum ms_outcome outcome, const uint8_t *reply, size_t rlen,
                     enum ms_emit_cut cut)
{
    s->sasl_exchange = false;
    bool gap = s->sasl_gap; /* a response could not be read */
    s->sasl_gap = false;
    if (s->sasl_confirm && (!s->sasl_fits || s->sasl_bogus)) {
        /* After a client hole this "AUTH" may be a line of a message whose
         * DATA or BDAT was lost: only a reply no message gets proves it a
         * command (see auth_reply_fits). Its cut dies with it: a stale one
         * would disarm the next exchange's checks. */
        s->sasl_cut = MS_CUT_NONE;
        ms_textsess_login_unconfirmed(&s->ts, "AUTH");
        return;
    }
    ms_emit_settle_cut(&s->sasl_cut, &outcome, &reply, &rlen, &cut);
    ms_textsess_sasl_end(&s->ts, &s->sasl, "AUTH", "undecodable SASL response", outcome, reply,
                         rlen, cut, gap);
}

static void smsg_free(struct smsg *m)
{
    if (!m)
        return;
    ms_textsess_msg_free(&m->body);
    ms_buf_free(&m->helo);
    ms_buf_free(&m->from);
    ms_buf_free(&m->rcpt);
    ms_free(m->rcpt_len);
    ms_free(m);
}

static void smsg_finish(struct smsg *m, bool truncated)
{
    if (m->finished)
        return;
    if (truncated)
        ms_mime_set_truncated(m->body.mime);
    ms_mime_finish(m->body.mime, &m->ev);
    m->finished = true;
}

/* Reports a message with the server's verdict (reply NULL: unknown), then
 * frees it. */
static void emit_message(struct smtp *s, struct smsg *m, enum ms_tristate accepted,
                         const uint8_t *reply, size_t rlen)
{
    if (ms_textsess_failed(&s->ts)) {
        smsg_free(m); /* dropped with the session (textsess.h) */
        return;
    }
    smsg_finish(m, true);
    ms_textsess_msg_check(&s->ts, &m->body);
    struct ms_event ev = { .kind = MS_EV_EMAIL, .app_proto = "smtp" };
    ev.u.email = m->ev;
    ev.u.email.command = m->command;
    ev.u.email.helo = m->have_helo ? ms_emit_buf(&m->helo) : MS_BYTES_NONE;
    ev.u.email.mail_from = m->have_from ? ms_emit_buf(&m->from) : MS_BYTES_NONE;
    struct ms_bytes *rcpt = NULL;
    if (m->n_rcpt) {
        rcpt = ms_calloc(m->n_rcpt, sizeof(*rcpt));
        if (!rcpt) {
            /* Without its recipients the message would be misreported:
             * it is dropped. */
            emit_anomaly(s, MS_ANOM_OUT_OF_MEMORY, "out of memory: a message is not reported");
            smsg_free(m);
            return;
        }
        /* Empty paths ("RCPT TO:") leave the buffer unallocated: they
         * are still recipients, written as the client sent them (""). */
        const uint8_t *base = m->rcpt.p ? m->rcpt.p : (const uint8_t *)"";
        size_t off = 0;
        for (size_t i = 0; i < m->n_rcpt; i++) {
            rcpt[i] = ms_bytes_of(base + off, m->rcpt_len[i]);
            off += m->rcpt_len[i];
        }
        ev.u.email.rcpt_to = rcpt;
        ev.u.email.n_rcpt_to = m->n_rcpt;
    }
    ev.u.email.accepted = accepted;
    ev.u.email.server_reply = reply ? ms_bytes_of(reply, rlen) : MS_BYTES_NONE;
    s->ts.sink.emit(s->ts.sink.user, &ev);
    ms_free(rcpt);
    smsg_free(m);
}

/* ---- mail transaction -------------------------------------------------- */

/* Bytes of recipient addresses kept per transaction: each is at most a line. */
static size_t rcpt_cap(const struct ms_limits *lim)
{
    size_t n = lim->smtp_max_rcpt ? lim->smtp_max_rcpt : 1;
    return lim->max_line > SIZE_MAX / n ? SIZE_MAX : lim->max_line * n;
}

static void tx_reset(struct smtp *s)
{
    ms_buf_reset(&s->tx_from);
    s->tx_have_from = false;
    ms_buf_reset(&s->tx_rcpt);
    s->tx_n_rcpt = 0;
    s->tx_rcpt_over = false;
}

/* Drops a BDAT message still being sent (RSET, a new MAIL): the client gave
 * it up before LAST, so it never became a message. */
static void drop_cur(struct smtp *s)
{
    if (s->cur && !s->data_mode) {
        smsg_free(s->cur);
        s->cur = NULL;
    }
}

/* Starts a message, taking the transaction's envelope with it. */
static struct smsg *start_message(struct smtp *s, const char *command)
{
    struct smsg *m = ms_calloc(1, sizeof(*m));
    size_t *lens = ms_calloc(s->lim.smtp_max_rcpt ? s->lim.smtp_max_rcpt : 1, sizeof(*lens));
    /* The HELO/EHLO stays with the session: the message gets a copy (it
     * fits: both hold max_line). */
    if (m) {
        ms_buf_init(&m->helo, s->lim.max_line);
        m->have_helo = s->have_helo;
    }
    if (!m || !lens || (s->have_helo && ms_buf_append(&m->helo, s->helo.p, s->helo.len) != MS_OK)) {
        if (m)
            ms_buf_free(&m->helo);
        ms_free(m);
        ms_free(lens);
        emit_anomaly(s, MS_ANOM_OUT_OF_MEMORY, "message not parsed");
        /* DATA ends the transaction all the same (RFC 5321 4.1.1.4): its
         * envelope must not pass to a later message. */
        tx_reset(s);
        return NULL;
    }
    if (!ms_textsess_msg_new(&s->ts, &m->body)) {
        ms_buf_free(&m->helo);
        ms_free(m);
        ms_free(lens);
        tx_reset(s);
        return NULL;
    }
    m->command = command;
    /* The envelope moves to the message: the transaction starts afresh
     * with empty buffers (RFC 5321 4.1.1.4: DATA ends the transaction). */
    m->from = s->tx_from;
    m->have_from = s->tx_have_from;
    m->rcpt = s->tx_rcpt;
    m->rcpt_len = s->tx_rcpt_len;
    m->n_rcpt = s->tx_n_rcpt;
    s->tx_rcpt_len = lens;
    ms_buf_init(&s->tx_from, s->lim.max_line);
    ms_buf_init(&s->tx_rcpt, rcpt_cap(&s->lim));
    s->tx_have_from = false;
    s->tx_n_rcpt = 0;
    s->tx_rcpt_over = false;
    return m;
}

static void feed_message(struct smtp *s, const uint8_t *p, size_t n)
{
    if (s->cur)
        ms_textsess_msg_feed(&s->ts, &s->cur->body, p, n);
}

/* ---- command FIFO ---------------------------------------------------- */

/* A reply will come for a command not in the FIFO (forgotten past the cap),
 * or one was lost (dropped over the line cap): from here on no reply is
 * trusted to be its command's, those waiting now included. */
static void pairing_lost(struct smtp *s)
{
    s->unsure = true;
    for (size_t i = 0; i < s->fifo.len; i++)
        ((struct pending *)ms_cmdfifo_at(&s->fifo, i))->unsure = true;
}

static void fifo_push(struct smtp *s, enum smtp_cmd cmd, struct smsg *msg)
{
    struct pending p = { .cmd = cmd, .unsure = s->unsure, .msg = msg }, old;
    if (s->fifo.len > 0)
        s->pipelining = true;
    if (!ms_cmdfifo_push(&s->fifo, &p, &old))
        return;
    /* The oldest command was forgotten. A capture of the client side alone
     * never sees replies; only say so when replies were seen. A message it
     * held is reported with its verdict unknown. */
    if (s->server_seen)
        emit_anomaly(s, MS_ANOM_TOO_MANY_PENDING_COMMANDS, "pipelined commands past the cap");
    if (old.msg)
        emit_message(s, old.msg, MS_TRI_UNKNOWN, NULL, 0);
    /* A STARTTLS forgotten: its reply will not be known as such, and what
     * the client sends after it is not read (it may be TLS). */
    if (old.cmd == CMD_STARTTLS)
        ms_textsess_starttls_lost(&s->ts);
    /* Its reply will come all the same, and be taken for the next
     * command's: pairing is off from here on, as after a hole. */
    pairing_lost(s);
}

static enum smtp_cmd fifo_peek(const struct smtp *s)
{
    const struct pending *p = ms_cmdfifo_peek(&s->fifo);
    return p ? p->cmd : CMD_OTHER;
}

/* ---- client side ----------------------------------------------------- */

static enum smtp_cmd parse_verb(const uint8_t *w, size_t n)
{
    static const struct ms_keyword table[] = {
        { "HELO", CMD_HELO }, { "EHLO", CMD_EHLO }, { "MAIL", CMD_MAIL },
        { "RCPT", CMD_RCPT }, { "DATA", CMD_DATA }, { "BDAT", CMD_BDAT },
        { "RSET", CMD_RSET }, { "AUTH", CMD_AUTH }, { "STARTTLS", CMD_STARTTLS },
        { "QUIT", CMD_QUIT }, { "NOOP", CMD_NOOP }, { "VRFY", CMD_VRFY },
        { "EXPN", CMD_EXPN }, { "HELP", CMD_HELP },
    };
    return ms_keyword_find(table, sizeof(table) / sizeof(table[0]), w, n, CMD_OTHER);
}

static size_t verb_len(const uint8_t *line, size_t len)
{
    size_t n = 0;
    while (n < len && line[n] != ' ' && line[n] != '\t')
        n++;
    return n;
}

/* True for a line that can only be a command. Used to resync after a gap,
 * and to see a client leave a SASL exchange whose replies were not seen:
 * "MAIL FROM:" and friends hold characters base64 has not; QUIT, RSET, NOOP
 * and DATA are base64 of bytes no user name or password is made of. */
static bool is_command_line(const uint8_t *line, size_t len)
{
    size_t v = verb_len(line, len);
    enum smtp_cmd cmd = parse_verb(line, v);
    switch (cmd) {
    case CMD_MAIL:
    case CMD_RCPT:
    case CMD_EHLO:
    case CMD_HELO:
    case CMD_BDAT:
    case CMD_AUTH:
        return v < len; /* these take an argument */
    case CMD_OTHER:
        return false;
    default:
        return true;
    }
}

/* A line that reads as some command, known or not: an upper-case verb
 * (RFC 5321 2.4: clients send verbs in upper case in practice) alone or
 * before a space, as Postfix's XFORWARD and XCLIENT, or ETRN. Not a
 * header ("Subject: ...") nor prose. After a client hole such a line is
 * taken for a command, not for the start of a message whose DATA was
 * lost: logins read after the hole are confirmed by their replies anyway
 * (auth_reply_fits), and a message must not be invented from commands. */
static bool looks_like_verb(const uint8_t *line, size_t len)
{
    size_t v = verb_len(line, len);
    if (v < 4 || v > 16)
        return false;
    for (size_t i = 0; i < v; i++) {
        if (line[i] < 'A' || line[i] > 'Z')
            return false;
    }
    return true;
}

/* Path = "<" [ A-d-l ":" ] Mailbox ">" (RFC 5321 4.1.2), after "FROM:" or
 * "TO:", reported as the client wrote it, in Suricata's form
 * (app-layer-smtp.c, SMTPParseCommandWithParam): spaces after the colon
 * skipped, then everything up to the next space, angle brackets kept, so
 * "<a@b> SIZE=100" gives "<a@b>", "<>" gives "<>", and a path sent without
 * brackets (spambots) is kept bare. */
static bool parse_path(const uint8_t *arg, size_t alen, const char *kw, const uint8_t **out,
                       size_t *olen)
{
    size_t kwl = strlen(kw);
    if (!ms_ascii_prefix(arg, alen, kw))
        return false;
    size_t i = kwl;
    while (i < alen && arg[i] == ' ')
        i++;
    size_t j = i;
    while (j < alen && arg[j] != ' ')
        j++;
    *out = arg + i;
    *olen = j - i;
    return true;
}

/* The HELO/EHLO argument (the client's domain or address literal, RFC 5321
 * 4.1.1.1): its first word, as Suricata keeps it (arg starts after the
 * verb's spaces). An empty one is kept empty (present). */
static void set_helo(struct smtp *s, const uint8_t *arg, size_t alen)
{
    size_t n = 0;
    while (n < alen && !ms_ascii_space(arg[n]))
        n++;
    alen = n;
    ms_buf_reset(&s->helo);
    if (ms_buf_append_some(&s->helo, arg, alen) == MS_ERR_NOMEM) {
        ms_textsess_nomem(&s->ts, "a HELO could not be kept");
        return;
    }
    s->have_helo = true;
}

static void forget_helo(struct smtp *s)
{
    ms_buf_reset(&s->helo);
    s->have_helo = false;
}

/* Checked decimal parser: digits only, at most max. */
static bool parse_u64(const uint8_t *p, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static void end_bdat_chunk(struct smtp *s)
{
    s->bdat_active = false;
    if (s->bdat_last && s->cur) {
        struct smsg *m = s->cur;
        s->cur = NULL;
        smsg_finish(m, false);
        fifo_push(s, CMD_BDAT, m);
    } else {
        fifo_push(s, CMD_BDAT, NULL);
    }
}

/* bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF (RFC 3030 2) */
static void cmd_bdat(struct smtp *s, const uint8_t *arg, size_t alen)
{
    size_t n = verb_len(arg, alen);
    uint64_t size;
    if (!parse_u64(arg, n, MS_SMTP_BDAT_MAX_CHUNK, &size)) {
        /* Without the size the chunk's end cannot be found: what follows
         * is parsed as lines again (the server will refuse it too). */
        emit_anomaly(s, MS_ANOM_BDAT_BAD_SIZE, "BDAT without a valid chunk size");
        fifo_push(s, CMD_OTHER, NULL);
        return;
    }
    size_t i = n;
    while (i < alen && ms_ascii_space(arg[i]))
        i++;
    bool last = ms_ascii_eq(arg + i, alen - i, "LAST");
    if (!s->cur) {
        s->cur = start_message(s, "BDAT");
    }
    s->bdat_active = true;
    s->bdat_last = last;
    s->bdat_left = size;
    if (size == 0)
        end_bdat_chunk(s);
    else
        ms_textsess_raw(&s->ts, MS_TO_SERVER, size);
}

static void bdat_bytes(struct smtp *s, const uint8_t *p, size_t n)
{
    if (!s->bdat_active)
        return;
    feed_message(s, p, n);
    s->bdat_left -= n <= s->bdat_left ? n : s->bdat_left;
    if (s->bdat_left == 0)
        end_bdat_chunk(s);
}

static void cmd_rcpt(struct smtp *s, const uint8_t *addr, size_t alen)
{
    if (s->tx_n_rcpt >= s->lim.smtp_max_rcpt) {
        if (!s->tx_rcpt_over) {
            s->tx_rcpt_over = true;
            emit_anomaly(s, MS_ANOM_TOO_MANY_RECIPIENTS,
                         "RCPT TO past the cap; later ones not kept");
        }
        return;
    }
    /* tx_rcpt holds smtp_max_rcpt lines: only memory fails. A message
     * without one of its recipients would be misreported: the session is
     * dropped. */
    if (ms_buf_append(&s->tx_rcpt, addr, alen) != MS_OK) {
        ms_textsess_nomem(&s->ts, "a recipient could not be kept");
        return;
    }
    s->tx_rcpt_len[s->tx_n_rcpt++] = alen;
}

/* command = verb [SP parameters] CRLF (RFC 5321 4.1.1); verbs are
 * case-insensitive. */
static void command_line(struct smtp *s, const uint8_t *line, size_t len)
{
    size_t v = verb_len(line, len);
    enum smtp_cmd cmd = parse_verb(line, v);
    size_t a = v;
    while (a < len && ms_ascii_space(line[a]))
        a++;
    const uint8_t *arg = line + a;
    size_t alen = len - a;
    const uint8_t *addr;
    size_t addr_len;

    switch (cmd) {
    case CMD_HELO:
    case CMD_EHLO:
        /* RFC 5321 4.1.4: EHLO/HELO reset any transaction. */
        drop_cur(s);
        tx_reset(s);
        set_helo(s, arg, alen);
        break;
    case CMD_RSET:
        drop_cur(s);
        tx_reset(s);
        break;
    case CMD_MAIL:
        drop_cur(s);
        tx_reset(s);
        if (parse_path(arg, alen, "FROM:", &addr, &addr_len)) {
            if (ms_buf_append_some(&s->tx_from, addr, addr_len) == MS_ERR_NOMEM) {
                ms_textsess_nomem(&s->ts, "a sender could not be kept");
                break;
            }
            s->tx_have_from = true;
        }
        break;
    case CMD_RCPT:
        if (parse_path(arg, alen, "TO:", &addr, &addr_len))
            cmd_rcpt(s, addr, addr_len);
        break;
    case CMD_DATA:
        drop_cur(s);
        fifo_push(s, CMD_DATA, NULL);
        s->cur = start_message(s, "DATA");
        s->data_mode = true;
        return;
    case CMD_BDAT:
        cmd_bdat(s, arg, alen);
        return;
    case CMD_AUTH:
        /* AUTH mechanism [initial-response] (RFC 4954 4) */
        if (alen > 0) {
            if (s->sasl_exchange) /* the previous AUTH's reply never came */
                end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
            size_t m = verb_len(arg, alen);
            size_t ir = m;
            while (ir < alen && ms_ascii_space(arg[ir]))
                ir++;
            bool has_ir = ir < alen;
            ms_sasl_start(&s->sasl, arg, m, has_ir ? arg + ir : NULL, has_ir ? alen - ir : 0,
                          has_ir);
            s->sasl_exchange = true;
            ms_textsess_login_sent(&s->ts);
            s->sasl_client_done = false;
            s->sasl_gap = false;
            s->sasl_confirm = s->client_hole;
            s->sasl_fits = false;
            s->sasl_bogus = false;
            s->sasl_cut = MS_CUT_NONE;
        }
        break;
    case CMD_STARTTLS:
        /* RFC 3207 4: the client waits for the reply; the text session
         * watches for bytes that do not. */
        ms_textsess_starttls_sent(&s->ts);
        break;
    default:
        break;
    }
    fifo_push(s, cmd, NULL);
}

/* Message text whose DATA was lost in a gap (a 354 nothing awaited, or a
 * line that is no command after a hole in the client's bytes): its start
 * (and envelope) may be lost too. */
static void start_data_unpaired(struct smtp *s)
{
    drop_cur(s);
    s->cur = start_message(s, "DATA");
    if (s->cur)
        ms_mime_set_truncated(s->cur->body.mime);
    s->data_mode = true;
}

/* One line of message data (RFC 5321 4.5.2): a line of just "." ends it, and
 * a leading "." on any other line was added by the client. Only the start of
 * a line is looked at; fragments of a long line are data. */
static void data_line(struct smtp *s, const uint8_t *line, size_t len, unsigned flags)
{
    bool line_start = !(flags & MS_LINE_CONT);
    if (line_start && len > 0 && line[0] == '.') {
        if (ms_line_strip(line, len) == 1 && !(flags & MS_LINE_PARTIAL) && line[len - 1] == '\n') {
            s->data_mode = false;
            struct smsg *m = s->cur;
            s->cur = NULL;
            if (m)
                smsg_finish(m, false);
            fifo_push(s, CMD_DATA_END, m);
            return;
        }
        line++;
        len--;
    }
    feed_message(s, line, len);
}

static void client_line(struct smtp *s, const uint8_t *line, size_t len, unsigned flags)
{
    if (flags & MS_TS_INJECTED)
        return; /* sent after STARTTLS: a vulnerable server runs it inside TLS */
    if (s->data_mode) {
        data_line(s, line, len, flags);
        return;
    }
    size_t n = ms_line_strip(line, len);
    if (s->sasl_dead) {
        /* An exchange a gap ended (and reported): its responses go on
         * until the client sends a command again. */
        if (!is_command_line(line, n))
            return;
        s->sasl_dead = false;
    }
    if (s->client_hole && !(s->sasl_exchange && !s->sasl_client_done) &&
        !is_command_line(line, n) && !looks_like_verb(line, n)) {
        /* After a hole in the client's bytes, a line that is no command
         * ("Subject: ...") says the hole took a DATA (and maybe its 354):
         * this is message text, and its lines must never be read as
         * commands (a body line "AUTH PLAIN ..." would become a login). */
        start_data_unpaired(s);
        data_line(s, line, len, flags);
        return;
    }
    if (s->sasl_exchange && !s->sasl_client_done) {
        if (!is_command_line(line, n)) {
            /* SASL responses are not commands; the final reply ends them.
             * A client answers a 334 only: after a client hole, a line
             * before any (and no server hole to have taken it) says the
             * "AUTH" was a line of message text going on. */
            if (s->sasl_confirm && !s->sasl_fits && s->sasl_cut == MS_CUT_NONE)
                s->sasl_bogus = true;
            ms_sasl_response(&s->sasl, line, n);
            return;
        }
        /* The client went on with commands: it pipelined them after an
         * initial response, gave up, or the replies were not captured. The
         * AUTH's own reply, if it comes, still gives the outcome; after a
         * server-side gap it may be lost: the exchange ends here. */
        s->sasl_client_done = true;
        if (s->sasl_cut != MS_CUT_NONE)
            end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
    }
    command_line(s, line, n);
}

/* ---- server side ----------------------------------------------------- */

/* Reply-line = Reply-code [ SP / "-" textstring ] CRLF (RFC 5321 4.2) */
static bool reply_code(const uint8_t *line, size_t n, unsigned *code, bool *more)
{
    if (n < 3)
        return false;
    for (int i = 0; i < 3; i++) {
        if (line[i] < '0' || line[i] > '9')
            return false;
    }
    if (line[0] < '2' || line[0] > '5')
        return false;
    if (n > 3 && line[3] != ' ' && line[3] != '-' && line[3] != '\t')
        return false;
    *code = (unsigned)(line[0] - '0') * 100 + (unsigned)(line[1] - '0') * 10 +
            (unsigned)(line[2] - '0');
    *more = n > 3 && line[3] == '-';
    return true;
}

/* ehlo-line = ehlo-keyword *( SP ehlo-param ) (RFC 5321 4.1.1.1) */
static void ehlo_line(struct smtp *s, const uint8_t *text, size_t n)
{
    size_t k = 0;
    while (k < n && text[k] != ' ' && text[k] != '=')
        k++;
    if (ms_ascii_eq(text, k, "STARTTLS")) {
        s->reply_cap_starttls = true;
    } else if (ms_ascii_eq(text, k, "AUTH")) {
        /* "AUTH PLAIN LOGIN", or the pre-standard "AUTH=PLAIN LOGIN". */
        size_t i = k;
        while (i < n) {
            while (i < n && (text[i] == ' ' || text[i] == '='))
                i++;
            size_t e = i;
            while (e < n && text[e] != ' ')
                e++;
            ms_textsess_caps_mech(&s->ts, text + i, e - i);
            i = e;
        }
    }
}

/* A reply that nothing awaits: it answers a command lost in a gap (or sent
 * before the capture), and is paired with nothing. Replies stay unsure for
 * the rest of the connection (see smtp_gap). A 354 says the client is now
 * sending a message (its DATA was lost): read it as one, so that its lines
 * are never taken for commands. */
static void reply_unpaired(struct smtp *s, unsigned code)
{
    if (code == 354 && !s->data_mode)
        start_data_unpaired(s);
}

/* Replies that only an AUTH receives (RFC 4954 4, 6): 235, a 334 challenge, or a
 * refusal that is the login's own (432 password transition, 534 mechanism
 * too weak, 535 credentials invalid, 538 encryption required). Not the
 * codes any command can get (421, 454, 5.0.x syntax errors, 530): a server
 * closing with 421 after a message whose content it disliked would
 * otherwise confirm an "AUTH" line of that message. */
static bool auth_reply_fits(unsigned code)
{
    switch (code) {
    case 235:
    case 334:
    case 432:
    case 534:
    case 535:
    case 538:
        return true;
    default:
        return false;
    }
}

/* A complete reply: act on the command it answers. */
static void final_reply(struct smtp *s, unsigned code, const uint8_t *line, size_t n)
{
    const uint8_t *text = n > 4 ? line + 4 : line + n;
    size_t tlen = n > 4 ? n - 4 : 0;
    enum ms_outcome outcome = code / 100 == 2 ? MS_OUTCOME_SUCCESS : MS_OUTCOME_FAILURE;
    enum ms_tristate accepted = code / 100 == 2 ? MS_TRI_TRUE : MS_TRI_FALSE;

    if (s->reply_greeting)
        return;
    if (s->sasl_exchange && s->sasl_cut != MS_CUT_NONE) {
        /* An exchange a server-side gap cut: its challenges may not be
         * the ones the client answers, and the next final reply ends it
         * (its own, or one after it, lost). */
        if (code == 334)
            return;
        s->sasl_fits = s->sasl_fits || auth_reply_fits(code);
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
    }
    if (s->data_mode && s->fifo.len == 0) {
        /* Every command is answered, DATA's 354 included, yet the client is
         * still in its data: the server speaks again only after the
         * terminator (RFC 5321 4.1.1.4), so that was lost in a gap, or the
         * server gave up (421). This reply is the verdict, unless a gap
         * left replies to come that nothing awaits any more (354 never is
         * one). */
        if (s->unsure || code == 354) {
            reply_unpaired(s, code);
            return;
        }
        struct smsg *m = s->cur;
        s->cur = NULL;
        s->data_mode = false;
        if (m) {
            smsg_finish(m, true);
            emit_message(s, m, accepted, line, n);
        }
        /* Commands pipelined after the lost terminator may be lost too. */
        s->unsure = true;
        return;
    }
    if (code == 334 && fifo_peek(s) == CMD_AUTH) {
        /* RFC 4954 4: "334" carries a challenge; the AUTH goes on. */
        s->sasl_fits = true;
        if (s->sasl_exchange)
            ms_sasl_challenge(&s->sasl, text, tlen);
        return;
    }
    if (fifo_peek(s) == CMD_AUTH && s->sasl_exchange && s->sasl_confirm && s->fifo.len == 1 &&
        !auth_reply_fits(code)) {
        /* After a client hole, a reply no AUTH gets, with nothing sent
         * after the AUTH, answers a command the hole took (a lost RSET's
         * 250): the AUTH's own reply is still to come. */
        reply_unpaired(s, code);
        return;
    }
    struct pending p;
    if (!ms_cmdfifo_pop(&s->fifo, &p)) {
        reply_unpaired(s, code);
        return;
    }
    /* A command sent while replies could still be those of commands lost
     * in a gap: this reply may not be its own. */
    const uint8_t *reply = line;
    size_t rlen = n;
    if (p.unsure) {
        outcome = MS_OUTCOME_UNKNOWN;
        accepted = MS_TRI_UNKNOWN;
        reply = NULL;
        rlen = 0;
    }
    switch (p.cmd) {
    case CMD_AUTH:
        /* 235 (RFC 4954 6), whether or not a credential is reported. */
        if (s->sasl_exchange)
            ms_textsess_login_reply(&s->ts, outcome);
        s->sasl_dead = false;
        s->sasl_fits = s->sasl_fits || auth_reply_fits(code);
        if (s->sasl_exchange)
            end_sasl(s, outcome, reply, rlen, p.unsure ? MS_CUT_INCOMPLETE : MS_CUT_NONE);
        break;
    case CMD_STARTTLS:
        ms_textsess_starttls_reply(&s->ts, code == 220); /* RFC 3207 4: TLS starts now */
        break;
    case CMD_EHLO:
        if (code / 100 == 2) {
            /* The latest EHLO reply's list is the one in effect. */
            ms_textsess_caps_list(&s->ts, true);
            if (s->reply_cap_starttls)
                ms_textsess_caps_tls(&s->ts);
            /* A reply that may be another command's is no listing. */
            if (!p.unsure)
                ms_textsess_listing_end(&s->ts);
        }
        break;
    case CMD_DATA:
        /* 354 invites the data; a 4xx/5xx refuses it, and a client that
         * waited sends none: drop the message begun at DATA. (DATA gets
         * no 2xx: one is some other command's reply, after a gap.) */
        if (code >= 400 && s->data_mode) {
            s->data_mode = false;
            smsg_free(s->cur);
            s->cur = NULL;
        }
        break;
    case CMD_DATA_END:
    case CMD_BDAT:
        /* 354 only invites data: no verdict on it. */
        if (p.msg && code == 354)
            emit_message(s, p.msg, MS_TRI_UNKNOWN, NULL, 0);
        else if (p.msg)
            emit_message(s, p.msg, accepted, reply, rlen);
        break;
    default:
        break;
    }
}

static void server_line(struct smtp *s, const uint8_t *line, size_t len)
{
    size_t n = ms_line_strip(line, len);
    unsigned code;
    bool more;
    if (!reply_code(line, n, &code, &more))
        return; /* not a reply line: nothing to match it with */
    s->server_seen = true;
    if (!s->in_reply) {
        /* First line of a reply: find what it answers. The greeting is the
         * server's first reply (RFC 5321 3.1), 220 or a refusal. */
        s->in_reply = true;
        s->reply_greeting = false;
        if (s->greeting_expected) {
            s->greeting_expected = false;
            s->reply_greeting = code == 220 || code == 421 || code == 554;
        }
        s->reply_for = s->reply_greeting ? CMD_OTHER : fifo_peek(s);
        s->reply_cap_starttls = false;
        if (s->reply_for == CMD_EHLO)
            ms_textsess_listing_begin(&s->ts);
    } else if (s->reply_for == CMD_EHLO) {
        /* Lines after the first of an EHLO reply list extensions. */
        ehlo_line(s, n > 4 ? line + 4 : line + n, n > 4 ? n - 4 : 0);
    }
    if (more)
        return;
    s->in_reply = false;
    final_reply(s, code, line, n);
}

/* ---- line dispatch --------------------------------------------------- */

/* The first line after a hole is parsed when it plainly is one: a reply
 * line from the server; from the client, in message data the terminator,
 * elsewhere a command (not while an AUTH exchange holds the client's
 * lines: base64 responses may look like one). */
static bool smtp_plausible(void *ctx, unsigned dir, const uint8_t *line, size_t len)
{
    struct smtp *s = ctx;
    size_t n = ms_line_strip(line, len);
    if (dir == MS_TO_CLIENT) {
        unsigned code;
        bool more;
        return reply_code(line, n, &code, &more);
    }
    if (s->data_mode)
        return n == 1 && line[0] == '.';
    bool in_sasl = (s->sasl_exchange && !s->sasl_client_done) || s->sasl_dead;
    return !in_sasl && is_command_line(line, n);
}

/* Message data takes the fragments of its long lines. */
static bool smtp_takes_fragments(void *ctx, unsigned dir)
{
    const struct smtp *s = ctx;
    return dir == MS_TO_SERVER && s->data_mode;
}

static void smtp_line(void *ctx, unsigned dir, const uint8_t *line, size_t len, unsigned flags)
{
    if (dir == MS_TO_SERVER)
        client_line(ctx, line, len, flags);
    else
        server_line(ctx, line, len);
}

static void smtp_raw(void *ctx, unsigned dir, const uint8_t *p, size_t n)
{
    if (dir == MS_TO_SERVER)
        bdat_bytes(ctx, p, n);
}

/* The AUTH exchange when a hole comes. In the client's bytes it ends now
 * (never continued with lines after the hole; the lines up to the client's
 * next command are skipped). In the server's bytes the hole may have taken
 * a challenge or the final reply: the client's responses are still read,
 * but no hashcat line is given and the outcome is unknown (end_sasl);
 * it ends at the next final reply or command. */
static void settle_sasl(struct smtp *s, unsigned dir)
{
    if (!s->sasl_exchange)
        return;
    if (dir == MS_TO_CLIENT && !s->sasl_client_done) {
        s->sasl_cut = MS_CUT_NO_HASHCAT; /* goes on: see the top of the file */
        return;
    }
    s->sasl_dead = !s->sasl_client_done;
    end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0,
             dir == MS_TO_CLIENT ? MS_CUT_NO_HASHCAT : MS_CUT_INCOMPLETE);
}

/* Settles, unknown, what awaited a reply when a hole came, oldest first:
 * the AUTH exchange and the messages awaiting their verdict. In the
 * server's bytes the replies may be lost: the FIFO is emptied, and replies
 * still to come are paired with nothing. In the client's bytes the replies
 * to the commands pending still come, first: their records stay, so that a
 * 354 or a 220 to STARTTLS is still read as such. */
static void settle_pending(struct smtp *s, unsigned dir)
{
    for (size_t i = 0; i < s->fifo.len; i++) {
        struct pending *p = ms_cmdfifo_at(&s->fifo, i);
        if (p->cmd == CMD_AUTH)
            settle_sasl(s, dir);
        if (p->msg) {
            struct smsg *m = p->msg;
            p->msg = NULL;
            emit_message(s, m, MS_TRI_UNKNOWN, NULL, 0);
        }
    }
    settle_sasl(s, dir); /* its AUTH was dropped from a full FIFO */
    if (dir == MS_TO_CLIENT) {
        ms_cmdfifo_clear(&s->fifo);
        /* A STARTTLS's reply may be the one lost: what the client sends
         * now is not read (it may be TLS). */
        ms_textsess_starttls_lost(&s->ts);
    }
}

/* A hole outside counted BDAT bytes (smtp_gap), or a line lost over the
 * cap (textsess.h): forget what it could have changed. */
static void smtp_lost(void *ctx, unsigned dir, enum ms_ts_lost why)
{
    struct smtp *s = ctx;
    if (why != MS_TS_LOST_GAP) {
        if (dir == MS_TO_CLIENT) {
            /* A reply dropped: the replies after it may no longer line up. */
            pairing_lost(s);
        } else if (s->sasl_exchange && !s->sasl_client_done) {
            s->sasl_gap = true; /* a response we could not read */
            ms_sasl_lost_response(&s->sasl);
        } else if (!s->sasl_dead) {
            /* A command all the same: the server will answer it. */
            fifo_push(s, CMD_OTHER, NULL);
        }
        return;
    }
    if (dir == MS_TO_SERVER) {
        if (s->cur)
            ms_textsess_msg_gap(&s->cur->body);
        /* Lost bytes sent while commands (other than an AUTH whose
         * responses they were) awaited their reply: pipelined. */
        if (s->fifo.len > (s->sasl_exchange && !s->sasl_client_done ? 1u : 0u))
            s->pipelining = true;
        /* Commands may be lost, their replies then coming ahead of later
         * commands'. Not in message data: the client sends no command
         * before the "." it resyncs on (a lost "." is final_reply's). */
        if (!s->data_mode) {
            s->unsure = true;
            s->client_hole = true;
            /* A lost MAIL, RCPT or RSET changed the envelope, and a lost
             * HELO/EHLO the client's name: what was seen of them is no
             * longer known to be the next message's. */
            tx_reset(s);
            forget_helo(s);
        }
    } else {
        s->in_reply = false;
        /* Replies to what was pending may still come (or were lost); and
         * the line after the hole is skipped, which may be a whole reply
         * to a command not yet seen. */
        s->unsure = true;
    }
    settle_pending(s, dir);
}

static const struct ms_textsess_ops smtp_ops = {
    .proto = "smtp",
    .injection = MS_ANOM_STARTTLS_COMMAND_INJECTION,
    .injection_detail = "plaintext sent after STARTTLS before the server's reply",
    .on_line = smtp_line,
    .on_raw = smtp_raw,
    .plausible_line_start = smtp_plausible,
    .on_lost = smtp_lost,
    .takes_fragments = smtp_takes_fragments,
};

/* ---- vtable ---------------------------------------------------------- */

static void smtp_destroy(void *st);

static void *smtp_create(const struct ms_limits *lim, const struct ms_sink *sink)
{
    struct smtp *s = ms_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->lim = *lim;
    s->greeting_expected = true;
    ms_textsess_init(&s->ts, &s->lim, sink, &smtp_ops, s);
    ms_sasl_init(&s->sasl, lim);
    ms_buf_init(&s->helo, s->lim.max_line);
    ms_buf_init(&s->tx_from, s->lim.max_line);
    ms_buf_init(&s->tx_rcpt, rcpt_cap(&s->lim));
    enum ms_rc rc = ms_cmdfifo_init(&s->fifo, lim->max_pending_cmds, sizeof(struct pending));
    s->tx_rcpt_len = ms_calloc(s->lim.smtp_max_rcpt ? s->lim.smtp_max_rcpt : 1, sizeof(size_t));
    if (rc != MS_OK || !s->tx_rcpt_len) {
        smtp_destroy(s);
        return NULL;
    }
    return s;
}

static enum ms_rc smtp_feed(void *st, unsigned dir, const uint8_t *p, size_t n)
{
    struct smtp *s = st;
    return ms_textsess_feed(&s->ts, dir, p, n);
}

static void smtp_gap(void *st, unsigned dir, uint64_t missing)
{
    struct smtp *s = st;
    if (dir > 1 || ms_textsess_encrypted(&s->ts))
        return;
    if (dir == MS_TO_SERVER && s->bdat_active) {
        /* BDAT counts bytes, so a gap inside a chunk keeps us in step:
         * the chunk just has a hole, and no command is lost. */
        if (s->cur)
            ms_textsess_msg_gap(&s->cur->body);
        if (missing < s->bdat_left) {
            s->bdat_left -= missing;
            ms_textsess_resync_raw(&s->ts, dir, s->bdat_left);
            return;
        }
        s->bdat_left = 0;
        end_bdat_chunk(s);
    }
    /* We are mid-line now: skip to the next line before parsing again
     * (smtp_lost forgets what the hole may have held). */
    ms_textsess_gap(&s->ts, dir);
}

static void smtp_finish(void *st)
{
    struct smtp *s = st;
    ms_textsess_finish(&s->ts);
    /* Messages whose verdict never came, oldest first, then the one cut. */
    struct pending p;
    while (ms_cmdfifo_pop(&s->fifo, &p)) {
        if (p.msg)
            emit_message(s, p.msg, MS_TRI_UNKNOWN, NULL, 0);
    }
    if (s->cur) {
        struct smsg *m = s->cur;
        s->cur = NULL;
        smsg_finish(m, true);
        emit_message(s, m, MS_TRI_UNKNOWN, NULL, 0);
    }
    s->data_mode = false;
    if (s->sasl_exchange)
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
}

static void smtp_destroy(void *st)
{
    struct smtp *s = st;
    if (!s)
        return;
    struct pending p;
    while (ms_cmdfifo_pop(&s->fifo, &p))
        smsg_free(p.msg);
    smsg_free(s->cur);
    ms_textsess_free(&s->ts);
    ms_sasl_free(&s->sasl);
    ms_buf_free(&s->helo);
    ms_buf_free(&s->tx_from);
    ms_buf_free(&s->tx_rcpt);
    ms_free(s->tx_rcpt_len);
    ms_cmdfifo_free(&s->fifo);
    ms_free(s);
}

/* Server: a greeting "220 ... SMTP" (FTP greets with 220 too, so a 220
 * without "SMTP" waits for more). Client: a first command only SMTP has
 * (POP3 and IMAP have no EHLO, HELO, MAIL FROM or bare STARTTLS). */
static enum ms_probe smtp_probe(unsigned dir, const uint8_t *p, size_t n)
{
    if (dir == MS_TO_SERVER) {
        static const char *const only_smtp[] = {
            "EHLO ",  "HELO ",  "MAIL FROM:", "RCPT TO:",   "EHLO\r",
            "HELO\r", "EHLO\n", "HELO\n",     "STARTTLS\r", "STARTTLS\n"
        };
        bool maybe = false;
        for (size_t i = 0; i < sizeof(only_smtp) / sizeof(only_smtp[0]); i++) {
            size_t kl = strlen(only_smtp[i]);
            if (ms_ascii_prefix(p, n, only_smtp[i]))
                return MS_PROBE_YES;
            /* Too few bytes yet, but they start the keyword. */
            if (n < kl) {
                size_t j = 0;
                while (j < n && ms_ascii_lower(p[j]) == ms_ascii_lower((uint8_t)only_smtp[i][j]))
                    j++;
                maybe = maybe || j == n;
            }
        }
        return maybe ? MS_PROBE_MAYBE : MS_PROBE_NO;
    }
    unsigned code;
    bool more;
    const uint8_t *lf = memchr(p, '\n', n);
    size_t len = lf ? ms_line_strip(p, (size_t)(lf - p) + 1) : n;
    if (len < 3)
        return lf || n >= MS_PROBE_WINDOW ? MS_PROBE_NO : MS_PROBE_MAYBE;
    if (!reply_code(p, len, &code, &more))
        return MS_PROBE_NO;
    bool smtp = false, ftp = false;
    for (size_t i = 0; i < len; i++) {
        smtp = smtp || ms_ascii_prefix(p + i, len - i, "SMTP");
        ftp = ftp || ms_ascii_prefix(p + i, len - i, "FTP");
    }
    if (code == 220 && smtp)
        return MS_PROBE_YES;
    if (ftp)
        return MS_PROBE_NO;
    /* A reply code without a word of SMTP (or a line not complete yet):
     * the client's first command, or nDPI, decides. */
    return MS_PROBE_MAYBE;
}

static bool smtp_tls(const void *st)
{
    return ms_textsess_tls(&((const struct smtp *)st)->ts);
}

static void smtp_posture(const void *st, struct ms_session_posture *out)
{
    ms_textsess_posture(&((const struct smtp *)st)->ts, out);
}

const struct ms_dissector ms_dissector_smtp = {
    .name = "smtp",
    .probe = smtp_probe,
    .create = smtp_create,
    .feed = smtp_feed,
    .gap = smtp_gap,
    .finish = smtp_finish,
    .destroy = smtp_destroy,
    .tls = smtp_tls,
    .posture = smtp_posture,
};
