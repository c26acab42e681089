/* Protocol events: what dissectors report, what output/ renders.
 * Every byte field is a (pointer, length) pair that is valid only during the
 * sink's emit() call (llhttp span rule): a sink that keeps data copies it.
 * A field with p == NULL is absent (rendered as JSON null or left out). */
#ifndef MS_EVENT_H
#define MS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "limits.h"

struct ms_bytes {
    const uint8_t *p;
    size_t len;
};

#define MS_BYTES_NONE ((struct ms_bytes){ NULL, 0 })

enum ms_event_kind {
    MS_EV_CREDENTIAL = 1,
    MS_EV_EMAIL,
    MS_EV_ANOMALY,
    MS_EV_SESSION,           /* a mail session ended (app/app_session.c) */
    MS_EV_STARTTLS_STRIPPED, /* a server's STARTTLS offer vanished (app/tls_memo.c) */
    MS_EV_COUNT
};

/* A yes/no that may not be known (JSON null); zero-initialised = unknown. */
enum ms_tristate {
    MS_TRI_UNKNOWN = 0,
    MS_TRI_FALSE,
    MS_TRI_TRUE,
};

enum ms_outcome {
    MS_OUTCOME_UNKNOWN = 0, /* no reply seen (capture ended, gap) */
    MS_OUTCOME_SUCCESS,
    MS_OUTCOME_FAILURE,
};

struct ms_ev_credential {
    const char *command;   /* protocol command: "USER", "APOP", "AUTH", ... */
    const char *mechanism; /* SASL name, or the command ("USER" for USER/PASS) */
    struct ms_bytes username;
    struct ms_bytes authzid;  /* SASL authorization identity, when given */
    struct ms_bytes password; /* the cleartext secret, if one crossed the wire */
    struct ms_bytes token;    /* OAuth bearer token (XOAUTH2, OAUTHBEARER): a secret too */
    /* Challenge/response logins (APOP, CRAM-MD5, DIGEST-MD5, NTLM): printable
     * text (hex for binary values), and the line hashcat takes. */
    struct ms_bytes challenge;
    struct ms_bytes response;
    struct ms_bytes hashcat;
    int hashcat_mode;            /* 0: none; 20 APOP, 10200 CRAM-MD5, 5500/5600 NetNTLMv1/v2 */
    struct ms_bytes domain;      /* NTLM */
    struct ms_bytes workstation; /* NTLM */
    enum ms_outcome outcome;
    struct ms_bytes server_reply;      /* reply line without its terminator */
    bool tls;                          /* false: seen in the clear */
    enum ms_tristate starttls_offered; /* the server offered STARTTLS/STLS (or LOGINDISABLED) */
    bool incomplete;                   /* pieces were missing (gap, cap, bad input) */
};

struct ms_attachment {
    struct ms_bytes filename;     /* decoded UTF-8 */
    struct ms_bytes content_type; /* lower-case type/subtype */
    uint64_t size;                /* bytes after transfer decoding */
    uint8_t sha256[32];           /* of the decoded content */
    bool truncated;               /* its content may be incomplete: a gap, a cap, a partial
                                   * fetch or the end of the message cut it before its end */
    bool gap;                     /* a hole in the capture fell inside it (so truncated) */
    struct ms_bytes file;         /* where --extract-attachments wrote it, else absent */
};

struct ms_ev_email {
    const char *command; /* "RETR", "TOP", "DATA", "BDAT", "FETCH", "APPEND" */
    /* SMTP only, absent elsewhere: the client's HELO/EHLO argument, and the
     * envelope paths as the client wrote them (Suricata's form: the first
     * word after "MAIL FROM:"/"RCPT TO:", angle brackets kept). */
    struct ms_bytes helo;
    struct ms_bytes mail_from;
    const struct ms_bytes *rcpt_to;
    size_t n_rcpt_to;
    struct ms_bytes from; /* decoded UTF-8 header values */
    const struct ms_bytes *to;
    size_t n_to;
    const struct ms_bytes *cc;
    size_t n_cc;
    struct ms_bytes subject;
    struct ms_bytes date;
    struct ms_bytes message_id;
    uint64_t size;      /* bytes as transferred, after dot-unstuffing */
    uint8_t sha256[32]; /* of those bytes */
    const struct ms_attachment *attachments;
    size_t n_attachments;
    struct ms_bytes body_excerpt; /* start of the first text part (--body-bytes) */
    const struct ms_bytes *urls;  /* URLs found in text parts, bounded */
    size_t n_urls;
    const char *const *mime_errors; /* stable codes of MIME damage seen */
    size_t n_mime_errors;
    enum ms_tristate accepted;    /* SMTP: the server's verdict on the data */
    struct ms_bytes server_reply; /* SMTP: that verdict's reply line */
    bool partial;                 /* only part of the message moved (TOP, IMAP sections) */
    bool to_client;               /* it moved from the server to the client (RETR, TOP, FETCH) */
    bool truncated;               /* a gap, a cap or the end of capture cut it */
    struct ms_bytes eml_file;     /* where --extract wrote the message, else absent */
};

struct ms_ev_anomaly {
    const char *type;       /* "applayer" (NULL means this), "stream", "decode" */
    const char *code;       /* stable identifier, e.g. "line_too_long" */
    struct ms_bytes detail; /* human-readable context */
};

/* How a session was protected. */
enum ms_session_tls {
    MS_SESSION_TLS_NONE = 0, /* all of it in the clear */
    MS_SESSION_TLS_STARTTLS, /* STARTTLS/STLS accepted: the rest went to TLS */
    MS_SESSION_TLS_IMPLICIT, /* TLS from the first byte (IMAPS, POP3S, SMTPS) */
};

/* SASL mechanism names are at most 20 characters (RFC 4422 3.1). */
#define MS_SASL_MECH_NAME_MAX 20

/* What a dissector knows of its session's STARTTLS posture, asked for at
 * the session's end (ms_dissector.posture). */
struct ms_session_posture {
    enum ms_tristate
        starttls_offered; /* STARTTLS/STLS (never LOGINDISABLED) in any clear listing */
    /* A whole capability listing (EHLO reply, CAPABILITY response, CAPA
     * list) was seen in the clear before any login succeeded, with no hole
     * in it: only then does "not offered" mean the server did not offer it. */
    bool listing_complete;
    bool tls; /* STARTTLS/STLS accepted (or TLS begun after it) */
    char mechs[MS_SESSION_MAX_MECHS][MS_SASL_MECH_NAME_MAX + 1]; /* AUTH mechanisms advertised */
    size_t n_mechs;
    bool mechs_truncated; /* more were advertised than are kept */
};

/* One login of a session, as its credential event gave it. */
struct ms_session_login {
    struct ms_bytes username; /* cut to MS_SESSION_USER_MAX bytes */
    const char *mechanism;
    enum ms_outcome outcome;
};

/* A mail session's summary, emitted when it ends. */
struct ms_ev_session {
    enum ms_session_tls tls;
    const struct ms_session_posture *posture;  /* NULL: unknown (implicit TLS, dropped parser) */
    uint64_t logins[3];                        /* by enum ms_outcome */
    const struct ms_session_login *login_list; /* the first MS_SESSION_MAX_LOGINS */
    size_t n_login_list;
    uint64_t messages;                       /* email events */
    uint64_t bytes_toserver, bytes_toclient; /* TCP payload bytes of the flow's packets */
    uint64_t anomalies;                      /* anomaly events of the flow */
    const char *const *anomaly_codes;        /* distinct codes, at most MS_SESSION_MAX_CODES */
    size_t n_anomaly_codes;
};

/* A server that offered STARTTLS/STLS in an earlier session listed its
 * capabilities without it in this one (a man in the middle removing it). */
struct ms_ev_stripped {
    uint64_t offered_flow_id; /* the earlier session that had the offer */
    uint64_t offered_ts_us;   /* when that session ended */
};

struct ms_event {
    enum ms_event_kind kind;
    const char *app_proto; /* "pop3", "imap", "smtp"; NULL before classification */
    union {
        struct ms_ev_credential cred;
        struct ms_ev_email email;
        struct ms_ev_anomaly anomaly;
        struct ms_ev_session session;
        struct ms_ev_stripped stripped;
    } u;
};

struct ms_msg_tap;

/* Where a dissector sends events. The pipeline adds the flow and timestamp.
 * tap, when set, also receives message content (for --extract); dissectors
 * pass the sink to ms_mime_new and need not know about it. */
struct ms_sink {
    void (*emit)(void *user, const struct ms_event *ev);
    void *user;
    const struct ms_msg_tap *tap;
};

/* Message content for --extract (implemented by output/extract.c; driven by
 * dissectors/mime.c, so dissectors need not know about it). For each message:
 * msg_begin, msg_data with the bytes exactly as transferred (after
 * dot-unstuffing), then for each attachment att_begin / att_data (decoded
 * content) / att_end, and msg_end. A NULL handle from a *_begin means "not
 * kept": its data/end calls are skipped. *_end returns where the content was
 * written (absent if nowhere); those bytes stay valid until the next call to
 * the tap, so the caller copies them. att_begin may be NULL (attachments not
 * wanted). Errors are the tap's business: it reports them through the sink
 * as anomalies and never fails the parse. */
struct ms_msg_tap {
    void *(*msg_begin)(const struct ms_msg_tap *tap, const struct ms_sink *sink);
    void (*msg_data)(void *msg, const uint8_t *p, size_t n);
    void *(*att_begin)(void *msg, size_t index, const struct ms_attachment *a);
    void (*att_data)(void *att, const uint8_t *p, size_t n);
    struct ms_bytes (*att_end)(void *att);
    struct ms_bytes (*msg_end)(void *msg);
    void *user;       /* the tap's own state */
    uint64_t flow_id; /* set by the pipeline for each flow: names files */
    uint64_t *msgs;   /* the flow's messages begun so far (the pipeline's,
                       * per flow; the tap counts them): names files */
};

static inline struct ms_bytes ms_bytes_of(const void *p, size_t len)
{
    struct ms_bytes b = { (const uint8_t *)p, len };
    return b;
}

#endif
