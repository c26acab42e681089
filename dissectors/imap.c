/* IMAP dissector (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1, RFC 7888
 * LITERAL+, RFC 4959 SASL-IR, RFC 3516 literal8, RFC 2595 / RFC 9051 6.2.1
 * STARTTLS).
 *
 * Client commands are "tag SP command [SP args] CRLF" (RFC 9051 2.2.1).
 * An argument may be a literal "{n}" / "{n+}" at the end of a line: n raw
 * bytes follow, then the command line goes on. A command therefore comes in
 * "segments" (line pieces between literals). Commands awaiting their tagged
 * reply sit in a bounded table keyed by tag, since clients pipeline (RFC 9051
 * 5.5); untagged "*" responses may come in between.
 *
 * Reported: LOGIN (atom, quoted string or literal arguments, in any
 * combination), AUTHENTICATE exchanges (decoded by sasl.c), each with the
 * tagged reply as outcome; messages carried as literals by FETCH responses
 * (BODY[...], BINARY[...], RFC822...) and by APPEND. Lines, literals' raw
 * runs, gaps, the stop after an accepted STARTTLS and the command injection
 * rule are the text session's (textsess.h).
 *
 * Header-only and section fetches (BODY[HEADER], RFC822.HEADER, BODY[TEXT],
 * BODY[1], BODY[]<0>) are reported as email events with partial = true, as
 * NetworkMiner does: each moves part of a message in the clear. Header field
 * subsets (BODY[HEADER.FIELDS (...)]) and part headers (BODY[1.MIME]) are
 * not: clients fetch them for every message of a listing, and they are not
 * messages.
 *
 * Gaps: outside a literal (whose byte count keeps parsing in step), a hole
 * settles every login awaiting its tagged reply, outcome unknown (imap_gap):
 * after a hole in the server's bytes, a line may be the middle of a literal
 * whose header was lost. A client-side hole ends an AUTHENTICATE exchange,
 * never continued with lines after it; a server-side one leaves the
 * client's responses whole: the exchange goes on, incomplete, without a
 * hashcat line and with an unknown outcome. Tags keep the other replies
 * in step, unless the client reuses tags: then, until the replies have
 * caught up, a tagged reply may be that of a command lost in the hole, and
 * a login sent meanwhile gets no outcome (struct pending.unsure). A client
 * line that begins right after a hole is parsed when it plainly is a
 * command ("tag SP command"). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/ascii.h"
#include "../common/buf.h"
#include "../common/linebuf.h"
#include "dissector.h"
#include "emit.h"
#include "keyword.h"
#include "sasl.h"
#include "textsess.h"

enum imap_cmd {
    CMD_UNKNOWN = 0, /* an extension: its reply matters to nobody */
    CMD_OTHER,       /* a known command we do not interpret */
    CMD_LOGIN,
    CMD_AUTHENTICATE,
    CMD_STARTTLS,
    CMD_APPEND,
    CMD_COMPRESS,
};

/* What the raw bytes of the current literal are. */
enum lit_kind {
    LIT_SKIP = 0,
    LIT_ARG, /* a LOGIN argument */
    LIT_MSG, /* a message: FETCH body, APPEND */
};

struct pending {
    bool used;
    uint64_t seq; /* order of issue, to evict the oldest */
    uint8_t tag[MS_IMAP_MAX_TAG];
    size_t tag_len;
    enum imap_cmd cmd;
    unsigned nargs; /* arguments completed so far */
    /* LOGIN */
    struct ms_buf user, pass;
    bool have_user, have_pass;
    bool arg_cut;    /* a hole fell inside the LOGIN argument being read */
    bool incomplete; /* cut (cap, gap) or malformed */
    bool settled;    /* LOGIN: reported at a gap; its reply says nothing more */
    bool unsure;     /* sent after a gap, before the replies caught up */
    /* Sent after a hole in the client's bytes: it may be a line of a
     * message whose APPEND line the hole took (anyone can mail one). A
     * login is reported only once its own tagged reply came and named no
     * other command (confirmed); otherwise it is dropped, said by a
     * login_unconfirmed anomaly. */
    bool confirm;
    bool confirmed;
    bool after_login; /* ... and sent once a login had succeeded: text */
};

/* Fields are grouped by what they track, not packed by size: the padding
 * (~32 bytes a session) is small beside the line buffers and limits. */
/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): see above */
struct imap {
    struct ms_limits lim;
    struct ms_textsess ts; /* lines, literals, gaps, STARTTLS (textsess.h) */

    /* Commands awaiting their tagged reply: max_pending_cmds slots, each
     * allocated on first use (most sessions pipeline little) and kept, so
     * pointers to entries stay valid. */
    struct pending **tab;
    uint64_t seq;
    size_t n_used; /* entries awaiting their reply */

    /* Client command being read (it may span literals). */
    bool cli_in_cmd;       /* the next client line continues a command */
    struct pending *cur;   /* its table entry; NULL: read but ignored */
    uint64_t cli_lit_left; /* raw bytes left in the current literal */
    enum lit_kind cli_lit;
    bool cli_await_cont;       /* synchronizing literal: waiting for "+" */
    struct ms_textmsg cli_msg; /* APPEND message */

    /* Server response being read (it may span literals). */
    bool srv_in_resp;
    bool srv_fetch; /* "* n FETCH (" */
    uint64_t srv_lit_left;
    enum lit_kind srv_lit;
    struct ms_textmsg srv_msg;
    bool srv_msg_partial;

    bool sasl_exchange; /* an AUTHENTICATE holds the client's lines */
    bool sasl_confirm;  /* ... sent after a client hole (pending.confirm) */
    bool sasl_confirmed;
    bool sasl_resp_lost; /* the fragments of a response past the cap go on */
    struct pending *sasl_cmd;
    enum ms_emit_cut sasl_cut; /* a server-side gap hit the exchange */
    struct ms_sasl sasl;

    struct pending *starttls; /* STARTTLS awaiting its reply */

    /* After a gap (see the top of the file). */
    bool cli_hole;            /* the client's bytes had a hole outside a literal */
    bool logged_in;           /* a login got its tagged OK: authenticated state */
    bool cli_literal_unknown; /* a "+" nothing awaited: the client is sending a
                                 literal whose command the hole took; its lines
                                 are skipped up to the next tagged reply */
    bool unsure;              /* tagged replies may not line up yet */
    bool pipelining;          /* a command was sent while another awaited its reply */
    bool tags_reused;         /* a command reused a tag pending or just used */
    uint8_t last_tag[MS_IMAP_MAX_TAG];
    size_t last_tag_len;
};

/* ---- events ---------------------------------------------------------- */

static void emit_anomaly(struct imap *s, enum ms_anomaly a, const char *detail)
{
    ms_textsess_anomaly(&s->ts, a, detail);
}

static void emit_login(struct imap *s, struct pending *e, enum ms_outcome outcome,
                       const uint8_t *reply, size_t rlen)
{
    if (!e->have_user)
        return; /* nothing identifying crossed the wire */
    if (e->confirm && !e->confirmed) {
        ms_textsess_login_unconfirmed(&s->ts, "LOGIN");
        return;
    }
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "imap" };
    struct ms_ev_credential *c = &ev.u.cred;
    c->command = "LOGIN";
    c->mechanism = "LOGIN";
    c->username = ms_emit_buf(&e->user);
    /* A password that never finished crossing is not reported: any value
     * would be a guess. */
    c->password = e->have_pass ? ms_emit_buf(&e->pass) : MS_BYTES_NONE;
    c->incomplete = e->incomplete || !e->have_pass;
    ms_textsess_credential(&s->ts, &ev, outcome, reply, rlen);
}

/* Reports what an AUTHENTICATE exchange revealed, once its outcome is known
 * (or once a gap made it unknowable: cut). */
static void end_sasl(struct imap *s, enum ms_outcome outcome, const uint8_t *reply, size_t rlen,
                     enum ms_emit_cut cut)
{
    s->sasl_exchange = false;
    s->sasl_cmd = NULL;
    s->sasl_resp_lost = false;
    if (s->sasl_confirm && !s->sasl_confirmed) {
        s->sasl_cut = MS_CUT_NONE; /* a stale cut would weaken the next one */
        ms_textsess_login_unconfirmed(&s->ts, "AUTHENTICATE");
        return;
    }
    /* After a hole its reply may even be a line of a literal whose header
     * the hole took. */
    ms_emit_settle_cut(&s->sasl_cut, &outcome, &reply, &rlen, &cut);
    ms_textsess_sasl_end(&s->ts, &s->sasl, "AUTHENTICATE", "undecodable SASL response", outcome,
                         reply, rlen, cut, false);
}

/* Ends a message literal: one email event per literal. */
static void end_message(struct imap *s, struct ms_textmsg *msg, const char *command, bool partial,
                        bool truncated)
{
    ms_textsess_msg_emit(&s->ts, msg, command, partial, msg == &s->srv_msg, truncated);
}

/* ---- pending tag table ----------------------------------------------- */

static void entry_release(struct imap *s, struct pending *e)
{
    if (e->used)
        s->n_used--;
    e->used = false;
    ms_buf_reset(&e->user);
    ms_buf_reset(&e->pass);
    if (s->cur == e)
        s->cur = NULL;
    if (s->sasl_cmd == e)
        s->sasl_cmd = NULL;
    if (s->starttls == e) {
        s->starttls = NULL;
        ms_textsess_starttls_forget(&s->ts); /* answered, or forgotten */
    }
}

/* A tagged reply will come for a command forgotten past the cap, or one
 * was lost (dropped over the line cap): from here on no tagged reply is
 * trusted to be its command's, those waiting now included. */
static void pairing_lost(struct imap *s)
{
    s->unsure = true;
    for (size_t i = 0; i < s->lim.max_pending_cmds; i++) {
        if (s->tab[i] && s->tab[i]->used)
            s->tab[i]->unsure = true;
    }
}

static struct pending *entry_find(struct imap *s, const uint8_t *tag, size_t tlen);

static struct pending *entry_new(struct imap *s, const uint8_t *tag, size_t tlen, enum imap_cmd cmd)
{
    struct pending *e = NULL, *oldest = NULL;
    size_t tl = tlen < MS_IMAP_MAX_TAG ? tlen : MS_IMAP_MAX_TAG;
    if ((tl == s->last_tag_len && memcmp(tag, s->last_tag, tl) == 0) || entry_find(s, tag, tlen))
        s->tags_reused = true;
    memcpy(s->last_tag, tag, tl);
    s->last_tag_len = tl;
    if (s->n_used > 0)
        s->pipelining = true;
    for (size_t i = 0; i < s->lim.max_pending_cmds; i++) {
        struct pending *x = s->tab[i];
        if (!x) {
            x = ms_calloc(1, sizeof(*x));
            if (!x) {
                emit_anomaly(s, MS_ANOM_OUT_OF_MEMORY, "command not tracked");
                return NULL;
            }
            ms_buf_init(&x->user, s->lim.max_secret);
            ms_buf_init(&x->pass, s->lim.max_secret);
            s->tab[i] = x;
        }
        if (!x->used) {
            e = x;
            break;
        }
        if (x != s->cur && x != s->sasl_cmd && (!oldest || x->seq < oldest->seq))
            oldest = x;
    }
    if (!e) {
        /* A client may pipeline, but not without bound: forget the oldest
         * so that a flood cannot grow state. */
        emit_anomaly(s, MS_ANOM_TOO_MANY_PENDING_COMMANDS, "pipelined commands past the cap");
        if (!oldest)
            return NULL;
        if (oldest->cmd == CMD_LOGIN && !oldest->settled)
            emit_login(s, oldest, MS_OUTCOME_UNKNOWN, NULL, 0);
        entry_release(s, oldest);
        e = oldest;
        /* Its tagged reply will come all the same: with tags reused it
         * would be taken for a later command's. */
        pairing_lost(s);
    }
    e->used = true;
    s->n_used++;
    e->settled = false;
    e->unsure = s->unsure;
    e->confirm = s->cli_hole;
    e->confirmed = false;
    e->after_login = s->cli_hole && s->logged_in;
    e->seq = s->seq++;
    e->tag_len = tlen < MS_IMAP_MAX_TAG ? tlen : MS_IMAP_MAX_TAG;
    memcpy(e->tag, tag, e->tag_len);
    e->cmd = cmd;
    e->nargs = 0;
    e->have_user = e->have_pass = e->incomplete = e->arg_cut = false;
    ms_buf_reset(&e->user);
    ms_buf_reset(&e->pass);
    return e;
}

/* The oldest command issued with this tag (tags should be unique, but a
 * client that reuses one gets its replies in order). */
static struct pending *entry_find(struct imap *s, const uint8_t *tag, size_t tlen)
{
    struct pending *best = NULL;
    size_t n = tlen < MS_IMAP_MAX_TAG ? tlen : MS_IMAP_MAX_TAG;
    for (size_t i = 0; i < s->lim.max_pending_cmds; i++) {
        struct pending *x = s->tab[i];
        if (x && x->used && x->tag_len == n && memcmp(x->tag, tag, n) == 0 &&
            (!best || x->seq < best->seq))
            best = x;
    }
    return best;
}

/* ---- lexical helpers ------------------------------------------------- */

enum lit_parse { LIT_NONE = 0, LIT_OK, LIT_BAD };

/* literal = "{" number64 ["+"] "}" CRLF *CHAR8   (RFC 9051 9, RFC 7888 3)
 * literal8 = "~{" number64 "}" CRLF *OCTET       (RFC 3516 4.2)
 * Looks at the end of a line (terminator stripped). *start is where the
 * literal's "{" (or "~") begins. Over 19 digits it is LIT_BAD: no real
 * literal is that large and the value would overflow. */
static enum lit_parse literal_at_end(const uint8_t *p, size_t n, size_t *start, uint64_t *len,
                                     bool *nonsync)
{
    if (n < 3 || p[n - 1] != '}')
        return LIT_NONE;
    size_t j = n - 1; /* index of '}' */
    *nonsync = false;
    if (p[j - 1] == '+') {
        *nonsync = true;
        j--;
    }
    size_t k = j;
    while (k > 0 && p[k - 1] >= '0' && p[k - 1] <= '9')
        k--;
    size_t digits = j - k;
    if (digits == 0 || k == 0 || p[k - 1] != '{')
        return LIT_NONE;
    *start = k - 1;
    if (*start > 0 && p[*start - 1] == '~')
        (*start)--;
    if (digits > 19)
        return LIT_BAD;
    uint64_t v = 0;
    for (size_t i = k; i < j; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    *len = v;
    return LIT_OK;
}

/* literal_at_end on a line of either side, reporting a size too long to
 * read (the line still ends in a literal, a broken one). */
static enum lit_parse find_literal(struct imap *s, const uint8_t *p, size_t n, size_t *start,
                                   uint64_t *len, bool *nonsync)
{
    enum lit_parse lp = literal_at_end(p, n, start, len, nonsync);
    if (lp == LIT_BAD)
        emit_anomaly(s, MS_ANOM_IMAP_LITERAL_INVALID, "literal size past 19 digits");
    return lp;
}

/* tag = 1*<any ASTRING-CHAR except "+">  (RFC 9051 9). Returns its length,
 * 0 when the line does not start with one. */
static size_t tag_len(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c <= ' ' || c >= 0x7f || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' ||
            c == '"' || c == '\\' || c == '+')
            break;
        i++;
    }
    return i;
}

static size_t word_end(const uint8_t *p, size_t n, size_t i)
{
    while (i < n && p[i] != ' ')
        i++;
    return i;
}

static enum imap_cmd parse_cmd(const uint8_t *w, size_t n)
{
    static const struct ms_keyword table[] = {
        { "LOGIN", CMD_LOGIN },       { "AUTHENTICATE", CMD_AUTHENTICATE },
        { "STARTTLS", CMD_STARTTLS }, { "APPEND", CMD_APPEND },
        { "CAPABILITY", CMD_OTHER },  { "NOOP", CMD_OTHER },
        { "LOGOUT", CMD_OTHER },      { "SELECT", CMD_OTHER },
        { "EXAMINE", CMD_OTHER },     { "CREATE", CMD_OTHER },
        { "DELETE", CMD_OTHER },      { "RENAME", CMD_OTHER },
        { "SUBSCRIBE", CMD_OTHER },   { "UNSUBSCRIBE", CMD_OTHER },
        { "LIST", CMD_OTHER },        { "LSUB", CMD_OTHER },
        { "NAMESPACE", CMD_OTHER },   { "STATUS", CMD_OTHER },
        { "CHECK", CMD_OTHER },       { "CLOSE", CMD_OTHER },
        { "UNSELECT", CMD_OTHER },    { "EXPUNGE", CMD_OTHER },
        { "SEARCH", CMD_OTHER },      { "FETCH", CMD_OTHER },
        { "STORE", CMD_OTHER },       { "COPY", CMD_OTHER },
        { "MOVE", CMD_OTHER },        { "UID", CMD_OTHER },
        { "ENABLE", CMD_OTHER },      { "IDLE", CMD_OTHER },
        { "ID", CMD_OTHER },          { "GETQUOTAROOT", CMD_OTHER },
        { "GETQUOTA", CMD_OTHER },    { "GETACL", CMD_OTHER },
        { "MYRIGHTS", CMD_OTHER },    { "COMPRESS", CMD_COMPRESS },
    };
    return ms_keyword_find(table, sizeof(table) / sizeof(table[0]), w, n, CMD_UNKNOWN);
}

/* capability-data = "CAPABILITY" *(SP capability)  (RFC 9051 7.2.2); the
 * same list comes in a "[CAPABILITY ...]" response code (7.1). Remembers
 * whether the server offered a way to protect the login. */
static void parse_caps(struct imap *s, const uint8_t *p, size_t n)
{
    /* A later list adds to what an earlier one offered. */
    ms_textsess_caps_list(&s->ts, false);
    /* The list is one whole line (imap_line passes no fragment here). */
    ms_textsess_listing_begin(&s->ts);
    size_t i = 0;
    while (i < n && p[i] != ']') {
        if (p[i] == ' ') {
            i++;
            continue;
        }
        size_t e = i;
        while (e < n && p[e] != ' ' && p[e] != ']')
            e++;
        if (ms_ascii_eq(p + i, e - i, "STARTTLS"))
            ms_textsess_caps_tls(&s->ts);
        else if (ms_ascii_eq(p + i, e - i, "LOGINDISABLED"))
            ms_textsess_caps_logindisabled(&s->ts);
        else if (e - i > 5 && ms_ascii_eq(p + i, 5, "AUTH="))
            ms_textsess_caps_mech(&s->ts, p + i + 5, e - i - 5);
        i = e;
    }
    ms_textsess_listing_end(&s->ts);
}

/* resp-text = ["[" resp-text-code "]" SP] [text]; looks for a CAPABILITY
 * code at the start of the text after a status word. */
static void resp_text_caps(struct imap *s, const uint8_t *p, size_t n)
{
    if (n >= 12 && p[0] == '[' && ms_ascii_prefix(p + 1, n - 1, "CAPABILITY "))
        parse_caps(s, p + 12, n - 12);
}

/* ---- client side ----------------------------------------------------- */

static void client_raw(struct imap *s, const uint8_t *p, size_t n);

static void start_client_literal(struct imap *s, enum lit_kind kind, uint64_t n, bool nonsync)
{
    s->cli_lit = kind;
    s->cli_lit_left = n;
    s->cli_await_cont = !nonsync;
    s->cli_in_cmd = true;
    if (kind == LIT_MSG)
        ms_textsess_msg_new(&s->ts, &s->cli_msg);
    if (n > 0)
        ms_textsess_raw(&s->ts, MS_TO_SERVER, n);
    else
        client_raw(s, (const uint8_t *)"", 0); /* "{0}": already complete */
}

/* The LOGIN argument being filled, by position: userid, then password. */
static struct ms_buf *login_arg(struct pending *e)
{
    if (e->nargs == 0)
        return &e->user;
    if (e->nargs == 1)
        return &e->pass;
    return NULL;
}

static void login_arg_done(struct pending *e)
{
    if (e->arg_cut) {
        /* Bytes on both sides of a hole are not the argument: any value
         * would be a guess, and the wrong user or password. */
        struct ms_buf *b = login_arg(e);
        if (b)
            ms_buf_reset(b);
        e->arg_cut = false;
        e->incomplete = true;
    } else if (e->nargs == 0) {
        e->have_user = true;
    } else if (e->nargs == 1) {
        e->have_pass = true;
    }
    e->nargs++;
}

static void keep_bytes(struct imap *s, struct pending *e, struct ms_buf *b, const uint8_t *p,
                       size_t n)
{
    enum ms_rc rc = b ? ms_buf_append_some(b, p, n) : MS_OK;
    if (rc == MS_ERR_LIMIT)
        e->incomplete = true; /* over max_secret: the head is kept */
    else if (rc == MS_ERR_NOMEM)
        ms_textsess_nomem(&s->ts, "a LOGIN argument could not be kept");
}

/* Arguments of one command segment, from pos to the end (or to the literal
 * that ends it): astring = atom / quoted / literal (RFC 9051 9).
 *   quoted = DQUOTE *QUOTED-CHAR DQUOTE, QUOTED-CHAR = ... / "\" quoted-specials
 * An atom is taken whole: nothing is stripped from an unquoted password. */
static void client_args(struct imap *s, struct pending *e, const uint8_t *p, size_t n, size_t pos,
                        bool *has_lit, size_t lit_start)
{
    while (pos < n) {
        if (p[pos] == ' ') {
            pos++;
            continue;
        }
        if (*has_lit && pos == lit_start)
            return;
        struct ms_buf *dst = e && e->cmd == CMD_LOGIN ? login_arg(e) : NULL;
        if (p[pos] == '"') {
            size_t i = pos + 1;
            bool closed = false;
            while (i < n) {
                if (p[i] == '\\') {
                    if (i + 1 >= n) {
                        i = n; /* a trailing backslash escapes nothing */
                        break;
                    }
                    keep_bytes(s, e, dst, p + i + 1, 1);
                    i += 2;
                } else if (p[i] == '"') {
                    closed = true;
                    i++;
                    break;
                } else {
                    size_t r = i;
                    while (r < n && p[r] != '\\' && p[r] != '"')
                        r++;
                    keep_bytes(s, e, dst, p + i, r - i);
                    i = r;
                }
            }
            if (!closed) {
                /* Any cut would be a guess: the argument is dropped, the
                 * login reported incomplete. A "{n}" swallowed by the
                 * string is no literal either. */
                emit_anomaly(s, MS_ANOM_IMAP_UNTERMINATED_QUOTED_STRING,
                             "quoted string without its closing quote");
                *has_lit = false;
                if (e) {
                    e->incomplete = true;
                    if (dst)
                        ms_buf_reset(dst);
                    e->nargs = 2; /* nothing after this is trustworthy */
                }
                return;
            }
            if (e && e->cmd == CMD_LOGIN)
                login_arg_done(e);
            else if (e)
                e->nargs++;
            pos = i;
            continue;
        }
        size_t end = pos;
        while (end < n && p[end] != ' ' && !(*has_lit && end == lit_start))
            end++;
        if (e && e->cmd == CMD_LOGIN) {
            keep_bytes(s, e, dst, p + pos, end - pos);
            login_arg_done(e);
        } else if (e) {
            e->nargs++;
        }
        pos = end;
    }
}

/* What the literal ending a segment carries, given the command. */
static enum lit_kind client_literal_kind(struct imap *s, struct pending *e, uint64_t n)
{
    if (!e)
        return LIT_SKIP;
    if (e->cmd == CMD_LOGIN && e->nargs < 2) {
        if (n > s->lim.max_secret) {
            emit_anomaly(s, MS_ANOM_IMAP_LITERAL_TOO_LARGE, "LOGIN literal over the secret cap");
            e->incomplete = true;
        }
        return LIT_ARG;
    }
    /* APPEND mailbox [flags] [date-time] literal: the mailbox comes first,
     * any later literal is a message (RFC 9051 6.3.12, RFC 3502). */
    if (e->cmd == CMD_APPEND && e->nargs >= 1)
        return LIT_MSG;
    return LIT_SKIP;
}

/* A command is complete: act on what it asked for. */
static void client_command_done(struct imap *s, struct pending *e, const uint8_t *p, size_t n,
                                size_t args)
{
    s->cli_in_cmd = false;
    s->cur = NULL;
    if (!e)
        return;
    switch (e->cmd) {
    case CMD_AUTHENTICATE: {
        /* AUTHENTICATE SP auth-type [SP initial-resp]  (RFC 9051 6.2.2,
         * RFC 4959 3) */
        size_t i = args;
        while (i < n && p[i] == ' ')
            i++;
        size_t m = word_end(p, n, i);
        if (m == i)
            break;
        size_t r = m;
        while (r < n && p[r] == ' ')
            r++;
        bool has_ir = r < n;
        ms_sasl_start(&s->sasl, p + i, m - i, has_ir ? p + r : NULL,
                      has_ir ? word_end(p, n, r) - r : 0, has_ir);
        s->sasl_exchange = true;
        s->sasl_cmd = e;
        s->sasl_confirm = e->confirm;
        s->sasl_confirmed = false;
        s->sasl_resp_lost = false;
        ms_textsess_login_sent(&s->ts);
        break;
    }
    case CMD_LOGIN:
        ms_textsess_login_sent(&s->ts);
        break;
    case CMD_STARTTLS:
        /* RFC 9051 6.2.1: the client must wait for the tagged reply
         * before sending anything; the text session watches for bytes
         * that do not (CVE-2011-0411). */
        s->starttls = e;
        ms_textsess_starttls_sent(&s->ts);
        break;
    default:
        break;
    }
}

/* One client line outside literals: the first segment of a command, or the
 * segment after a literal. terminated is false for a line cut by the end of
 * the capture. */
static void drop_guessed_login(struct imap *s, const uint8_t *tag, size_t tlen);

static void client_segment(struct imap *s, const uint8_t *p, size_t n, bool terminated)
{
    size_t lit_start = 0;
    uint64_t lit_len = 0;
    bool nonsync = false;
    enum lit_parse lp = find_literal(s, p, n, &lit_start, &lit_len, &nonsync);
    /* A broken literal still ends the arguments: it is no atom. */
    bool has_lit = lp != LIT_NONE;

    struct pending *e = NULL;
    size_t args = 0;
    if (s->cli_in_cmd) {
        e = s->cur;
    } else {
        size_t t = tag_len(p, n);
        if (t == 0 || t >= n || p[t] != ' ')
            return; /* not a command: resync on the next line */
        drop_guessed_login(s, p, t);
        size_t c0 = t + 1;
        size_t c1 = word_end(p, n, c0);
        enum imap_cmd cmd = parse_cmd(p + c0, c1 - c0);
        /* "UID FETCH ..." etc.: the UID prefix changes nothing here. */
        if (cmd == CMD_UNKNOWN && !has_lit)
            return;
        /* A POP3/SMTP "AUTH LOGIN" is no IMAP command. */
        if (ms_ascii_eq(p, t, "AUTH"))
            return;
        args = c1;
        if (cmd != CMD_UNKNOWN) {
            e = entry_new(s, p, t, cmd);
            s->cur = e;
        }
        s->cli_in_cmd = true;
    }
    if (e && (!terminated || lp == LIT_BAD))
        e->incomplete = true;
    client_args(s, e, p, n, args, &has_lit, lit_start);
    if (has_lit && lp == LIT_OK) {
        start_client_literal(s, client_literal_kind(s, e, lit_len), lit_len, nonsync);
        return;
    }
    client_command_done(s, e, p, n, args);
}

/* Raw bytes of a client literal. */
static void client_raw(struct imap *s, const uint8_t *p, size_t n)
{
    /* Bytes mean the client went ahead: no "+" is awaited any more. */
    s->cli_await_cont = false;
    if (s->cli_lit == LIT_ARG && s->cur)
        keep_bytes(s, s->cur, login_arg(s->cur), p, n);
    else if (s->cli_lit == LIT_MSG)
        ms_textsess_msg_feed(&s->ts, &s->cli_msg, p, n);
    s->cli_lit_left -= n < s->cli_lit_left ? n : s->cli_lit_left;
    if (s->cli_lit_left > 0)
        return;
    if (s->cli_lit == LIT_ARG && s->cur)
        login_arg_done(s->cur);
    else if (s->cli_lit == LIT_MSG)
        end_message(s, &s->cli_msg, "APPEND", false, false);
    if (s->cur)
        s->cur->nargs += s->cli_lit != LIT_ARG;
    s->cli_lit = LIT_SKIP;
}

static void client_line(struct imap *s, const uint8_t *line, size_t len)
{
    if (s->cli_literal_unknown)
        return; /* text of a literal whose command was lost (server_line) */
    size_t n = ms_line_strip(line, len);
    bool terminated = len > 0 && line[len - 1] == '\n';
    if (s->sasl_exchange && !s->cli_in_cmd && s->sasl_cut != MS_CUT_NONE && memchr(line, ' ', n)) {
        /* No response (base64 has no space): after a server-side gap, the
         * exchange's end may be lost, and this is the next command. */
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
    }
    if (s->sasl_exchange && !s->cli_in_cmd && !memchr(line, ' ', n)) {
        /* SASL responses are not commands; the tagged reply ends them. A
         * line with a space is no response (base64 has none, RFC 9051
         * 6.2.2): it is a command the client sent on (its tagged reply,
         * pairing by tag, still ends the exchange). */
        ms_sasl_response(&s->sasl, line, n);
        return;
    }
    client_segment(s, line, n, terminated);
}

/* ---- server side ----------------------------------------------------- */

/* The fetch item named just before a literal at seg[end]:
 *   msg-att-body-section = section-binary / "BODY" section ["<" number ">"]
 *   / "RFC822" / "RFC822.HEADER" / "RFC822.TEXT"  (RFC 9051 7.5.2, RFC 3501)
 * Returns true when its literal is (part of) a message worth reporting. */
static bool fetch_item_is_message(const uint8_t *p, size_t end, bool *partial)
{
    size_t e = end;
    while (e > 0 && p[e - 1] == ' ')
        e--;
    size_t b = e;
    int depth = 0;
    while (b > 0) {
        uint8_t c = p[b - 1];
        if (c == ']')
            depth++;
        else if (c == '[' && depth > 0)
            depth--;
        else if ((c == ' ' || c == '(') && depth == 0)
            break;
        b--;
    }
    const uint8_t *t = p + b;
    size_t n = e - b;
    *partial = false;
    if (ms_ascii_eq(t, n, "RFC822"))
        return true;
    if (ms_ascii_eq(t, n, "RFC822.HEADER") || ms_ascii_eq(t, n, "RFC822.TEXT")) {
        *partial = true;
        return true;
    }
    size_t open;
    if (ms_ascii_prefix(t, n, "BODY["))
        open = 4;
    else if (ms_ascii_prefix(t, n, "BINARY["))
        open = 6;
    else if (ms_ascii_prefix(t, n, "BODY.PEEK["))
        open = 9; /* not in responses, but tolerated */
    else
        return false;
    size_t close = open + 1;
    while (close < n && t[close] != ']')
        close++;
    if (close >= n)
        return false;
    const uint8_t *sec = t + open + 1;
    size_t slen = close - open - 1;
    bool origin = close + 1 < n && t[close + 1] == '<';
    for (size_t i = 0; i + 13 <= slen; i++) {
        if (ms_ascii_prefix(sec + i, slen - i, "HEADER.FIELDS"))
            return false; /* a subset of header fields, not a message */
    }
    if (slen >= 5 && ms_ascii_eq(sec + slen - 5, 5, ".MIME"))
        return false;
    *partial = slen > 0 || origin;
    return true;
}

static void start_server_literal(struct imap *s, enum lit_kind kind, uint64_t n, bool partial)
{
    s->srv_lit = kind;
    s->srv_lit_left = n;
    s->srv_in_resp = true;
    if (n > 0)
        ms_textsess_raw(&s->ts, MS_TO_CLIENT, n);
    if (kind == LIT_MSG && n > 0) {
        ms_textsess_msg_new(&s->ts, &s->srv_msg);
        s->srv_msg_partial = partial;
    } else {
        s->srv_lit = LIT_SKIP;
    }
}

static void server_raw(struct imap *s, const uint8_t *p, size_t n)
{
    if (s->srv_lit == LIT_MSG)
        ms_textsess_msg_feed(&s->ts, &s->srv_msg, p, n);
    s->srv_lit_left -= n < s->srv_lit_left ? n : s->srv_lit_left;
    if (s->srv_lit_left == 0) {
        end_message(s, &s->srv_msg, "FETCH", s->srv_msg_partial, false);
        s->srv_lit = LIT_SKIP;
    }
}

/* A segment of a server response: checks for a literal at its end. */
static void server_segment_end(struct imap *s, const uint8_t *p, size_t n)
{
    size_t lit_start = 0;
    uint64_t lit_len = 0;
    bool nonsync = false;
    enum lit_parse lp = find_literal(s, p, n, &lit_start, &lit_len, &nonsync);
    if (lp != LIT_OK) {
        s->srv_in_resp = false;
        s->srv_fetch = false;
        return;
    }
    bool partial = false;
    bool msg = s->srv_fetch && fetch_item_is_message(p, lit_start, &partial);
    start_server_literal(s, msg ? LIT_MSG : LIT_SKIP, lit_len, partial);
}

/* A client's synchronizing literal was refused, or its command answered
 * before it was fully sent: nothing more of it is awaited. */
static void abort_client_command(struct imap *s)
{
    if (s->cli_await_cont) {
        ms_textsess_raw(&s->ts, MS_TO_SERVER, 0);
        s->cli_lit_left = 0;
        s->cli_await_cont = false;
        s->cli_in_cmd = false;
        ms_textsess_msg_free(&s->cli_msg); /* never sent */
    }
    /* Otherwise the client is streaming a LITERAL+: what remains of it
     * is read and ignored. */
    s->cur = NULL;
    if (s->cli_lit == LIT_ARG)
        s->cli_lit = LIT_SKIP;
}

/* True when a tagged reply's resp-text (RFC 9051 7.1) shows that it
 * answers a login: a CAPABILITY code (sent after a login, RFC 9051 6.2.3)
 * or an RFC 5530 authentication code, or text about logging in ("Logged
 * in", "LOGIN completed", gmail's "authenticated (Success)",
 * "Authentication failed", "Invalid credentials"). Positive evidence
 * only: the reply to a lost APPEND (OK, NO [OVERQUOTA], BAD ... APPEND)
 * or to any other command shows none. Used to confirm a login read after
 * a client hole (pending.confirm). */
static bool reply_shows_login(const uint8_t *t, size_t n)
{
    static const char *const codes[] = {
        "CAPABILITY", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "PRIVACYREQUIRED",
    };
    static const char *const words[] = {
        "logged in", "login", "log in", "authenticat", "credentials", "password",
    };
    if (n > 0 && t[0] == '[') {
        size_t c = 1;
        while (c < n && t[c] != ' ' && t[c] != ']')
            c++;
        for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
            if (ms_ascii_eq(t + 1, c - 1, codes[k]))
                return true;
        }
    }
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
        size_t wl = strlen(words[k]);
        for (size_t i = 0; i + wl <= n; i++) {
            if (ms_ascii_prefix(t + i, n - i, words[k]))
                return true;
        }
    }
    return false;
}

/* A login read after a client hole whose tag the client itself now uses
 * again: that "login" was a line of text the client sent inside something
 * else (an APPEND's message), tagged as whoever wrote it guessed. Checked
 * on every tagged client line, whatever its command (an extension too). */
static void drop_guessed_login(struct imap *s, const uint8_t *tag, size_t tlen)
{
    struct pending *same = entry_find(s, tag, tlen);
    if (!same || !same->confirm || same->confirmed || same == s->cur ||
        (same->cmd != CMD_LOGIN && same->cmd != CMD_AUTHENTICATE))
        return;
    if (same->cmd == CMD_LOGIN && !same->settled)
        emit_login(s, same, MS_OUTCOME_UNKNOWN, NULL, 0);
    else if (same == s->sasl_cmd && s->sasl_exchange)
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
    entry_release(s, same);
}

/* response-tagged = tag SP resp-cond-state CRLF
 * resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text  (RFC 9051 7.1) */
static void server_tagged(struct imap *s, const uint8_t *p, size_t n, size_t t)
{
    size_t w0 = t + 1;
    size_t w1 = word_end(p, n, w0);
    bool ok = ms_ascii_eq(p + w0, w1 - w0, "OK");
    if (!ok && !ms_ascii_eq(p + w0, w1 - w0, "NO") && !ms_ascii_eq(p + w0, w1 - w0, "BAD"))
        return; /* not a tagged status: resync on the next line */
    struct pending *e = entry_find(s, p, t);
    const uint8_t *text = w1 < n ? p + w1 + 1 : p + n;
    size_t tlen = w1 < n ? n - w1 - 1 : 0;
    /* The command whose literal the client was sending has its reply:
     * the client's next line is a command again. */
    s->cli_literal_unknown = false;
    if (e && e->confirm && (e->cmd == CMD_LOGIN || e->cmd == CMD_AUTHENTICATE)) {
        /* A reply that does not show a login's is that of a command the
         * hole took with the same tag (or of the command whose message
         * held this "login"): the login waits on for a reply of its own.
         * Once logged in, a client sends no LOGIN (RFC 9051 3): one read
         * after a hole then is text, whatever the reply. */
        if (e->after_login || !reply_shows_login(text, tlen))
            e = NULL;
        else
            e->confirmed = true;
        if (e && e == s->sasl_cmd)
            s->sasl_confirmed = true;
    }
    if (e) {
        enum ms_outcome outcome = ok ? MS_OUTCOME_SUCCESS : MS_OUTCOME_FAILURE;
        const uint8_t *reply = p;
        size_t rlen = n;
        /* A command sent after a gap may get the reply of one lost in it
         * with the same tag (a tag reused, or one the hole took), or a line
         * of a message whose literal header the hole took: no tagged reply
         * after a hole is trusted to be its command's. */
        bool unsure = e->unsure;
        if (unsure) {
            outcome = MS_OUTCOME_UNKNOWN;
            reply = NULL;
            rlen = 0;
        }
        if (e == s->cur)
            abort_client_command(s);
        if ((e->cmd == CMD_LOGIN || e->cmd == CMD_AUTHENTICATE) && ok && !unsure)
            s->logged_in = true;
        if (e->cmd == CMD_LOGIN || e->cmd == CMD_AUTHENTICATE)
            ms_textsess_login_reply(&s->ts, outcome);
        if (e->cmd == CMD_LOGIN) {
            if (unsure)
                e->incomplete = true;
            if (!e->settled)
                emit_login(s, e, outcome, reply, rlen);
        } else if (e->cmd == CMD_AUTHENTICATE && s->sasl_exchange && s->sasl_cmd == e) {
            end_sasl(s, outcome, reply, rlen, unsure ? MS_CUT_INCOMPLETE : MS_CUT_NONE);
        } else if (e->cmd == CMD_STARTTLS && s->starttls == e) {
            /* After OK the next bytes are a TLS handshake (RFC 9051
             * 6.2.1); a refusal leaves the session in the clear. */
            ms_textsess_starttls_reply(&s->ts, ok);
        } else if (e->cmd == CMD_COMPRESS && ok) {
            /* RFC 4978 3: after OK both directions are DEFLATE streams;
             * read as lines they would be noise. */
            ms_textsess_encrypt(&s->ts);
        }
        entry_release(s, e);
    }
    if (ok)
        resp_text_caps(s, text, tlen);
}

/* response-data = "*" SP (resp-cond-state / resp-cond-bye /
 *   mailbox-data / message-data / capability-data / enable-data) CRLF
 * greeting = "*" SP (resp-cond-auth / resp-cond-bye) CRLF  (RFC 9051 7) */
static void server_untagged(struct imap *s, const uint8_t *p, size_t n)
{
    size_t w0 = 2;
    size_t w1 = word_end(p, n, w0);
    const uint8_t *w = p + w0;
    size_t wl = w1 - w0;
    const uint8_t *rest = w1 < n ? p + w1 + 1 : p + n;
    size_t rlen = w1 < n ? n - w1 - 1 : 0;
    if (ms_ascii_eq(w, wl, "PREAUTH")) {
        /* Authenticated from the greeting (RFC 9051 7.1.4): its list is
         * one after login, which need not offer STARTTLS. */
        ms_textsess_login_reply(&s->ts, MS_OUTCOME_SUCCESS);
        resp_text_caps(s, rest, rlen);
    } else if (ms_ascii_eq(w, wl, "OK")) {
        resp_text_caps(s, rest, rlen);
    } else if (ms_ascii_eq(w, wl, "CAPABILITY")) {
        parse_caps(s, rest, rlen);
    } else if (wl > 0 && w[0] >= '0' && w[0] <= '9') {
        /* message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att)) */
        size_t v1 = word_end(p, n, w1 + 1);
        if (w1 < n && ms_ascii_eq(p + w1 + 1, v1 - w1 - 1, "FETCH"))
            s->srv_fetch = true;
    }
    server_segment_end(s, p, n);
}

static void server_line(struct imap *s, const uint8_t *line, size_t len)
{
    size_t n = ms_line_strip(line, len);
    if (s->srv_in_resp) {
        server_segment_end(s, line, n);
        return;
    }
    if (n >= 1 && line[0] == '+') {
        /* continue-req = "+" SP (resp-text / base64) CRLF (RFC 9051 7.5):
         * the go-ahead for a synchronizing literal, or a SASL challenge. */
        if (s->cli_await_cont) {
            s->cli_await_cont = false;
        } else if (s->sasl_exchange) {
            size_t skip = n >= 2 && line[1] == ' ' ? 2 : 1;
            ms_sasl_challenge(&s->sasl, line + skip, n - skip);
        } else if (s->cli_hole && !s->cli_in_cmd) {
            /* A go-ahead nobody asked for: the hole took the command that
             * announced a literal (an APPEND), whose length is unknown.
             * What the client sends until the tagged reply is its text. */
            s->cli_literal_unknown = true;
        }
        return;
    }
    if (n >= 2 && line[0] == '*' && line[1] == ' ') {
        server_untagged(s, line, n);
        return;
    }
    size_t t = tag_len(line, n);
    if (t > 0 && t < n && line[t] == ' ')
        server_tagged(s, line, n, t);
    /* Anything else (the middle of a literal we joined late, garbage) is
     * skipped: parsing resumes on the next line that parses. */
}

/* ---- line dispatch --------------------------------------------------- */

static void long_line(struct imap *s, unsigned dir, const uint8_t *line, size_t len, unsigned flags)
{
    if (dir == MS_TO_SERVER && s->cli_literal_unknown)
        return; /* text of a literal whose command was lost (server_line) */
    if (dir == MS_TO_SERVER) {
        /* No real client sends a command line past the cap: report it once,
         * give up on the command, but keep the literal that may end the
         * line so the stream stays in sync. */
        if (s->sasl_exchange && !s->cli_in_cmd && !s->sasl_resp_lost) {
            /* A SASL response past the cap: it keeps its place in the
             * exchange (the next one is not taken for it), unread. */
            if (!(flags & MS_LINE_CONT)) {
                ms_textsess_long_line(&s->ts, dir);
                ms_sasl_lost_response(&s->sasl);
            }
            s->sasl_resp_lost = (flags & MS_LINE_PARTIAL) != 0;
            return;
        }
        if (s->sasl_resp_lost) {
            s->sasl_resp_lost = (flags & MS_LINE_PARTIAL) != 0;
            return;
        }
        if (!(flags & MS_LINE_CONT)) {
            ms_textsess_long_line(&s->ts, dir);
            if (s->cur) {
                s->cur->incomplete = true;
                s->cur = NULL;
            }
            s->cli_in_cmd = true;
        }
        if (!(flags & MS_LINE_PARTIAL)) {
            size_t n = ms_line_strip(line, len);
            client_segment(s, line, n, true);
        }
        return;
    }
    /* Server lines past the cap are normal (a FETCH with a big ENVELOPE):
     * the head says which response it is, the tail may open a literal. */
    if (!(flags & MS_LINE_CONT)) {
        if (!s->srv_in_resp && len >= 1 && line[0] != '*' && line[0] != '+') {
            /* A tagged reply past the cap is lost: which command it ended is
             * unknown, and after it no tagged reply is trusted to be its
             * command's. */
            pairing_lost(s);
        }
        if (!s->srv_in_resp && len >= 2 && line[0] == '*' && line[1] == ' ') {
            size_t w1 = word_end(line, len, 2);
            size_t v1 = w1 < len ? word_end(line, len, w1 + 1) : w1;
            if (w1 < len && ms_ascii_eq(line + w1 + 1, v1 - w1 - 1, "FETCH"))
                s->srv_fetch = true;
        }
        s->srv_in_resp = true;
    }
    if (!(flags & MS_LINE_PARTIAL))
        server_segment_end(s, line, ms_line_strip(line, len));
}

/* The first line after a hole. Client: "tag SP command" with a command we
 * know is parsed (a hole of whole segments ends on a line boundary, and no
 * line's tail is that by chance often); the logins it starts get no outcome
 * (imap_lost: replies are unsure after a hole). Server: a tail is skipped,
 * since it may be the middle of a literal whose header the hole took. */
/* No line right after a hole is trusted to start a command, either way: the
 * hole may have held the "{n}" of an APPEND (client) or a FETCH (server),
 * and then the line is message text that anyone could have written; a
 * "tag LOGIN user pass" there would name an account the client never
 * used. The next line boundary is not safer in theory, but it is what
 * IMAP clients and servers resynchronise on. */
static bool imap_plausible(void *ctx, unsigned dir, const uint8_t *line, size_t len)
{
    (void)ctx;
    (void)dir;
    (void)line;
    (void)len;
    return false;
}

/* Lines past the cap are the protocol's: a literal may end them. */
static bool imap_takes_fragments(void *ctx, unsigned dir)
{
    (void)ctx;
    (void)dir;
    return true;
}

static void imap_line(void *ctx, unsigned dir, const uint8_t *line, size_t len, unsigned flags)
{
    struct imap *s = ctx;
    if (flags & MS_TS_INJECTED)
        return; /* sent after STARTTLS: not the client's own (RFC 9051 6.2.1) */
    if (flags & (MS_LINE_CONT | MS_LINE_PARTIAL)) {
        long_line(s, dir, line, len, flags);
        return;
    }
    if (dir == MS_TO_SERVER)
        client_line(s, line, len);
    else
        server_line(s, line, len);
}

static void imap_raw(void *ctx, unsigned dir, const uint8_t *p, size_t n)
{
    if (dir == MS_TO_SERVER)
        client_raw(ctx, p, n);
    else
        server_raw(ctx, p, n);
}

/* A hole outside a literal: the logins awaiting their tagged reply are
 * reported now, outcome unknown, oldest first (their entries stay, so that
 * the reply, if it comes, is matched and dropped). A hole in the client's
 * side ends an AUTHENTICATE exchange: the responses after it are no
 * commands (no "tag SP command"), ignored. One in the server's side may
 * have taken the challenge a response answers: the exchange is marked. */
static void settle_pending(struct imap *s, unsigned dir)
{
    if (dir == MS_TO_CLIENT && s->sasl_exchange)
        s->sasl_cut = MS_CUT_NO_HASHCAT; /* goes on: see the top of the file */
    bool end_exchange = dir == MS_TO_SERVER;
    for (;;) {
        struct pending *oldest = NULL;
        for (size_t i = 0; i < s->lim.max_pending_cmds; i++) {
            struct pending *x = s->tab[i];
            bool waits = x && x->used &&
                         ((x->cmd == CMD_LOGIN && !x->settled) ||
                          (end_exchange && x->cmd == CMD_AUTHENTICATE && s->sasl_exchange &&
                           s->sasl_cmd == x));
            if (waits && (!oldest || x->seq < oldest->seq))
                oldest = x;
        }
        if (!oldest)
            break;
        if (oldest->cmd == CMD_LOGIN) {
            oldest->settled = true;
            oldest->incomplete = true;
            emit_login(s, oldest, MS_OUTCOME_UNKNOWN, NULL, 0);
        } else {
            end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_INCOMPLETE);
        }
    }
    if (end_exchange && s->sasl_exchange) /* its entry was evicted */
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_INCOMPLETE);
}

/* A hole outside a literal (imap_gap has dealt with those): we are
 * mid-line, and skip to the next line. What the hole cut is marked
 * truncated/incomplete. */
static void imap_lost(void *ctx, unsigned dir, enum ms_ts_lost why)
{
    struct imap *s = ctx;
    if (why != MS_TS_LOST_GAP)
        return; /* lines past the cap are long_line's */
    if (dir == MS_TO_CLIENT) {
        end_message(s, &s->srv_msg, "FETCH", s->srv_msg_partial, true);
        s->srv_lit = LIT_SKIP;
        s->srv_lit_left = 0;
        s->srv_in_resp = false;
        s->srv_fetch = false;
        /* A STARTTLS's reply may be the one lost: what the client sends
         * now is not read (it may be TLS) unless its tagged reply comes
         * after all. */
        if (s->starttls)
            ms_textsess_starttls_lost(&s->ts);
        /* Tagged replies may be lost (the line after the hole is skipped,
         * and may have been a whole one): with tags reused, the next one
         * with a tag may be its. */
        s->unsure = true;
        settle_pending(s, dir);
        return;
    }
    bool cut_cmd = s->cur != NULL;
    s->sasl_resp_lost = false; /* the line it was skipping ended in the hole */
    end_message(s, &s->cli_msg, "APPEND", false, true);
    s->cli_lit = LIT_SKIP;
    s->cli_lit_left = 0;
    s->cli_await_cont = false;
    s->cli_in_cmd = false;
    s->cur = NULL;
    /* Commands may be lost; with tags reused, their replies may carry the
     * tag of a later command. Lost bytes sent while other commands than
     * the one they cut (or an AUTHENTICATE they answered) awaited their
     * reply: pipelined. */
    if (s->n_used > (cut_cmd ? 1u : 0u) + (s->sasl_exchange ? 1u : 0u))
        s->pipelining = true;
    s->unsure = true;
    s->cli_hole = true;
    settle_pending(s, dir);
}

static const struct ms_textsess_ops imap_ops = {
    .proto = "imap",
    .injection = MS_ANOM_STARTTLS_COMMAND_INJECTION,
    .injection_detail = "plaintext sent after STARTTLS before the server's reply",
    .on_line = imap_line,
    .on_raw = imap_raw,
    .plausible_line_start = imap_plausible,
    .on_lost = imap_lost,
    .takes_fragments = imap_takes_fragments,
};

/* ---- vtable ---------------------------------------------------------- */

static void *imap_create(const struct ms_limits *lim, const struct ms_sink *sink)
{
    struct imap *s = ms_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->lim = *lim;
    if (s->lim.max_pending_cmds == 0)
        s->lim.max_pending_cmds = 1;
    /* sizeof(*tab) is meant: tab is an array of pointers, each element a
     * pointer (the check expects an array of the structs themselves). */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): see above */
    s->tab = ms_calloc(s->lim.max_pending_cmds, sizeof(*s->tab));
    if (!s->tab) {
        ms_free(s);
        return NULL;
    }
    ms_textsess_init(&s->ts, &s->lim, sink, &imap_ops, s);
    ms_sasl_init(&s->sasl, lim);
    return s;
}

static enum ms_rc imap_feed(void *st, unsigned dir, const uint8_t *p, size_t n)
{
    struct imap *s = st;
    return ms_textsess_feed(&s->ts, dir, p, n);
}

/* A hole in one direction. Inside a literal the byte count says where the
 * literal ends, so parsing goes on in step; elsewhere imap_lost. */
static void imap_gap(void *st, unsigned dir, uint64_t missing)
{
    struct imap *s = st;
    if (dir > 1 || ms_textsess_encrypted(&s->ts))
        return;
    if (dir == MS_TO_CLIENT) {
        if (s->srv_lit_left > 0 && missing <= s->srv_lit_left) {
            s->srv_lit_left -= missing;
            ms_textsess_msg_gap(&s->srv_msg);
            ms_textsess_resync_raw(&s->ts, dir, s->srv_lit_left);
            if (s->srv_lit_left == 0) {
                end_message(s, &s->srv_msg, "FETCH", s->srv_msg_partial, true);
                s->srv_lit = LIT_SKIP;
            }
            return;
        }
        ms_textsess_gap(&s->ts, dir);
        return;
    }
    if (s->cur)
        s->cur->incomplete = true;
    if (s->cli_lit_left > 0 && missing <= s->cli_lit_left) {
        s->cli_lit_left -= missing;
        s->cli_await_cont = false;
        if (s->cli_lit == LIT_ARG && s->cur)
            s->cur->arg_cut = true;
        ms_textsess_msg_gap(&s->cli_msg);
        ms_textsess_resync_raw(&s->ts, dir, s->cli_lit_left);
        if (s->cli_lit_left == 0)
            client_raw(s, (const uint8_t *)"", 0);
        return;
    }
    ms_textsess_gap(&s->ts, dir);
}

static void imap_finish(void *st)
{
    struct imap *s = st;
    ms_textsess_finish(&s->ts);
    end_message(s, &s->srv_msg, "FETCH", s->srv_msg_partial, true);
    end_message(s, &s->cli_msg, "APPEND", false, true);
    if (s->sasl_exchange)
        end_sasl(s, MS_OUTCOME_UNKNOWN, NULL, 0, MS_CUT_NONE);
    /* Logins still waiting for their reply, in the order they were sent. */
    for (;;) {
        struct pending *oldest = NULL;
        for (size_t i = 0; i < s->lim.max_pending_cmds; i++) {
            struct pending *x = s->tab[i];
            if (x && x->used && (!oldest || x->seq < oldest->seq))
                oldest = x;
        }
        if (!oldest)
            break;
        if (oldest->cmd == CMD_LOGIN && !oldest->settled && !ms_textsess_encrypted(&s->ts))
            emit_login(s, oldest, MS_OUTCOME_UNKNOWN, NULL, 0);
        entry_release(s, oldest);
    }
}

static void imap_destroy(void *st)
{
    struct imap *s = st;
    if (!s)
        return;
    ms_textsess_msg_free(&s->srv_msg);
    ms_textsess_msg_free(&s->cli_msg);
    ms_textsess_free(&s->ts);
    for (size_t i = 0; i < s->lim.max_pending_cmds; i++) {
        if (!s->tab[i])
            continue;
        ms_buf_free(&s->tab[i]->user);
        ms_buf_free(&s->tab[i]->pass);
        ms_free(s->tab[i]);
    }
    ms_sasl_free(&s->sasl);
    ms_free(s->tab);
    ms_free(s);
}

/* A server status line: "* OK", "* PREAUTH", "* BYE" (the greeting,
 * RFC 9051 7.1), or a mid-session "* n FETCH" / "* n EXISTS". */
static bool probe_server_line(const uint8_t *p, size_t len)
{
    if (len < 4 || p[0] != '*' || p[1] != ' ')
        return false;
    size_t w1 = word_end(p, len, 2);
    const uint8_t *w = p + 2;
    size_t wl = w1 - 2;
    if (ms_ascii_eq(w, wl, "OK") || ms_ascii_eq(w, wl, "PREAUTH") || ms_ascii_eq(w, wl, "BYE") ||
        ms_ascii_eq(w, wl, "CAPABILITY"))
        return true;
    if (wl == 0 || w1 >= len)
        return false;
    for (size_t i = 0; i < wl; i++) {
        if (w[i] < '0' || w[i] > '9')
            return false;
    }
    size_t v1 = word_end(p, len, w1 + 1);
    const uint8_t *v = p + w1 + 1;
    size_t vl = v1 - w1 - 1;
    return ms_ascii_eq(v, vl, "FETCH") || ms_ascii_eq(v, vl, "EXISTS") ||
           ms_ascii_eq(v, vl, "RECENT") || ms_ascii_eq(v, vl, "EXPUNGE");
}

/* Server: a greeting or untagged status (POP3's "+OK" and SMTP's "220"
 * never start with "* "). Since a capture may begin mid-session, inside a
 * literal, the first few whole lines are tried. Client: "tag SP command"
 * with a command only IMAP has. */
static enum ms_probe imap_probe(unsigned dir, const uint8_t *p, size_t n)
{
    const uint8_t *lf = memchr(p, '\n', n);
    if (!lf)
        return n < MS_PROBE_WINDOW ? MS_PROBE_MAYBE : MS_PROBE_NO;
    if (dir == MS_TO_CLIENT) {
        size_t off = 0;
        for (int i = 0; i < 16 && off < n; i++) {
            const uint8_t *e = memchr(p + off, '\n', n - off);
            if (!e)
                break;
            size_t len = ms_line_strip(p + off, (size_t)(e - (p + off)) + 1);
            if (probe_server_line(p + off, len))
                return MS_PROBE_YES;
            off = (size_t)(e - p) + 1;
        }
        return MS_PROBE_NO;
    }
    size_t len = ms_line_strip(p, (size_t)(lf - p) + 1);
    size_t t = tag_len(p, len);
    if (t == 0 || t >= len || p[t] != ' ' || ms_ascii_eq(p, t, "AUTH"))
        return MS_PROBE_NO;
    size_t c1 = word_end(p, len, t + 1);
    const uint8_t *c = p + t + 1;
    size_t cl = c1 - t - 1;
    static const char *const imap_only[] = { "CAPABILITY", "LOGIN",   "AUTHENTICATE", "STARTTLS",
                                             "SELECT",     "EXAMINE", "LIST",         "LSUB",
                                             "NOOP",       "ID",      "UID",          "FETCH",
                                             "APPEND",     "STATUS",  "ENABLE",       "NAMESPACE",
                                             "LOGOUT" };
    for (size_t i = 0; i < sizeof(imap_only) / sizeof(imap_only[0]); i++) {
        if (ms_ascii_eq(c, cl, imap_only[i])) {
            /* "LOGIN" alone would also be SMTP/POP3 "AUTH LOGIN" (excluded
             * above); an IMAP LOGIN has arguments. */
            if (ms_ascii_eq(c, cl, "LOGIN") && c1 >= len)
                return MS_PROBE_NO;
            return MS_PROBE_YES;
        }
    }
    return MS_PROBE_NO;
}

static bool imap_tls(const void *st)
{
    return ms_textsess_tls(&((const struct imap *)st)->ts);
}

static void imap_posture(const void *st, struct ms_session_posture *out)
{
    ms_textsess_posture(&((const struct imap *)st)->ts, out);
}

const struct ms_dissector ms_dissector_imap = {
    .name = "imap",
    .probe = imap_probe,
    .create = imap_create,
    .feed = imap_feed,
    .gap = imap_gap,
    .finish = imap_finish,
    .destroy = imap_destroy,
    .tls = imap_tls,
    .posture = imap_posture,
};
