/* Glue between the layers. The per-flow state machine:
 *
 *   CLASSIFYING: packets go to nDPI; reassembled bytes are logged (in
 *     arrival order, both directions interleaved, capped) and shown to each
 *     dissector's probe. A verdict from either picks the dissector.
 *   DISSECTING:  the log is replayed into the dissector, then bytes flow
 *     straight through.
 *   IGNORED:     not mail, or encrypted: nothing more is kept.
 */
#include "pipeline.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../capture/classify.h"
#include "../capture/decode.h"
#include "../capture/flow.h"
#include "../capture/tcp_reasm.h"
#include "../common/buf.h"
#include "../dissectors/dissector.h"

enum flow_state { ST_CLASSIFYING = 0, ST_DISSECTING, ST_IGNORED };

/* Probes see at most this much of each direction's first bytes. */
#define PROBE_BYTES 512

struct flow_app {
    struct ms_pipeline *pl;
    struct ms_flow *flow;
    enum flow_state state;
    struct ms_classify_flow *cf;
    unsigned payload_pkts;
    struct ms_buf log;              /* [dir | GAP flag][len:4][bytes] records */
    bool log_full;                  /* the log hit its cap: no verdict in time */
    struct ms_buf probe[2];         /* first bytes of each direction */
    const struct ms_dissector *d;
    void *dst;
    struct ms_sink sink;
    bool fin[2];
};

#define LOG_GAP 0x80u

struct ms_pipeline {
    struct ms_limits lim;
    struct ms_output *out;
    struct ms_classifier *cls;
    struct ms_flow_table *flows;
    struct ms_reasm_budget budget;
    struct ms_pipeline_stats st;
    const char *source_name;
    uint64_t now_us;                /* timestamp given to events */
};

/* ---- events ---------------------------------------------------------- */

static void addr_str(const struct ms_flow *f, const uint8_t *a, char *out, size_t n)
{
    if (!inet_ntop(f->ip_version == 4 ? AF_INET : AF_INET6, a, out, (socklen_t)n))
        snprintf(out, n, "?");
}

static void flow_emit(void *user, const struct ms_event *ev)
{
    struct flow_app *fa = user;
    struct ms_pipeline *pl = fa->pl;
    struct ms_flow *f = fa->flow;
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    addr_str(f, f->cli_addr, src, sizeof(src));
    addr_str(f, f->srv_addr, dst, sizeof(dst));
    struct ms_flow_meta m = {
        .ts_us = pl->now_us,
        .flow_id = f->flow_id,
        .src_ip = src,
        .src_port = f->cli_port,
        .dest_ip = dst,
        .dest_port = f->srv_port,
        .pcap_filename = pl->source_name,
    };
    if (ms_output_event(pl->out, &m, ev) != MS_OK)
        pl->st.write_errors++;
}

/* ---- dissector selection --------------------------------------------- */

static void stop_classifying(struct flow_app *fa)
{
    ms_classify_flow_free(fa->cf);
    fa->cf = NULL;
    ms_buf_free(&fa->probe[0]);
    ms_buf_free(&fa->probe[1]);
}

static void ignore_flow(struct flow_app *fa, bool encrypted)
{
    stop_classifying(fa);
    ms_buf_free(&fa->log);
    fa->state = ST_IGNORED;
    if (encrypted)
        fa->pl->st.flows_encrypted++;
    else
        fa->pl->st.flows_ignored++;
    /* Reassembly keeps running (so FIN/RST still end the flow) but what
     * it buffers is freed now. */
    ms_tcp_half_free(&fa->flow->half[0], &fa->pl->budget);
    ms_tcp_half_free(&fa->flow->half[1], &fa->pl->budget);
}

static void start_dissector(struct flow_app *fa, const struct ms_dissector *d)
{
    stop_classifying(fa);
    fa->sink.emit = flow_emit;
    fa->sink.user = fa;
    fa->dst = d->create(&fa->pl->lim, &fa->sink);
    if (!fa->dst) {
        ms_buf_free(&fa->log);
        fa->state = ST_IGNORED;
        fa->pl->st.flows_ignored++;
        return;
    }
    fa->d = d;
    fa->state = ST_DISSECTING;
    fa->pl->st.flows_mail++;
    /* Replay what arrived while we were deciding, in its original order. */
    const uint8_t *p = fa->log.p;
    size_t left = fa->log.len;
    while (left >= 5) {
        unsigned hdr = p[0];
        uint32_t len;
        memcpy(&len, p + 1, 4);
        p += 5;
        left -= 5;
        if (hdr & LOG_GAP) {
            d->gap(fa->dst, hdr & 1u, len);
            continue;
        }
        if (len > left)
            break;
        d->feed(fa->dst, hdr & 1u, p, len);
        p += len;
        left -= len;
    }
    ms_buf_free(&fa->log);
}

static const struct ms_dissector *dissector_for_app(enum ms_app a)
{
    switch (a) {
    case MS_APP_POP3: return ms_dissector_by_name("pop3");
    case MS_APP_IMAP: return ms_dissector_by_name("imap");
    case MS_APP_SMTP: return ms_dissector_by_name("smtp");
    default: return NULL;
    }
}

/* Dissector probes on the first bytes of each direction: a banner or a
 * first command confirms a protocol whatever the port. */
static const struct ms_dissector *probe_all(struct flow_app *fa, bool *all_no)
{
    *all_no = true;
    for (size_t i = 0; ms_dissectors[i]; i++) {
        const struct ms_dissector *d = ms_dissectors[i];
        bool maybe = false;
        for (unsigned dir = 0; dir < 2; dir++) {
            if (fa->probe[dir].len == 0) {
                maybe = true;
                continue;
            }
            enum ms_probe r = d->probe(dir, fa->probe[dir].p, fa->probe[dir].len);
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

static void decide(struct flow_app *fa, enum ms_app verdict, bool final)
{
    if (fa->state != ST_CLASSIFYING)
        return;
    if (verdict == MS_APP_ENCRYPTED) {
        ignore_flow(fa, true);
        return;
    }
    bool all_no;
    const struct ms_dissector *d = probe_all(fa, &all_no);
    if (!d)
        d = dissector_for_app(verdict);
    if (d) {
        start_dissector(fa, d);
        return;
    }
    if (final || fa->log_full || (all_no && verdict == MS_APP_OTHER) ||
        (verdict != MS_APP_UNKNOWN && all_no))
        ignore_flow(fa, false);
}

/* ---- stream callbacks (from reassembly) ------------------------------- */

static void log_record(struct flow_app *fa, unsigned hdr, const uint8_t *p, uint32_t len)
{
    uint8_t h[5];
    h[0] = (uint8_t)hdr;
    memcpy(h + 1, &len, 4);
    size_t need = 5 + (p ? (size_t)len : 0);
    if (fa->log_full || fa->log.len + need > fa->log.max) {
        fa->log_full = true;
        return;
    }
    if (ms_buf_append(&fa->log, h, 5) != MS_OK || (p && ms_buf_append(&fa->log, p, len) != MS_OK))
        fa->log_full = true;
}

static void on_stream_data(void *user, unsigned dir, const uint8_t *p, size_t n)
{
    struct flow_app *fa = user;
    switch (fa->state) {
    case ST_DISSECTING:
        fa->d->feed(fa->dst, dir, p, n);
        break;
    case ST_CLASSIFYING:
        ms_buf_append_some(&fa->probe[dir], p, n);
        log_record(fa, dir, p, (uint32_t)n);
        break;
    case ST_IGNORED:
        break;
    }
}

static void on_stream_gap(void *user, unsigned dir, uint64_t missing)
{
    struct flow_app *fa = user;
    fa->pl->st.gaps++;
    fa->pl->st.gap_bytes += missing;
    if (fa->state == ST_DISSECTING)
        fa->d->gap(fa->dst, dir, missing);
    else if (fa->state == ST_CLASSIFYING)
        log_record(fa, dir | LOG_GAP, NULL, missing > UINT32_MAX ? UINT32_MAX : (uint32_t)missing);
}

static struct ms_stream_out stream_out(struct flow_app *fa, unsigned dir)
{
    struct ms_stream_out o = { on_stream_data, on_stream_gap, fa, dir };
    return o;
}

/* ---- flow lifecycle -------------------------------------------------- */

static void on_flow_end(void *user, struct ms_flow *f)
{
    struct ms_pipeline *pl = user;
    struct flow_app *fa = f->app;
    if (!fa)
        return;
    /* Events of a flow ended by timeout or end of input carry the time of
     * its last packet, not of whatever packet triggered the sweep. */
    uint64_t saved = pl->now_us;
    pl->now_us = f->last_ts_us;
    for (unsigned dir = 0; dir < 2; dir++) {
        struct ms_stream_out o = stream_out(fa, dir);
        ms_tcp_half_flush(&f->half[dir], &pl->budget, &o);
    }
    if (fa->state == ST_CLASSIFYING)
        decide(fa, ms_classify_giveup(pl->cls, fa->cf), true);
    if (fa->state == ST_DISSECTING) {
        fa->d->finish(fa->dst);
        fa->d->destroy(fa->dst);
    }
    pl->now_us = saved;
    ms_tcp_half_free(&f->half[0], &pl->budget);
    ms_tcp_half_free(&f->half[1], &pl->budget);
    stop_classifying(fa);
    ms_buf_free(&fa->log);
    free(fa);
    f->app = NULL;
}

static struct flow_app *flow_app_new(struct ms_pipeline *pl, struct ms_flow *f)
{
    struct flow_app *fa = calloc(1, sizeof(*fa));
    if (!fa)
        return NULL;
    fa->pl = pl;
    fa->flow = f;
    ms_buf_init(&fa->log, 2 * pl->lim.classify_buf);
    ms_buf_init(&fa->probe[0], PROBE_BYTES);
    ms_buf_init(&fa->probe[1], PROBE_BYTES);
    f->app = fa;
    pl->st.flows++;
    return fa;
}

/* ---- packets --------------------------------------------------------- */

static void reassemble(struct ms_pipeline *pl, struct ms_flow *f, struct flow_app *fa,
                       enum ms_dir dir, const struct ms_pkt *p)
{
    struct ms_tcp_half *h = &f->half[dir];
    if (p->tcp_flags & MS_TH_SYN)
        ms_tcp_half_syn(h, p->seq);
    struct ms_stream_out o = stream_out(fa, dir);
    uint32_t seq = (p->tcp_flags & MS_TH_SYN) ? p->seq + 1 : p->seq;
    /* RFC 9293 lets a RST carry data, but receivers do not deliver it, so
     * neither do we (Suricata bug 6244). */
    if (!(p->tcp_flags & MS_TH_RST))
        ms_tcp_half_segment(h, &pl->budget, seq, p->payload, p->payload_len,
                            (p->tcp_flags & MS_TH_FIN) != 0, &o);
    if (p->tcp_flags & MS_TH_ACK) {
        struct ms_stream_out po = stream_out(fa, dir ^ 1);
        ms_tcp_half_acked(&f->half[dir ^ 1], &pl->budget, p->ack, &po);
    }
}

static void tcp_packet(struct ms_pipeline *pl, const struct ms_pkt *p)
{
    /* A stray ACK or FIN of a connection we never saw opens nothing. */
    bool opens = (p->tcp_flags & MS_TH_SYN) || p->payload_len > 0;
    enum ms_dir dir;
    bool created;
    struct ms_flow *f = ms_flow_lookup(pl->flows, p, &dir, &created);
    if (!f)
        return;
    struct flow_app *fa = f->app;
    if (!fa) {
        if (!opens) {
            ms_flow_end(pl->flows, f);
            return;
        }
        fa = flow_app_new(pl, f);
        if (!fa) {
            ms_flow_end(pl->flows, f);
            return;
        }
    }
    if (fa->state == ST_CLASSIFYING) {
        enum ms_app v = ms_classify_packet(pl->cls, &fa->cf, p->l3, p->l3_len, p->ts_us);
        if (p->payload_len > 0)
            fa->payload_pkts++;
        if (v != MS_APP_UNKNOWN)
            decide(fa, v, false);
    }

    bool fin = (p->tcp_flags & MS_TH_FIN) != 0;
    /* An ignored flow costs nothing but its table entry: no reassembly. */
    if (fa->state != ST_IGNORED)
        reassemble(pl, f, fa, dir, p);

    if (fa->state == ST_CLASSIFYING) {
        bool final = fa->payload_pkts >= pl->lim.classify_pkts;
        decide(fa, final ? ms_classify_giveup(pl->cls, fa->cf) : MS_APP_UNKNOWN, final);
    }

    if (fin)
        fa->fin[dir] = true;
    if ((p->tcp_flags & MS_TH_RST) || (fa->fin[0] && fa->fin[1]))
        ms_flow_end(pl->flows, f);
}

void ms_pipeline_frame(struct ms_pipeline *pl, int linktype, uint64_t ts_us,
                       const uint8_t *frame, size_t caplen)
{
    pl->st.packets++;
    pl->st.bytes += caplen;
    pl->now_us = ts_us;
    ms_flow_table_expire(pl->flows, ts_us);
    pl->now_us = ts_us;
    struct ms_pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts_us;
    switch (ms_decode_frame(linktype, frame, caplen, &p)) {
    case MS_DECODE_TCP:
        tcp_packet(pl, &p);
        break;
    case MS_DECODE_NOT_TCP: pl->st.not_tcp++; break;
    case MS_DECODE_FRAGMENT: pl->st.fragments++; break;
    case MS_DECODE_TRUNCATED: pl->st.truncated++; break;
    case MS_DECODE_MALFORMED: pl->st.malformed++; break;
    case MS_DECODE_UNSUPPORTED: pl->st.unsupported++; break;
    }
}

/* ---- lifecycle ------------------------------------------------------- */

struct ms_pipeline *ms_pipeline_new(const struct ms_limits *lim, struct ms_output *out)
{
    struct ms_pipeline *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return NULL;
    pl->lim = *lim;
    pl->out = out;
    pl->budget.max_total = lim->reasm_max_total;
    pl->budget.max_half = lim->reasm_max_flow;
    pl->cls = ms_classifier_new();
    pl->flows = ms_flow_table_new(lim->max_flows, lim->flow_timeout_us, on_flow_end, pl);
    if (!pl->cls || !pl->flows) {
        ms_pipeline_free(pl);
        return NULL;
    }
    return pl;
}

void ms_pipeline_set_source_name(struct ms_pipeline *pl, const char *name)
{
    pl->source_name = name;
}

void ms_pipeline_finish(struct ms_pipeline *pl)
{
    ms_flow_table_end_all(pl->flows);
}

void ms_pipeline_get_stats(const struct ms_pipeline *pl, struct ms_pipeline_stats *st)
{
    *st = pl->st;
    st->reasm_forced = pl->budget.forced;
}

void ms_pipeline_free(struct ms_pipeline *pl)
{
    if (!pl)
        return;
    ms_flow_table_free(pl->flows);
    ms_classifier_free(pl->cls);
    free(pl);
}
