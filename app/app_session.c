/* The per-flow state machine:
 *
 *   CLASSIFYING: packets go to nDPI; reassembled bytes are logged (in
 *     delivery order, both directions interleaved, capped) and shown to each
 *     dissector's probe. A verdict from either picks the dissector.
 *   DISSECTING:  the log is replayed into the dissector, then bytes flow
 *     straight through.
 *   IGNORED:     not mail, or encrypted: nothing more is kept.
 *
 * Per-flow cost is kept small for floods of half-open connections: nDPI
 * state is allocated at the first payload packet only, and classification
 * state is freed as soon as a verdict is reached. The memory a flow holds is
 * charged against lim->flow_memcap (the pipeline evicts past it).
 * The classification log is capped (2 * lim->classify_buf): a direction that
 * overflows it is cut, and the dissector is told of the rest as a gap.
 *
 * Out of memory: a flow whose state could not be allocated (classification,
 * its log, reassembly, the dissector's own) is dropped with one
 * out_of_memory anomaly: IGNORED from then on, its dissector destroyed
 * without finishing, since what it holds may lack what the failure took
 * (a PASS without its USER) and a part reported as the whole is wrong.
 *
 * Direction: when the capture starts mid-connection the flow table guesses
 * the client from the ports. Before a dissector starts, the dissectors'
 * probes may prove the guess wrong (a server banner from the side taken for
 * the client, a client command from the other side): the flow is then
 * swapped once, buffered bytes included.
 */
#include "app_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/anomaly.h"
#include "../common/ascii.h"
#include "../common/buf.h"
#include "../common/proto.h"
#include "../dissectors/dissector.h"
#include "tls_memo.h"

enum app_state { ST_CLASSIFYING = 0, ST_DISSECTING, ST_IGNORED };

/* Probes see at most MS_PROBE_WINDOW bytes of each direction's first
 * bytes (common/limits.h). */

/* The session event's facts gathered while the flow lives: allocated for
 * mail flows and implicit-TLS ones only, so that a flood of other flows
 * does not pay for it. The dissector's posture is asked for before it is
 * destroyed (at the end, or when the flow is dropped). */
struct app_summary {
    uint64_t logins[3]; /* by enum ms_outcome */
    struct ms_session_login login_list[MS_SESSION_MAX_LOGINS];
    uint8_t users[MS_SESSION_MAX_LOGINS][MS_SESSION_USER_MAX];
    /* SASL names live in the dissector's state: copied. */
    char mechs[MS_SESSION_MAX_LOGINS][MS_SASL_MECH_NAME_MAX + 1];
    size_t n_logins;
    uint64_t messages, anomalies;
    const char *codes[MS_SESSION_MAX_CODES];
    size_t n_codes;
    struct ms_session_posture posture;
    bool have_posture;
    bool implicit;                /* TLS from the first byte ... */
    enum ms_proto implicit_proto; /* ... of this protocol */
    bool offer_noted;             /* its STARTTLS offer is in the memo (note_posture) */
    bool judged;                  /* its whole listing without it was checked (note_posture) */
};

/* Per direction: swapped as one struct with the flow's. */
struct app_dir {
    struct ms_buf probe;   /* first bytes */
    bool log_over;         /* no longer logged ... */
    uint64_t log_dropped;  /* ... and these bytes of it are missing, */
    uint32_t gap_rec;      /* said by the gap record at this offset of the log */
    bool overlap_reported; /* one anomaly of each kind per direction */
    bool gap_reported;
};

struct ms_app_session {
    struct ms_app_ctx *c;
    struct ms_flow *flow;
    enum app_state state;
    struct ms_classify_flow *cf;
    /* MS_APP_OTHER once nDPI (or ms_classify_quick, for a flow nDPI never
     * saw: cf NULL) said so: not asked again. */
    enum ms_app said;
    unsigned payload_pkts;
    struct ms_buf log; /* records: see log_record */
    bool log_full;     /* the log hit its cap: no verdict in time */
    struct app_dir dir[2];
    const struct ms_dissector *d;
    void *dst;
    struct ms_sink sink;
    struct ms_msg_tap *tap;  /* c->tap with this flow's id (--extract) */
    struct ms_seg_meta now;  /* events' packet: the latest that carried bytes
                                     * given to the dissector so far */
    struct ms_seg_meta last; /* the flow's last packet */
    bool cap_hit;            /* a reassembly cap forced a gap */
    bool cap_reported;
    bool stopped;            /* the dissector's feed failed: it gets no more bytes */
    bool counted_tls;        /* STARTTLS/STLS seen: counted in flows_encrypted */
    uint64_t bytes[2];       /* TCP payload bytes of the flow's packets, per direction */
    struct app_summary *sum; /* the session event's facts (NULL: no session event) */
    size_t charged;          /* bytes counted in c->flow_mem */
};

/* Memory charged per flow (see flow_cost): the table entry and this
 * struct with allocator overhead; nDPI 4.2's flow struct (688 bytes) with
 * its wrapper; a dissector's state, estimated from its line buffers. */
#define FLOW_BASE_COST (sizeof(struct ms_flow) + sizeof(struct ms_app_session) + 32)
#define CLASSIFY_COST 768
#define DISSECTOR_COST(lim) (2 * (lim)->max_line + 2048)

/* Log record: [dir | LOG_GAP | LOG_CUT][len:4][ts_us:8][pkt_no:8][tag:8]
 * then len bytes (none for a gap). LOG_CUT: the rest of that direction did not fit
 * in the log (not a hole in the capture). */
#define LOG_GAP 0x80u
#define LOG_CUT 0x40u
#define LOG_HDR 29

/* ---- events ---------------------------------------------------------- */

const char ms_app_no_file[1] = "";

/* Every event of a mail flow passes here: what the session event counts. */
static void tally(struct app_summary *s, const struct ms_event *ev)
{
    switch (ev->kind) {
    case MS_EV_CREDENTIAL: {
        const struct ms_ev_credential *c = &ev->u.cred;
        s->logins[c->outcome <= MS_OUTCOME_FAILURE ? c->outcome : MS_OUTCOME_UNKNOWN]++;
        if (s->n_logins < MS_SESSION_MAX_LOGINS) {
            struct ms_session_login *l = &s->login_list[s->n_logins];
            ms_ascii_join(s->mechs[s->n_logins], sizeof(s->mechs[0]),
                          (const char *const[]){ c->mechanism ? c->mechanism : "", NULL });
            l->mechanism = s->mechs[s->n_logins];
            l->outcome = c->outcome;
            l->username = MS_BYTES_NONE;
            if (c->username.p) {
                size_t n = c->username.len < MS_SESSION_USER_MAX ? c->username.len
                                                                 : MS_SESSION_USER_MAX;
                memcpy(s->users[s->n_logins], c->username.p, n);
                l->username = ms_bytes_of(s->users[s->n_logins], n);
            }
            s->n_logins++;
        }
        break;
    }
    case MS_EV_EMAIL:
        s->messages++;
        break;
    case MS_EV_ANOMALY: {
        s->anomalies++;
        enum ms_anomaly code;
        if (!ev->u.anomaly.code || !ms_anomaly_lookup(ev->u.anomaly.code, &code))
            break;
        const char *name = ms_anomaly_code(code); /* the registry's: it stays */
        for (size_t i = 0; i < s->n_codes; i++) {
            if (s->codes[i] == name)
                return;
        }
        if (s->n_codes < MS_SESSION_MAX_CODES)
            s->codes[s->n_codes++] = name;
        break;
    }
    default:
        break;
    }
}

static void flow_emit(void *user, const struct ms_event *ev)
{
    struct ms_app_session *a = user;
    if (a->sum)
        tally(a->sum, ev);
    struct ms_flow *f = a->flow;
    struct ms_flow_meta m = {
        .ts_us = a->now.ts_us,
        .flow_id = f->flow_id,
        .ip_version = f->ip_version,
        .src_addr = f->cli_addr,
        .src_port = f->cli_port,
        .dest_addr = f->srv_addr,
        .dest_port = f->srv_port,
        /* The file of the packet pcap_cnt counts (a flow may go on in the
         * next file of a run). */
        .pcap_filename = a->now.tag == ms_app_no_file ? NULL
                         : a->now.tag                 ? (const char *)a->now.tag
                                                      : a->c->source_name,
        .pcap_cnt = a->c->offline ? a->now.pkt_no : 0,
        .src_mac = f->mac ? f->mac->src : NULL,
        .dest_mac = f->mac ? f->mac->dst : NULL,
        .bssid = f->mac && f->mac->has_bssid ? f->mac->bssid : NULL,
    };
    /* The flow's frames so far go to its evidence file, which the alert
     * (a login, or STARTTLS stripping) names (also when --dedup suppresses
     * the alert: the file is the repeat's evidence, named by its flow_id). */
    if ((ev->kind == MS_EV_CREDENTIAL || ev->kind == MS_EV_STARTTLS_STRIPPED) && a->c->evidence)
        m.evidence = ms_evidence_alert(a->c->evidence, &f->evidence, f->flow_id);
    if (ms_output_event(a->c->out, &m, ev) != MS_OK)
        a->c->st.write_errors++;
}

/* An anomaly of this flow from the registry (its type there: "stream").
 * detail NULL: the registry's description. */
static void stream_anomaly(struct ms_app_session *a, enum ms_anomaly code, const char *detail)
{
    struct ms_event ev;
    ms_anomaly_event(&ev, code, detail);
    ev.app_proto = a->d ? a->d->name : NULL;
    flow_emit(a, &ev);
}

/* A hole the dissector is told of: said once per direction (the stats
 * count every one). */
static void gap_anomaly(struct ms_app_session *a, unsigned dir, uint64_t missing)
{
    if (a->dir[dir].gap_reported)
        return;
    a->dir[dir].gap_reported = true;
    char detail[200];
    snprintf(detail, sizeof(detail),
             "%llu bytes of the %s stream were never captured: what spans them is reported "
             "incomplete or truncated",
             (unsigned long long)missing, dir == MS_TO_SERVER ? "client's" : "server's");
    stream_anomaly(a, MS_ANOM_REASSEMBLY_GAP, detail);
}

/* The dissector's STARTTLS posture, kept for the session event before the
 * dissector goes. */
static void take_posture(struct ms_app_session *a)
{
    if (a->sum && a->dst && a->d->posture && !a->sum->have_posture) {
        a->d->posture(a->dst, &a->sum->posture);
        a->sum->have_posture = true;
    }
}

/* The flow is dropped for lack of memory (top of the file). what: the
 * detail, NULL when the dissector said it already. */
static void drop_flow(struct ms_app_session *a, const char *what)
{
    if (a->state == ST_IGNORED)
        return;
    if (what) {
        char detail[160];
        snprintf(detail, sizeof(detail), "out of memory (%s): the rest of this flow is not parsed",
                 what);
        stream_anomaly(a, MS_ANOM_OUT_OF_MEMORY, detail);
    }
    if (a->state == ST_DISSECTING) {
        take_posture(a);
        a->d->destroy(a->dst);
        a->dst = NULL;
        a->stopped = true;
        a->c->st.dissector_stopped++;
    } else {
        a->c->st.flows_ignored++;
    }
    ms_classify_flow_free(a->cf);
    a->cf = NULL;
    ms_buf_free(&a->dir[0].probe);
    ms_buf_free(&a->dir[1].probe);
    ms_buf_free(&a->log);
    a->state = ST_IGNORED;
}

/* Bytes to the dissector. An error from feed means the dissector stopped
 * (GUIDE 3.4: a parser's fatal errors are sticky): it is fed nothing more,
 * but still finishes and is destroyed with the flow. Said once, counted.
 * Out of memory drops the flow instead (the dissector said so). */
static void dissect_data(struct ms_app_session *a, unsigned dir, const uint8_t *p, size_t n)
{
    if (a->stopped)
        return;
    enum ms_rc rc = a->d->feed(a->dst, dir, p, n);
    if (rc == MS_OK)
        return;
    if (rc == MS_ERR_NOMEM) {
        drop_flow(a, NULL);
        return;
    }
    a->stopped = true;
    a->c->st.dissector_stopped++;
    char detail[160];
    snprintf(detail, sizeof(detail),
             "the %s parser failed (%s) and was stopped: the rest of this flow is not parsed",
             a->d->name, ms_rc_str(rc));
    stream_anomaly(a, MS_ANOM_DISSECTOR_STOPPED, detail);
}

/* A hole, told to the dissector unless it stopped. */
static void dissect_hole(struct ms_app_session *a, unsigned dir, uint64_t missing)
{
    if (!a->stopped)
        a->d->gap(a->dst, dir, missing);
}

/* The packet that completed an event is the latest of those whose bytes
 * it is made of: in conversation order, everything delivered so far. A
 * reply captured before its request completes the event with the request. */
static void advance(struct ms_app_session *a, const struct ms_seg_meta *m)
{
    if (m->pkt_no >= a->now.pkt_no)
        a->now = *m;
}

/* m: the packet at which the hole was given up (the anomaly's time). */
static void dissect_gap(struct ms_app_session *a, unsigned dir, uint64_t missing,
                        const struct ms_seg_meta *m)
{
    dissect_hole(a, dir, missing);
    struct ms_seg_meta saved = a->now;
    a->now = *m;
    gap_anomaly(a, dir, missing);
    a->now = saved;
}

/* ---- dissector selection --------------------------------------------- */

static void stop_classifying(struct ms_app_session *a)
{
    ms_classify_flow_free(a->cf);
    a->cf = NULL;
    ms_buf_free(&a->dir[0].probe);
    ms_buf_free(&a->dir[1].probe);
}

/* The first bytes of a direction look like a TLS record: a handshake
 * (22), version 3.0 to 3.4 (RFC 8446 5.1). */
static bool tls_record_first(const struct ms_buf *b)
{
    return b->len >= 3 && b->p[0] == 0x16 && b->p[1] == 0x03 && b->p[2] <= 0x04;
}

/* Implicit TLS (README, session events): nDPI names IMAPS, POP3S or
 * SMTPS, or, when it cannot say which (TLS, or no verdict), the server's
 * port is 993, 995 or 465 and the first bytes of either side look like a
 * TLS record (junk sent to those ports is no TLS session). MS_PROTO_COUNT:
 * not a mail session. */
static enum ms_proto implicit_proto(const struct ms_app_session *a, enum ms_app v)
{
    switch (v) {
    case MS_APP_POP3S:
        return MS_PROTO_POP3;
    case MS_APP_IMAPS:
        return MS_PROTO_IMAP;
    case MS_APP_SMTPS:
        return MS_PROTO_SMTP;
    case MS_APP_ENCRYPTED:
    case MS_APP_UNKNOWN:
        break;
    default:
        return MS_PROTO_COUNT;
    }
    if (!tls_record_first(&a->dir[0].probe) && !tls_record_first(&a->dir[1].probe))
        return MS_PROTO_COUNT;
    switch (a->flow->srv_port) {
    case 995:
        return MS_PROTO_POP3;
    case 993:
        return MS_PROTO_IMAP;
    case 465:
        return MS_PROTO_SMTP;
    default:
        return MS_PROTO_COUNT;
    }
}

/* A session event will be written for this flow; false (out_of_memory
 * said) when its facts cannot be kept. */
static bool want_summary(struct ms_app_session *a)
{
    if (a->sum)
        return true;
    a->sum = ms_calloc(1, sizeof(*a->sum));
    if (!a->sum)
        stream_anomaly(a, MS_ANOM_OUT_OF_MEMORY, "out of memory: no session event for this flow");
    return a->sum != NULL;
}

static void ignore_flow(struct ms_app_session *a, enum ms_app verdict, bool encrypted)
{
    enum ms_proto implicit = implicit_proto(a, verdict);
    if (implicit != MS_PROTO_COUNT && want_summary(a)) {
        a->sum->implicit = true;
        a->sum->implicit_proto = implicit;
        encrypted = true;
    }
    stop_classifying(a);
    ms_buf_free(&a->log);
    a->state = ST_IGNORED;
    if (encrypted)
        a->c->st.flows_encrypted++;
    else
        a->c->st.flows_ignored++;
}

static void replay_log(struct ms_app_session *a)
{
    const uint8_t *p = a->log.p;
    size_t left = a->log.len;
    /* A record can end the dissection (out of memory drops the flow and
     * frees the log): stop walking it then. */
    while (left >= LOG_HDR && a->state == ST_DISSECTING) {
        unsigned hdr = p[0];
        uint32_t len;
        struct ms_seg_meta m;
        memcpy(&len, p + 1, 4);
        memcpy(&m.ts_us, p + 5, 8);
        memcpy(&m.pkt_no, p + 13, 8);
        memcpy(&m.tag, p + 21, sizeof(m.tag));
        p += LOG_HDR;
        left -= LOG_HDR;
        if (hdr & LOG_CUT) {
            dissect_hole(a, hdr & 1u, len);
            continue;
        }
        if (hdr & LOG_GAP) {
            dissect_gap(a, hdr & 1u, len, &m);
            continue;
        }
        if (len > left)
            break;
        advance(a, &m);
        dissect_data(a, hdr & 1u, p, len);
        p += len;
        left -= len;
    }
}

/* A session upgraded with STARTTLS/STLS counts as encrypted (README,
 * Protocols), once, as soon as the dissector sees the upgrade, so that a
 * SIGUSR1 stats event during the session has it too. */
/* The memo's key for this flow's server (app/tls_memo.h). */
static struct ms_tls_server memo_server(const struct ms_app_session *a, enum ms_proto proto)
{
    const struct ms_flow *f = a->flow;
    struct ms_tls_server srv = { .ip_version = f->ip_version,
                                 .port = f->srv_port,
                                 .proto = (uint8_t)proto };
    memcpy(srv.addr, f->srv_addr, sizeof(srv.addr));
    return srv;
}

/* Other threads' uses of the memo that one thread would have made first
 * are made first (app/engine.c). */
static void memo_order(const struct ms_app_session *a, const struct ms_tls_server *srv)
{
    if (a->c->memo_order)
        a->c->memo_order(a->c->memo_order_user, srv);
}

/* STARTTLS stripping as it happens (app/tls_memo.h): an offer goes into
 * the memo when it is seen, and a whole listing without it is checked
 * when it completes, not when the session ends: a long session (IDLE)
 * that offered STARTTLS must not leave a stripped session of the same
 * server that ends first unjudged, and the alert comes before the
 * cleartext login it warns of. Each is done once per session; the
 * session's end does what was not done (check_stripping). */
static void note_posture(struct ms_app_session *a)
{
    struct ms_session_posture p;
    enum ms_proto proto = MS_PROTO_COUNT;
    if (!a->sum || a->sum->offer_noted || a->sum->judged || !a->dst || !a->d->posture ||
        !a->c->tls_memo)
        return;
    a->d->posture(a->dst, &p);
    if ((p.starttls_offered != MS_TRI_TRUE && !p.listing_complete) ||
        !ms_proto_by_name(a->d->name, &proto))
        return;
    struct ms_tls_server srv = memo_server(a, proto);
    memo_order(a, &srv);
    if (p.starttls_offered == MS_TRI_TRUE) {
        a->sum->offer_noted = true;
        if (ms_tls_memo_offered(a->c->tls_memo, &srv, a->flow->flow_id, a->now.ts_us) != MS_OK)
            stream_anomaly(a, MS_ANOM_OUT_OF_MEMORY,
                           "out of memory: this server's STARTTLS offer is not remembered");
        return;
    }
    a->sum->judged = true;
    struct ms_event ev = { .kind = MS_EV_STARTTLS_STRIPPED, .app_proto = ms_proto_name(proto) };
    if (ms_tls_memo_stripped(a->c->tls_memo, &srv, &ev.u.stripped.offered_flow_id,
                             &ev.u.stripped.offered_ts_us))
        flow_emit(a, &ev);
}

static void note_tls(struct ms_app_session *a)
{
    if (!a->counted_tls && a->dst && a->d->tls && a->d->tls(a->dst)) {
        a->counted_tls = true;
        a->c->st.flows_encrypted++;
    }
}

/* A mail flow's own copy of the --extract tap, with its message count:
 * files are numbered per flow, so their names do not depend on which
 * other flows came first (or on --threads). */
struct flow_tap {
    struct ms_msg_tap tap;
    uint64_t msgs;
};

static void start_dissector(struct ms_app_session *a, const struct ms_dissector *d)
{
    struct ms_app_ctx *c = a->c;
    stop_classifying(a);
    a->d = d; /* the app_proto of its anomalies */
    a->sink.emit = flow_emit;
    a->sink.user = a;
    want_summary(a); /* before any event of the session, to count it */
    if (c->tap.msg_begin) {
        /* Extracted files are named after the flow: each mail flow gets
         * its own copy of the tap with its id. */
        struct flow_tap *ft = ms_calloc(1, sizeof(*ft));
        a->tap = ft ? &ft->tap : NULL; /* freed as a->tap: the first member */
        if (ft) {
            ft->tap = c->tap;
            ft->tap.flow_id = a->flow->flow_id;
            ft->tap.msgs = &ft->msgs;
            a->sink.tap = a->tap;
        } else {
            /* The mail is still parsed; only its files are not written. */
            stream_anomaly(a, MS_ANOM_OUT_OF_MEMORY,
                           "out of memory: no message of this flow is extracted");
        }
    } else {
        a->sink.tap = NULL; /* no --extract */
    }
    a->dst = d->create(c->lim, &a->sink);
    if (!a->dst) {
        drop_flow(a, "the parser could not be started");
        return;
    }
    a->state = ST_DISSECTING;
    c->st.flows_mail++;
    for (size_t i = 0; i < MS_MAX_DISSECTORS && ms_dissectors[i]; i++) {
        if (ms_dissectors[i] == d)
            c->st.per_dissector[i]++;
    }
    /* Replay what arrived while we were deciding, in its original order,
     * with the packets it came in. */
    replay_log(a);
    note_tls(a);
    note_posture(a);
    /* A direction that overflowed the log was cut there (log_record): its
     * cut record told the dissector of the rest as a gap at that point, so
     * it never joins the bytes before the hole to those after it. */
    bool lost = a->dir[0].log_over || a->dir[1].log_over;
    ms_buf_free(&a->log);
    if (lost)
        stream_anomaly(a, MS_ANOM_CLASSIFY_BUFFER_FULL, NULL);
    if (a->cap_hit && !a->cap_reported) {
        a->cap_reported = true;
        stream_anomaly(a, MS_ANOM_REASSEMBLY_MEMCAP, NULL);
    }
}

static const struct ms_dissector *dissector_for_app(enum ms_app v)
{
    switch (v) {
    case MS_APP_POP3:
        return ms_dissector_by_name(ms_proto_name(MS_PROTO_POP3));
    case MS_APP_IMAP:
        return ms_dissector_by_name(ms_proto_name(MS_PROTO_IMAP));
    case MS_APP_SMTP:
        return ms_dissector_by_name(ms_proto_name(MS_PROTO_SMTP));
    default:
        return NULL;
    }
}

/* Dissector probes on the first bytes of each direction: a banner or a
 * first command confirms a protocol whatever the port. */
static const struct ms_dissector *probe_all(struct ms_app_session *a, bool *all_no)
{
    *all_no = true;
    for (size_t i = 0; ms_dissectors[i]; i++) {
        const struct ms_dissector *d = ms_dissectors[i];
        bool maybe = false;
        for (unsigned dir = 0; dir < 2; dir++) {
            const struct ms_buf *pb = &a->dir[dir].probe;
            if (pb->len == 0) {
                maybe = true;
                continue;
            }
            enum ms_probe r = d->probe(dir, pb->p, pb->len);
            if (r == MS_PROBE_YES)
                return d;
            if (r == MS_PROBE_MAYBE)
                maybe = true;
        }
        if (maybe)
            *all_no = false;
    }
    return NULL;
}

/* A flow's first payload packet, with nothing delivered yet and its
 * direction known from the handshake: true when a probe recognises its
 * bytes as they are (the first dissector to do so is the one probe_all
 * picks once they are delivered, at packet_done). nDPI is then not asked
 * about that packet: the dissector would start from the same bytes, and
 * nDPI's flow state, the costliest part of a short mail session, is
 * never made. */
static bool probe_first(const struct ms_app_session *a, const struct ms_pkt *p)
{
    const struct ms_flow *f = a->flow;
    if (a->cf || a->log.len || a->dir[0].probe.len || a->dir[1].probe.len ||
        (f->dir_source == MS_FLOW_DIR_PORTS && !f->swapped))
        return false;
    unsigned dir = p->sport == f->cli_port &&
                           memcmp(p->src, f->cli_addr, p->ip_version == 6 ? 16 : 4) == 0
                       ? 0
                       : 1;
    size_t n = p->payload_len < MS_PROBE_WINDOW ? p->payload_len : MS_PROBE_WINDOW;
    for (size_t i = 0; ms_dissectors[i]; i++) {
        if (ms_dissectors[i]->probe(dir, p->payload, n) == MS_PROBE_YES)
            return true;
    }
    return false;
}

/* Flips the direction bit of every record of the log. */
static void log_swap(struct ms_app_session *a)
{
    uint8_t *p = a->log.p;
    size_t left = a->log.len;
    while (left >= LOG_HDR) {
        uint32_t len;
        memcpy(&len, p + 1, 4);
        bool gap = p[0] & LOG_GAP;
        p[0] ^= 1u;
        p += LOG_HDR;
        left -= LOG_HDR;
        if (gap)
            continue;
        if (len > left)
            break;
        p += len;
        left -= len;
    }
}

static bool probe_says(const struct ms_app_session *a, unsigned as_dir, unsigned dir)
{
    const struct ms_buf *pb = &a->dir[dir].probe;
    for (size_t i = 0; ms_dissectors[i]; i++) {
        if (pb->len > 0 && ms_dissectors[i]->probe(as_dir, pb->p, pb->len) == MS_PROBE_YES)
            return true;
    }
    return false;
}

/* Mid-connection start: the ports chose the client. If a probe recognises
 * the bytes of one side only when read as the other side's (a "+OK"
 * banner from the "client"), swap client and server. A probe that accepts
 * the current orientation settles it the other way. */
static void check_direction(struct ms_app_session *a)
{
    struct ms_flow *f = a->flow;
    if (f->dir_source != MS_FLOW_DIR_PORTS || f->swapped)
        return;
    if (probe_says(a, 0, 0) || probe_says(a, 1, 1))
        return;
    if (!probe_says(a, 1, 0) && !probe_says(a, 0, 1))
        return;
    struct ms_app_ctx *c = a->c;
    if (c->memo_live)
        c->memo_live(c->memo_order_user, f, -1); /* its server changes */
    ms_flow_swap(c->flows, f);
    if (c->memo_live)
        c->memo_live(c->memo_order_user, f, 1);
    uint64_t b = a->bytes[0];
    a->bytes[0] = a->bytes[1];
    a->bytes[1] = b;
    struct app_dir t = a->dir[0];
    a->dir[0] = a->dir[1];
    a->dir[1] = t;
    log_swap(a);
}

static void decide(struct ms_app_session *a, enum ms_app verdict, bool final)
{
    if (a->state != ST_CLASSIFYING)
        return;
    check_direction(a);
    bool all_no;
    const struct ms_dissector *d = probe_all(a, &all_no);
    if (ms_app_encrypted(verdict)) {
        /* nDPI judges packets in capture order: a tap's reordering (the
         * client's first command before the server's banner) makes it say
         * IMAPS of a plaintext session. Clear text that a probe recognises
         * wins; a STARTTLS is then the dissector's to follow. Until the
         * probes have said no to both sides, the verdict waits. */
        if (d) {
            start_dissector(a, d);
            return;
        }
        if (all_no || final || a->log_full)
            ignore_flow(a, verdict, true);
        return;
    }
    if (!d)
        d = dissector_for_app(verdict);
    if (d) {
        start_dissector(a, d);
        return;
    }
    if (final || a->log_full || (all_no && verdict == MS_APP_OTHER) ||
        (verdict != MS_APP_UNKNOWN && all_no))
        ignore_flow(a, verdict, false);
}

/* ---- stream callbacks (from reassembly) ------------------------------- */

/* Logs n bytes (p) or a gap of n bytes (p NULL) of direction hdr & 1.
 * The first record of a direction that does not fit ends that direction's
 * log: it and everything after it in that direction only count as dropped,
 * replayed as one gap at the end (start_dissector). The other direction
 * goes on while there is room. */
static void log_record(struct ms_app_session *a, unsigned hdr, const uint8_t *p, uint64_t n,
                       const struct ms_seg_meta *m)
{
    unsigned dir = hdr & 1u;
    struct app_dir *ad = &a->dir[dir];
    uint32_t len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    uint8_t h[LOG_HDR];
    h[0] = (uint8_t)hdr;
    memcpy(h + 1, &len, 4);
    memcpy(h + 5, &m->ts_us, 8);
    memcpy(h + 13, &m->pkt_no, 8);
    memcpy(h + 21, &m->tag, sizeof(m->tag));
    if (ad->log_over) {
        /* Already cut: the direction's gap record grows. */
        ad->log_dropped += n;
        uint32_t total = ad->log_dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)ad->log_dropped;
        memcpy(a->log.p + ad->gap_rec + 1, &total, 4);
        return;
    }
    /* Room is kept for one gap record per direction not yet cut. */
    size_t reserve = (size_t)LOG_HDR * (!a->dir[0].log_over + !a->dir[1].log_over);
    size_t need = LOG_HDR + (p ? (size_t)len : 0);
    if (a->log.len + need + reserve <= a->log.max) {
        /* It fits: only memory fails, and a log with a hole nothing
         * records would join the bytes around it. */
        if (ms_buf_append(&a->log, h, LOG_HDR) != MS_OK ||
            (p && ms_buf_append(&a->log, p, len) != MS_OK)) {
            drop_flow(a, "the classification log could not grow");
            return;
        }
        return;
    }
    /* The direction is cut here: a gap record at this point of the log,
     * so that the replay tells the dissector of the hole before whatever
     * the other direction logged after it. */
    a->log_full = true;
    ad->log_over = true;
    ad->log_dropped = n;
    h[0] = (uint8_t)(dir | LOG_GAP | LOG_CUT);
    ad->gap_rec = (uint32_t)a->log.len;
    /* Room was reserved for it: only memory fails. */
    if (ms_buf_append(&a->log, h, LOG_HDR) != MS_OK)
        drop_flow(a, "the classification log could not grow");
}

static void on_stream_data(void *user, unsigned dir, const uint8_t *p, size_t n,
                           const struct ms_seg_meta *m)
{
    struct ms_app_session *a = user;
    switch (a->state) {
    case ST_DISSECTING:
        advance(a, m);
        dissect_data(a, dir, p, n);
        note_tls(a);
        note_posture(a);
        break;
    case ST_CLASSIFYING:
        if (ms_buf_append_some(&a->dir[dir].probe, p, n) == MS_ERR_NOMEM) {
            drop_flow(a, "the probe window could not grow");
            break;
        }
        log_record(a, dir, p, n, m);
        break;
    case ST_IGNORED:
        break;
    }
}

static void on_stream_gap(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m)
{
    struct ms_app_session *a = user;
    a->c->st.gaps++;
    a->c->st.gap_bytes += missing;
    if (a->state == ST_DISSECTING) {
        dissect_gap(a, dir, missing, m);
    } else if (a->state == ST_CLASSIFYING) {
        log_record(a, dir | LOG_GAP, NULL, missing, m);
    }
}

/* Overlapping bytes differ from the first copy (kept): an evasion attempt
 * or a broken stack. Reported once per direction; every case is counted. */
static void on_stream_overlap(void *user, unsigned dir, uint32_t seq, const struct ms_seg_meta *m)
{
    struct ms_app_session *a = user;
    (void)seq;
    if (a->dir[dir].overlap_reported || a->state == ST_IGNORED)
        return;
    a->dir[dir].overlap_reported = true;
    struct ms_seg_meta saved = a->now;
    a->now = *m;
    stream_anomaly(a, MS_ANOM_REASSEMBLY_OVERLAP_DIFFERENT_DATA,
                   dir == MS_TO_SERVER
                       ? "client retransmitted different bytes; the first copy is kept"
                       : "server retransmitted different bytes; the first copy is kept");
    a->now = saved;
}

const struct ms_stream_ops ms_app_stream_ops = { on_stream_data, on_stream_gap, on_stream_overlap };

/* ---- memory accounting ----------------------------------------------- */

static size_t flow_cost(const struct ms_app_session *a)
{
    const struct ms_app_ctx *c = a->c;
    size_t m = FLOW_BASE_COST + (a->flow->mac ? sizeof(*a->flow->mac) : 0) + a->log.cap +
               a->dir[0].probe.cap + a->dir[1].probe.cap;
    if (a->cf)
        m += CLASSIFY_COST;
    if (a->dst)
        m += DISSECTOR_COST(c->lim);
    if (a->sum)
        m += sizeof(*a->sum);
    for (unsigned dir = 0; dir < 2; dir++) {
        if (a->flow->tcp.dir[dir].win)
            m += c->budget->window;
    }
    return m;
}

static void account(struct ms_app_session *a)
{
    struct ms_app_ctx *c = a->c;
    size_t cost = flow_cost(a);
    c->flow_mem = c->flow_mem - a->charged + cost;
    a->charged = cost;
}

/* ---- the session event ------------------------------------------------ */

/* STARTTLS stripping (app/tls_memo.h): a session that offered STARTTLS
 * is remembered for its server; one whose listing was seen whole without
 * the offer is checked against that memory. */
static void check_stripping(struct ms_app_session *a, enum ms_proto proto,
                            const struct ms_session_posture *p)
{
    struct ms_flow *f = a->flow;
    if (!a->c->tls_memo || proto == MS_PROTO_COUNT)
        return;
    struct ms_tls_server srv = memo_server(a, proto);
    if (p->starttls_offered == MS_TRI_TRUE) {
        if (a->sum->offer_noted)
            return; /* noted when seen (note_posture) */
        memo_order(a, &srv);
        if (ms_tls_memo_offered(a->c->tls_memo, &srv, f->flow_id, a->now.ts_us) != MS_OK)
            stream_anomaly(a, MS_ANOM_OUT_OF_MEMORY,
                           "out of memory: this server's STARTTLS offer is not remembered");
        return;
    }
    if (a->sum->judged || !p->listing_complete)
        return; /* checked when its listing completed (note_posture) */
    memo_order(a, &srv);
    struct ms_event ev = { .kind = MS_EV_STARTTLS_STRIPPED, .app_proto = ms_proto_name(proto) };
    if (ms_tls_memo_stripped(a->c->tls_memo, &srv, &ev.u.stripped.offered_flow_id,
                             &ev.u.stripped.offered_ts_us))
        flow_emit(a, &ev);
}

static void session_end_events(struct ms_app_session *a)
{
    struct app_summary *s = a->sum;
    enum ms_proto proto = MS_PROTO_COUNT;
    struct ms_event ev = { .kind = MS_EV_SESSION };
    struct ms_ev_session *e = &ev.u.session;
    if (s->implicit) {
        proto = s->implicit_proto;
        e->tls = MS_SESSION_TLS_IMPLICIT;
    } else if (a->d) {
        (void)ms_proto_by_name(a->d->name, &proto);
        if (s->have_posture) {
            check_stripping(a, proto, &s->posture);
            e->posture = &s->posture;
            if (s->posture.tls)
                e->tls = MS_SESSION_TLS_STARTTLS;
        }
    } else {
        return;
    }
    ev.app_proto = a->d ? a->d->name : ms_proto_name(proto);
    memcpy(e->logins, s->logins, sizeof(e->logins));
    e->login_list = s->login_list;
    e->n_login_list = s->n_logins;
    e->messages = s->messages;
    e->bytes_toserver = a->bytes[MS_TO_SERVER];
    e->bytes_toclient = a->bytes[MS_TO_CLIENT];
    e->anomalies = s->anomalies;
    e->anomaly_codes = s->codes;
    e->n_anomaly_codes = s->n_codes;
    struct app_summary *keep = a->sum;
    a->sum = NULL; /* the session event is not counted in itself */
    flow_emit(a, &ev);
    a->sum = keep;
}

/* ---- lifecycle ------------------------------------------------------- */

enum ms_rc ms_app_session_new(struct ms_app_ctx *c, struct ms_flow *f, struct ms_app_session **out)
{
    struct ms_app_session *a = ms_calloc(1, sizeof(*a));
    *out = a;
    if (!a)
        return MS_ERR_NOMEM;
    a->c = c;
    a->flow = f;
    ms_buf_init(&a->log, 2 * c->lim->classify_buf + 2 * (size_t)LOG_HDR); /* + the cut records */
    ms_buf_init(&a->dir[0].probe, MS_PROBE_WINDOW);
    ms_buf_init(&a->dir[1].probe, MS_PROBE_WINDOW);
    f->app = a;
    f->tcp.user = a;
    c->st.flows++;
    if (c->memo_live)
        c->memo_live(c->memo_order_user, f, 1);
    return MS_OK;
}

const struct ms_seg_meta *ms_app_session_last(const struct ms_app_session *a)
{
    return &a->last;
}

/* The verdict when no more packets will be asked about: nDPI's, or
 * ms_classify_quick's for a flow nDPI never saw. */
static enum ms_app last_verdict(const struct ms_app_session *a)
{
    if (!a->cf && a->said != MS_APP_UNKNOWN)
        return a->said;
    return ms_classify_giveup(a->c->cls, a->cf);
}

/* See app_session.h. Built at the first packet nDPI must see (the
 * greeting probes settle most mail flows first): a run that never needs
 * it never pays for it (20 ms; a third of a --threads reader's
 * instructions on the mixed 100 MB benchmark when the reader built the
 * workers'), and with --threads each worker builds its own in its own
 * thread. Out of memory, the caller drops the flow as when its nDPI state
 * cannot be allocated; the next flows are dropped so too, without another
 * try, for MS_CLASSIFIER_RETRY_US: a build costs 20 ms, and trying again
 * at every new flow made a run short of memory crawl. Time going back
 * tries again at once. */
struct ms_classifier *ms_app_classifier(struct ms_app_ctx *c, uint64_t now_us)
{
    if (c->cls)
        return c->cls;
    if (c->cls_failed && now_us >= c->cls_failed_us &&
        now_us - c->cls_failed_us < MS_CLASSIFIER_RETRY_US)
        return NULL;
    c->cls = ms_classifier_new();
    c->cls_failed = !c->cls;
    c->cls_failed_us = now_us;
    return c->cls;
}

void ms_app_session_classify(struct ms_app_session *a, const struct ms_pkt *p,
                             const struct ms_seg_meta *m)
{
    a->last = *m;
    a->c->held.a = NULL; /* a packet is held until its own packet_done only */
    if (a->now.pkt_no == 0)
        a->now = *m; /* before any byte: the flow's first packet */
    /* nDPI state is allocated at the first payload packet: a handshake
     * alone (a SYN flood) never pays for it. A verdict already given
     * (said) goes on to decide at every packet, payload or not. */
    if (a->state != ST_CLASSIFYING || (!a->cf && a->said == MS_APP_UNKNOWN && p->payload_len == 0))
        return;
    if (a->said != MS_APP_UNKNOWN) {
        /* nDPI named a protocol that is not mail, and keeps one of that
         * kind (it refines HTTP to a site's name); what is left to wait
         * for is the probes, on both sides' bytes. A TLS verdict is asked
         * again: a certificate's name turns nDPI's IMAPS or SMTPS of a
         * port into plain TLS, which names another session event
         * (implicit_proto). */
        if (p->payload_len > 0)
            a->payload_pkts++;
        decide(a, a->said, false);
        return;
    }
    if (probe_first(a, p)) {
        a->c->held = (struct ms_app_held){ a, p->l3, p->l3_len };
        a->payload_pkts++;
        return;
    }
    if (!a->cf) {
        /* nDPI's verdict on this first packet, known from its bytes: its
         * flow state is never made (classify.h). */
        enum ms_app quick = ms_classify_quick(p);
        if (quick != MS_APP_UNKNOWN) {
            a->said = quick;
            a->payload_pkts++;
            decide(a, quick, false);
            return;
        }
    }
    struct ms_classifier *cls = ms_app_classifier(a->c, p->ts_us);
    enum ms_app v = cls ? ms_classify_packet(cls, &a->cf, p->l3, p->l3_len, p->ts_us)
                        : MS_APP_UNKNOWN;
    if (!a->cf) {
        /* nDPI's flow state could not be allocated. */
        drop_flow(a, "classification state could not be allocated");
        return;
    }
    if (p->payload_len > 0)
        a->payload_pkts++;
    if (v == MS_APP_OTHER)
        a->said = v;
    if (v != MS_APP_UNKNOWN)
        decide(a, v, false);
}

bool ms_app_session_ignored(const struct ms_app_session *a)
{
    return a->state == ST_IGNORED;
}

void ms_app_session_packet_done(struct ms_app_session *a)
{
    struct ms_app_held held = a->c->held;
    a->c->held = (struct ms_app_held){ 0 };
    bool all_no;
    if (held.a == a && a->state == ST_CLASSIFYING && !probe_all(a, &all_no)) {
        /* The bytes the probe saw were not delivered (held for order):
         * nDPI has the packet after all, with nothing delivered since,
         * as it would have had it before. */
        struct ms_classifier *cls = ms_app_classifier(a->c, a->last.ts_us);
        enum ms_app v = cls ? ms_classify_packet(cls, &a->cf, held.l3, held.l3_len, a->last.ts_us)
                            : MS_APP_UNKNOWN;
        if (!a->cf) {
            drop_flow(a, "classification state could not be allocated");
        } else if (v != MS_APP_UNKNOWN) {
            if (v == MS_APP_OTHER)
                a->said = v;
            decide(a, v, false);
        }
    }
    if (a->state == ST_CLASSIFYING) {
        /* nDPI gives up after so many packets; the probes not while bytes
         * wait in reassembly (held for conversation order: a tap recorded
         * the server's replies before the client's SYN), since they have
         * not seen them yet. The wait window bounds that. */
        bool final = a->payload_pkts >= a->c->lim->classify_pkts && !a->flow->tcp.waiting;
        decide(a, final ? last_verdict(a) : MS_APP_UNKNOWN, final);
    }
    account(a);
}

void ms_app_session_nomem(struct ms_app_session *a, const char *what)
{
    struct ms_seg_meta saved = a->now;
    a->now = a->last;
    drop_flow(a, what);
    a->now = saved;
}

void ms_app_session_count(struct ms_app_session *a, unsigned dir, size_t n)
{
    a->bytes[dir & 1u] += n;
}

void ms_app_session_cap_hit(struct ms_app_session *a)
{
    a->cap_hit = true;
    if (a->state == ST_DISSECTING && !a->cap_reported) {
        a->cap_reported = true;
        struct ms_seg_meta saved = a->now;
        a->now = a->last;
        stream_anomaly(a, MS_ANOM_REASSEMBLY_MEMCAP, NULL);
        a->now = saved;
    }
}

void ms_app_session_end(struct ms_app_session *a, struct ms_tcp_ctx *tcp)
{
    struct ms_app_ctx *c = a->c;
    struct ms_flow *f = a->flow;
    if (f->end_reason == MS_FLOW_END_EVICTED && a->state == ST_DISSECTING) {
        struct ms_seg_meta saved = a->now;
        a->now = a->last;
        stream_anomaly(a, MS_ANOM_FLOW_EVICTED,
                       "flow table or flow memory cap reached: this mail session was ended early");
        a->now = saved;
    }
    /* What waited is delivered with the packets it came in, so events it
     * completes carry them, whatever the wait window. */
    ms_tcp_session_flush(tcp, &f->tcp, &a->last);
    /* A flow that never carried a byte (a half-open connection, a scan)
     * is not "other": it was nothing. */
    if (a->state == ST_CLASSIFYING && (a->payload_pkts > 0 || a->log.len > 0))
        decide(a, last_verdict(a), true);
    /* What only the end completes (a login whose reply never came)
     * carries the flow's last packet, not whatever packet triggered the
     * sweep (a timeout, the end of input). */
    a->now = a->last;
    if (a->state == ST_DISSECTING) {
        a->d->finish(a->dst);
        take_posture(a);
        a->d->destroy(a->dst);
    }
    if (a->sum)
        session_end_events(a);
    ms_free(a->sum);
    ms_tcp_session_free(tcp, &f->tcp);
    ms_free(a->tap);
    stop_classifying(a);
    ms_buf_free(&a->log);
    c->flow_mem -= a->charged;
    ms_free(a);
    f->app = NULL;
    f->tcp.user = NULL;
    if (c->memo_live)
        c->memo_live(c->memo_order_user, f, -1); /* after its last use of the memo */
}
