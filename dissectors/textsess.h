/* The text session shared by the POP3, IMAP and SMTP dissectors: what is
 * the same in every line-based mail protocol, so that each dissector keeps
 * only its grammar and its state machine (tcpdump's txtproto_print idea).
 *
 * It owns, per direction, the line buffer (common/linebuf.h, with its
 * "next N bytes raw" mode for IMAP literals and SMTP BDAT), the resync after
 * a gap (skip to the next line end, unless the protocol's hook says the line
 * after the hole plainly starts something it can parse), the line_too_long
 * anomaly, and the stop after an accepted STARTTLS/STLS. It reports lines
 * lost over the cap to the protocol (on_lost), so that what they would have
 * changed is forgotten (GUIDE 5.16: no later PASS inherits an earlier USER).
 *
 * STARTTLS/STLS command injection (CVE-2011-0411, RFC 3207 4, RFC 2595 4,
 * RFC 9051 6.2.1): client bytes that come after the STARTTLS command and
 * before the server's reply to it. The stream layer hands bytes over in
 * conversation order (a client byte sent after the reply arrives after it),
 * so "before the reply" depends only on the byte streams, never on how they
 * were cut into chunks: the rule is split-invariant. A first byte 0x16 (a
 * TLS handshake record) is a client that did not wait, not an injection:
 * the rest is TLS.
 *
 * Also: the message helper (the MIME parser's new/feed/finish with the
 * out_of_memory anomalies) and the anomaly helper, all under the
 * protocol's app_proto name.
 *
 * Out of memory (ms_textsess_nomem): an allocation the session's state
 * needed failed (a line, a user name, a recipient). What is pending may
 * then lack a part (a PASS whose USER was not kept, a message without one
 * of its recipients), and reporting the rest as if it were whole would be
 * wrong, so the session is dropped: out_of_memory is said once, no line is
 * read and nothing is reported any more, and feed returns MS_ERR_NOMEM
 * (the app session then destroys the dissector without finishing it). A
 * message whose own parser ran out of memory is only cut (ms_textmsg). */
#ifndef MS_TEXTSESS_H
#define MS_TEXTSESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/event.h"
#include "../common/limits.h"
#include "../common/linebuf.h"
#include "emit.h"
#include "mime.h"
#include "sasl.h"

/* Why a line was lost (on_lost). A line that is malformed is the
 * grammar's business: the protocol forgets what it would have changed
 * where it finds it (IMAP drops a LOGIN argument it cannot delimit). */
enum ms_ts_lost {
    MS_TS_LOST_GAP = 0,  /* a reassembly gap: the bytes never came */
    MS_TS_LOST_OVER_CAP, /* a command/reply line longer than max_line */
};

/* Flags of on_line, besides linebuf's MS_LINE_CONT / MS_LINE_PARTIAL: a
 * client line sent after STARTTLS/STLS, before its reply (already
 * reported); the protocol decides whether it is parsed. */
#define MS_TS_INJECTED 0x100u

struct ms_textsess_ops {
    const char *proto;         /* app_proto of every event: "pop3" */
    enum ms_anomaly injection; /* MS_ANOM_STLS_COMMAND_INJECTION */
    const char *injection_detail;
    /* A line (terminator included). Fragments of a line over the cap come
     * here only when takes_fragments says so (message text, IMAP);
     * otherwise the layer reports line_too_long and calls on_lost. */
    void (*on_line)(void *proto, unsigned dir, const uint8_t *line, size_t len, unsigned flags);
    /* Bytes of a raw run asked for with ms_textsess_raw (NULL: none). */
    void (*on_raw)(void *proto, unsigned dir, const uint8_t *p, size_t n);
    /* The first line after a gap: true when it plainly starts something
     * the protocol parses (a command, a reply, a data terminator), which is
     * then parsed; false drops it (it may be the tail of a cut line). NULL:
     * always dropped. Never called for the first fragment of a long line. */
    bool (*plausible_line_start)(void *proto, unsigned dir, const uint8_t *line, size_t len);
    /* A line was lost: forget what it could have changed. */
    void (*on_lost)(void *proto, unsigned dir, enum ms_ts_lost why);
    /* True when the protocol wants fragments of over-long lines in this
     * direction now (message text; NULL: never). */
    bool (*takes_fragments)(void *proto, unsigned dir);
};

struct ms_textsess {
    const struct ms_limits *lim;
    struct ms_sink sink;
    const struct ms_textsess_ops *ops;
    void *proto; /* the protocol's state, first argument of ops */
    struct ms_linebuf lb[2];
    bool skip_line[2];     /* after a gap: up to the next line end */
    bool encrypted;        /* TLS (or COMPRESS) started: nothing more is read */
    bool tls;              /* ... and it was TLS (STARTTLS/STLS accepted or begun) */
    bool starttls_wait;    /* STARTTLS/STLS sent, its reply not seen */
    bool starttls_unknown; /* ... and a hole took its reply: client lines unread */
    bool said_long_line;
    bool said_injection;
    /* What the server said about STARTTLS/STLS (credentials' starttls_offered). */
    bool caps_seen;   /* a capability list went by */
    bool caps_tls;    /* ... offering STARTTLS/STLS (or LOGINDISABLED) */
    bool tls_refused; /* a STLS was refused */
    /* The session event's posture (ms_textsess_posture): a STARTTLS/STLS
     * offer in any clear listing, a listing seen whole before a login succeeded, the
     * mechanisms advertised. */
    bool offered_any;
    bool listing_open;     /* a listing is being read ... */
    bool listing_hole;     /* ... and a server hole or lost line fell inside it */
    bool listing_complete; /* one was seen whole before any accepted login */
    bool logged_in;        /* a login was accepted, or may have been */
    bool login_pending;    /* a login command awaits its reply */
    bool at_end;           /* finishing: lines delivered now had no terminator */
    char mechs[MS_SESSION_MAX_MECHS][MS_SASL_MECH_NAME_MAX + 1];
    size_t n_mechs;
    bool mechs_truncated;
    enum ms_rc rc; /* MS_ERR_NOMEM once dropped (ms_textsess_nomem) */
};

/* lim must outlive ts (the protocol's own copy). */
void ms_textsess_init(struct ms_textsess *ts, const struct ms_limits *lim,
                      const struct ms_sink *sink, const struct ms_textsess_ops *ops, void *proto);
void ms_textsess_free(struct ms_textsess *ts);

/* The dissector's feed: MS_ERR_ARG for a bad direction, MS_ERR_NOMEM once
 * the session was dropped for lack of memory. */
enum ms_rc ms_textsess_feed(struct ms_textsess *ts, unsigned dir, const uint8_t *p, size_t n);
/* A gap mid-line (the dissector's gap, once it has ruled out a hole inside
 * a counted raw run): drops the unfinished line, skips to the next line end
 * (see plausible_line_start), and calls on_lost(MS_TS_LOST_GAP) so that the
 * protocol forgets what the hole may have held. Nothing once encrypted. */
void ms_textsess_gap(struct ms_textsess *ts, unsigned dir);
/* A gap inside a raw run that keeps the parser in step: the unfinished
 * line is dropped and the next left bytes are raw. */
void ms_textsess_resync_raw(struct ms_textsess *ts, unsigned dir, uint64_t left);
/* End of the connection: delivers unfinished lines (unless encrypted). */
void ms_textsess_finish(struct ms_textsess *ts);

/* The next n bytes of dir are raw (on_raw); 0 cancels a raw run. */
void ms_textsess_raw(struct ms_textsess *ts, unsigned dir, uint64_t n);

/* Nothing more is read, either way (TLS, COMPRESS). */
void ms_textsess_encrypt(struct ms_textsess *ts);
static inline bool ms_textsess_encrypted(const struct ms_textsess *ts)
{
    return ts->encrypted;
}
/* The session went to TLS (not COMPRESS): the stats count it encrypted. */
static inline bool ms_textsess_tls(const struct ms_textsess *ts)
{
    return ts->tls;
}

/* The injection rule (top of the file). _sent: the client's STARTTLS/STLS
 * command was parsed. _reply: the server answered it (ok: TLS starts).
 * _forget: its record was dropped, the reply will not be recognised.
 * _lost: a hole in the server's bytes may have taken the reply: the
 * client's lines are not read any more (they may be TLS), nor reported. */
void ms_textsess_starttls_sent(struct ms_textsess *ts);
void ms_textsess_starttls_reply(struct ms_textsess *ts, bool ok);
void ms_textsess_starttls_forget(struct ms_textsess *ts);
void ms_textsess_starttls_lost(struct ms_textsess *ts);

/* The server's STARTTLS posture. _caps_list: a capability list went by
 * (fresh: it replaces an earlier one, whose offer no longer stands).
 * _caps_tls: the list offers STARTTLS/STLS. _tls_refused: a refusal says
 * no TLS is offered (POP3, RFC 2595 4). _tls_offered: offered (the client
 * logged in in the clear anyway), not offered, or unknown (nothing seen). */
void ms_textsess_caps_list(struct ms_textsess *ts, bool fresh);
void ms_textsess_caps_tls(struct ms_textsess *ts);
/* IMAP's LOGINDISABLED: the credential's starttls_offered counts it (the
 * server protects the login), the session's offer and the stripping memo
 * do not: a proxy that removes STARTTLS may leave it. */
void ms_textsess_caps_logindisabled(struct ms_textsess *ts);
void ms_textsess_tls_refused(struct ms_textsess *ts);
enum ms_tristate ms_textsess_tls_offered(const struct ms_textsess *ts);

/* A capability listing starts (_listing_begin) and ends (_listing_end):
 * it counts as seen whole only when no server hole or lost server line
 * fell between the two, its last line had its terminator (a line cut by
 * the end of the flow may be "250 STAR" of "250 STARTTLS"), and no login
 * had been accepted (or may have been) before (a listing after login may
 * drop STARTTLS on its own). _mech: one AUTH mechanism
 * the listing advertises (p, n: its name; kept once, upper-case, when it
 * is a valid SASL name). */
void ms_textsess_listing_begin(struct ms_textsess *ts);
void ms_textsess_listing_end(struct ms_textsess *ts);
void ms_textsess_caps_mech(struct ms_textsess *ts, const uint8_t *p, size_t n);
/* Logins, whether or not they reveal a credential (GSSAPI, EXTERNAL): the
 * dissector calls _login_sent for a login command (LOGIN, AUTHENTICATE,
 * PASS, APOP, AUTH with a mechanism) and _login_reply with the outcome its
 * reply gives (UNKNOWN: a reply that may be another command's). A success
 * or an unknown outcome, a server hole or lost server line while a login
 * awaits its reply, or an IMAP PREAUTH greeting (_login_reply SUCCESS)
 * mean the session may be authenticated: no listing after that counts as
 * seen whole before login, nor says that STARTTLS is not offered. */
void ms_textsess_login_sent(struct ms_textsess *ts);
void ms_textsess_login_reply(struct ms_textsess *ts, enum ms_outcome outcome);
/* The session's posture for its session event (dissector.h, posture). */
void ms_textsess_posture(const struct ms_textsess *ts, struct ms_session_posture *out);

/* Emits a credential with its outcome and reply (NULL: none seen) and the
 * STARTTLS posture (ms_emit_credential). */
void ms_textsess_credential(struct ms_textsess *ts, struct ms_event *ev, enum ms_outcome outcome,
                            const uint8_t *reply, size_t rlen);
/* The end of a SASL exchange under command ("AUTH", "AUTHENTICATE"): the
 * decoder's anomaly (with detail), then the credential it revealed, if
 * any, cut as given (ms_emit_cut) and incomplete when asked. */
void ms_textsess_sasl_end(struct ms_textsess *ts, const struct ms_sasl *sasl, const char *command,
                          const char *detail, enum ms_outcome outcome, const uint8_t *reply,
                          size_t rlen, enum ms_emit_cut cut, bool incomplete);

/* A login-looking exchange read after client bytes were lost (a hole, a
 * line over the cap) got no reply that fits a login: it may be message
 * text whose DATA, BDAT or APPEND line was lost, written by whoever mailed
 * it, so it is dropped unreported (a report names an account). Says so
 * without naming anyone. */
void ms_textsess_login_unconfirmed(struct ms_textsess *ts, const char *command);

/* An allocation failed (what: a few words, for the detail): the session is
 * dropped (see the top of the file). Said once. */
void ms_textsess_nomem(struct ms_textsess *ts, const char *what);
static inline bool ms_textsess_failed(const struct ms_textsess *ts)
{
    return ts->rc != MS_OK;
}

/* Anomalies under the protocol's name. */
void ms_textsess_anomaly(struct ms_textsess *ts, enum ms_anomaly a, const char *detail);
/* line_too_long, once per connection, for protocols that take fragments. */
void ms_textsess_long_line(struct ms_textsess *ts, unsigned dir);

/* A message being parsed: the MIME parser, and whether it ran out of memory
 * (said once per message). */
struct ms_textmsg {
    struct ms_mime *mime;
    bool failed;
};

/* Starts a message; false (out_of_memory reported) when it cannot. */
bool ms_textsess_msg_new(struct ms_textsess *ts, struct ms_textmsg *m);
/* Feeds message bytes (nothing when no message is active). */
void ms_textsess_msg_feed(struct ms_textsess *ts, struct ms_textmsg *m, const uint8_t *p, size_t n);
/* Marks a hole inside the message (attachment gaps, truncated). */
void ms_textsess_msg_gap(struct ms_textmsg *m);
/* Ends the message and reports it as an email event (command, partial:
 * TOP / a section, to_client: retrieved rather than sent), then frees it;
 * nothing when none is active. */
void ms_textsess_msg_emit(struct ms_textsess *ts, struct ms_textmsg *m, const char *command,
                          bool partial, bool to_client, bool truncated);
/* After ms_mime_finish: says out_of_memory if finishing the message ran
 * out of it (it is then reported truncated); once per message. */
void ms_textsess_msg_check(struct ms_textsess *ts, struct ms_textmsg *m);
void ms_textsess_msg_free(struct ms_textmsg *m);

#endif
