/* Glue between the layers. The per-flow state machine:
 *
 *   CLASSIFYING: packets go to nDPI; reassembled bytes are logged (in
 *     arrival order, both directions interleaved, capped) and shown to each
 *     dissector's probe. A verdict from either picks the dissector.
 *   DISSECTING:  the log is replayed into the dissector, then bytes flow
 *     straight through.
 *   IGNORED:     not mail, or encrypted: nothing more is kept.
 *
 * Per-flow cost is kept small for floods of half-open connections: nDPI
 * state is allocated at the first payload packet only, and classification
 * state is freed as soon as a verdict is reached. The memory a flow holds is
 * charged against lim.flow_memcap; past it flows are ended (and counted),
 * as past lim.max_flows: among the least recently used, those that carried
 * no payload first (capture/flow.h, Eviction), so a SYN flood does not push
 * live sessions out.
 * The classification log is capped (2 * lim.classify_buf): a direction that
 * overflows it is cut, and the dissector is told of the rest as a gap.
 *
 * Direction: when the capture starts mid-connection the flow table guesses
 * the client from the ports. Before a dissector starts, the dissectors'
 * probes may prove the guess wrong (a server banner from the side taken for
 * the client, a client command from the other side): the flow is then
 * swapped once, buffered bytes included.
 */
#include "pipeline.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../capture/classify.h"
#include "../capture/decode.h"
#include "../capture/defrag.h"
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
    bool log_over[2];               /* that direction is no longer logged ... */
    uint64_t log_dropped[2];        /* ... and these bytes of it are missing */
    struct ms_buf probe[2];         /* first bytes of each direction */
    const struct ms_dissector *d;
    void *dst;
    struct ms_sink sink;
    struct ms_msg_tap tap;          /* pl->tap with this flow's id (--extract) */
    bool fin[2];
    bool overlap_reported[2];       /* one anomaly per direction */
    bool cap_hit;                   /* a reassembly cap forced a gap */
    bool cap_reported;
    size_t charged;                 /* bytes counted in pl->flow_mem */
};

/* Memory charged per flow (see flow_cost): the table entry and this
 * struct with allocator overhead; nDPI 4.2's flow struct (688 bytes) with
 * its wrapper; a dissector's state, estimated from its line buffers. */
#define FLOW_BASE_COST (sizeof(struct ms_flow) + sizeof(struct flow_app) + 32)
#define CLASSIFY_COST 768
#define DISSECTOR_COST(lim) (2 * (lim)->max_line + 2048)

/* Dissectors counted per protocol in the stats event. */
#define MAX_APPS 16

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
    size_t flow_mem, flow_mem_peak; /* per-flow state, against lim.flow_memcap */
    uint64_t app_flows[MAX_APPS];   /* flows per dissector, as in ms_dissectors[] */
    struct ms_defrag *defrag;       /* created at the first IP fragment */
    struct ms_msg_tap tap;          /* message tap (--extract); msg_begin NULL: none */
};

/* ---- events ---------------------------------------------------------- */

static void addr_str(uint8_t ip_version, const uint8_t *a, char *out, size_t n)
{
    if (!inet_ntop(ip_version == 4 ? AF_INET : AF_INET6, a, out, (socklen_t)n))
        snprintf(out, n, "?");
}

static void flow_emit(void *user, const struct ms_event *ev)
{
    struct flow_app *fa = user;
    struct ms_pipeline *pl = fa->pl;
    struct ms_flow *f = fa->flow;
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    addr_str(f->ip_version, f->cli_addr, src, sizeof(src));
    addr_str(f->ip_version, f->srv_addr, dst, sizeof(dst));
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

/* A stream-level anomaly on this flow (type "stream"). */
static void stream_anomaly(struct flow_app *fa, const char *code, const char *detail)
{
    struct ms_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = MS_EV_ANOMALY;
    ev.app_proto = fa->d ? fa->d->name : NULL;
    ev.u.anomaly.type = "stream";
    ev.u.anomaly.code = code;
    ev.u.anomaly.detail = ms_bytes_of(detail, strlen(detail));
    flow_emit(fa, &ev);
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
    if (fa->pl->tap.msg_begin) {
        /* Extracted files are named after the flow: each flow gets its
         * own copy of the tap with its id. */
        fa->tap = fa->pl->tap;
        fa->tap.flow_id = fa->flow->flow_id;
        fa->sink.tap = &fa->tap;
    }
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
    for (size_t i = 0; i < MAX_APPS && ms_dissectors[i]; i++) {
        if (ms_dissectors[i] == d)
            fa->pl->app_flows[i]++;
    }
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
    /* A direction that overflowed the log was cut there (log_record): the
     * rest of it is a gap after what was replayed, so the dissector never
     * joins the bytes before the hole to those after it. */
    bool lost = false;
    for (unsigned dir = 0; dir < 2; dir++) {
        if (fa->log_dropped[dir] > 0) {
            d->gap(fa->dst, dir, fa->log_dropped[dir]);
            lost = true;
        }
    }
    ms_buf_free(&fa->log);
    if (lost)
        stream_anomaly(fa, "classify_buffer_full",
                       "more bytes came before the protocol was known than the "
                       "classification buffer holds: the rest was declared a gap");
    if (fa->cap_hit && !fa->cap_reported) {
        fa->cap_reported = true;
        stream_anomaly(fa, "reassembly_memcap",
                       "out-of-order buffer cap reached: a hole was declared a gap");
    }
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

/* Flips the direction bit of every record of the log. */
static void log_swap(struct flow_app *fa)
{
    uint8_t *p = fa->log.p;
    size_t left = fa->log.len;
    while (left >= 5) {
        uint32_t len;
        memcpy(&len, p + 1, 4);
        bool gap = p[0] & LOG_GAP;
        p[0] ^= 1u;
        p += 5;
        left -= 5;
        if (gap)
            continue;
        if (len > left)
            break;
        p += len;
        left -= len;
    }
}

/* Mid-connection start: the ports chose the client. If a probe recognises
 * the bytes of one side only when read as the other side's (a "+OK"
 * banner from the "client"), swap client and server. A probe that accepts
 * the current orientation settles it the other way. */
static void check_direction(struct flow_app *fa)
{
    struct ms_flow *f = fa->flow;
    if (f->dir_source != MS_FLOW_DIR_PORTS || f->swapped)
        return;
    for (size_t i = 0; ms_dissectors[i]; i++) {
        const struct ms_dissector *d = ms_dissectors[i];
        for (unsigned dir = 0; dir < 2; dir++) {
            if (fa->probe[dir].len == 0)
                continue;
            if (d->probe(dir, fa->probe[dir].p, fa->probe[dir].len) == MS_PROBE_YES)
                return;
        }
    }
    for (size_t i = 0; ms_dissectors[i]; i++) {
        const struct ms_dissector *d = ms_dissectors[i];
        for (unsigned dir = 0; dir < 2; dir++) {
            if (fa->probe[dir].len == 0 ||
                d->probe(dir ^ 1u, fa->probe[dir].p, fa->probe[dir].len) != MS_PROBE_YES)
                continue;
            ms_flow_swap(fa->pl->flows, f);
            struct ms_buf b = fa->probe[0];
            fa->probe[0] = fa->probe[1];
            fa->probe[1] = b;
            bool t = fa->fin[0];
            fa->fin[0] = fa->fin[1];
            fa->fin[1] = t;
            t = fa->overlap_reported[0];
            fa->overlap_reported[0] = fa->overlap_reported[1];
            fa->overlap_reported[1] = t;
            t = fa->log_over[0];
            fa->log_over[0] = fa->log_over[1];
            fa->log_over[1] = t;
            uint64_t dropped = fa->log_dropped[0];
            fa->log_dropped[0] = fa->log_dropped[1];
            fa->log_dropped[1] = dropped;
            log_swap(fa);
            return;
        }
    }
}

static void decide(struct flow_app *fa, enum ms_app verdict, bool final)
{
    if (fa->state != ST_CLASSIFYING)
        return;
    check_direction(fa);
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

/* Logs n bytes (p) or a gap of n bytes (p NULL) of direction hdr & 1.
 * The first record of a direction that does not fit ends that direction's
 * log: it and everything after it in that direction only count as dropped,
 * replayed as one gap at the end (start_dissector). The other direction
 * goes on while there is room. */
static void log_record(struct flow_app *fa, unsigned hdr, const uint8_t *p, uint64_t n)
{
    unsigned dir = hdr & 1u;
    uint32_t len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    uint8_t h[5];
    h[0] = (uint8_t)hdr;
    memcpy(h + 1, &len, 4);
    size_t need = 5 + (p ? (size_t)len : 0);
    if (!fa->log_over[dir] && fa->log.len + need <= fa->log.max) {
        if (ms_buf_append(&fa->log, h, 5) == MS_OK) {
            if (!p || ms_buf_append(&fa->log, p, len) == MS_OK)
                return;
            fa->log.len -= 5; /* no header without its bytes */
        }
    }
    fa->log_full = true;
    fa->log_over[dir] = true;
    fa->log_dropped[dir] += n;
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
        log_record(fa, dir, p, n);
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
        log_record(fa, dir | LOG_GAP, NULL, missing);
}

/* Overlapping bytes differ from the first copy (kept): an evasion attempt
 * or a broken stack. Reported once per direction; every case is counted. */
static void on_stream_overlap(void *user, unsigned dir, uint32_t seq)
{
    struct flow_app *fa = user;
    (void)seq;
    if (fa->overlap_reported[dir])
        return;
    fa->overlap_reported[dir] = true;
    stream_anomaly(fa, "reassembly_overlap_different_data",
                   dir == MS_TO_SERVER
                       ? "client retransmitted different bytes; the first copy is kept"
                       : "server retransmitted different bytes; the first copy is kept");
}

static struct ms_stream_out stream_out(struct flow_app *fa, unsigned dir)
{
    struct ms_stream_out o = { on_stream_data, on_stream_gap, on_stream_overlap, fa, dir };
    return o;
}

/* ---- memory accounting ----------------------------------------------- */

static size_t flow_cost(const struct ms_pipeline *pl, const struct flow_app *fa)
{
    const struct ms_flow *f = fa->flow;
    size_t m = FLOW_BASE_COST + fa->log.cap + fa->probe[0].cap + fa->probe[1].cap;
    if (fa->cf)
        m += CLASSIFY_COST;
    if (fa->dst)
        m += DISSECTOR_COST(&pl->lim);
    for (unsigned dir = 0; dir < 2; dir++) {
        if (f->half[dir].win)
            m += pl->budget.window;
    }
    return m;
}

static void account(struct ms_pipeline *pl, struct flow_app *fa)
{
    size_t c = flow_cost(pl, fa);
    pl->flow_mem = pl->flow_mem - fa->charged + c;
    fa->charged = c;
    if (pl->flow_mem > pl->flow_mem_peak)
        pl->flow_mem_peak = pl->flow_mem;
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
    if (f->end_reason == MS_FLOW_END_EVICTED && fa->state == ST_DISSECTING)
        stream_anomaly(fa, "flow_evicted",
                       "flow table or flow memory cap reached: this mail session was ended early");
    for (unsigned dir = 0; dir < 2; dir++) {
        struct ms_stream_out o = stream_out(fa, dir);
        ms_tcp_half_flush(&f->half[dir], &pl->budget, &o);
    }
    /* A flow that never carried a byte (a half-open connection, a scan)
     * is not "other": it was nothing. */
    if (fa->state == ST_CLASSIFYING && (fa->payload_pkts > 0 || fa->log.len > 0))
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
    pl->flow_mem -= fa->charged;
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
    pl->st.tcp_packets++;
    struct ms_flow *f = ms_flow_lookup(pl->flows, p, opens, &dir, &created);
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
        if (f->dir_source == MS_FLOW_DIR_PORTS)
            pl->st.flows_midstream++;
    }
    /* A swap (check_direction) turns this packet's direction round too. */
    bool swapped = f->swapped;
    /* nDPI state is allocated at the first payload packet: a handshake
     * alone (a SYN flood) never pays for it. */
    if (fa->state == ST_CLASSIFYING && (fa->cf || p->payload_len > 0)) {
        enum ms_app v = ms_classify_packet(pl->cls, &fa->cf, p->l3, p->l3_len, p->ts_us);
        if (p->payload_len > 0)
            fa->payload_pkts++;
        if (v != MS_APP_UNKNOWN)
            decide(fa, v, false);
    }
    if (f->swapped != swapped) {
        dir ^= 1u;
        swapped = f->swapped;
    }

    bool fin = (p->tcp_flags & MS_TH_FIN) != 0;
    /* An ignored flow costs nothing but its table entry: no reassembly. */
    if (fa->state != ST_IGNORED) {
        uint64_t forced = pl->budget.forced;
        reassemble(pl, f, fa, dir, p);
        if (pl->budget.forced != forced) {
            /* Said once, when (or as soon as) this is a mail flow. */
            fa->cap_hit = true;
            if (fa->state == ST_DISSECTING && !fa->cap_reported) {
                fa->cap_reported = true;
                stream_anomaly(fa, "reassembly_memcap",
                               "out-of-order buffer cap reached: a hole was declared a gap");
            }
        }
    }

    if (fa->state == ST_CLASSIFYING) {
        bool final = fa->payload_pkts >= pl->lim.classify_pkts;
        decide(fa, final ? ms_classify_giveup(pl->cls, fa->cf) : MS_APP_UNKNOWN, final);
    }
    if (f->swapped != swapped)
        dir ^= 1u;

    /* Eviction spares flows that carried payload, both ways above all
     * (capture/flow.h). Stacks deliver no payload of a SYN or a RST, so
     * a flood of those never counts. */
    if (p->payload_len > 0 && !(p->tcp_flags & (MS_TH_SYN | MS_TH_RST)))
        f->payload_dirs |= (uint8_t)(1u << dir);
    if (fin)
        fa->fin[dir] = true;
    if (fin || (p->tcp_flags & MS_TH_RST))
        f->closing = true;
    account(pl, fa);
    if ((p->tcp_flags & MS_TH_RST) || (fa->fin[0] && fa->fin[1])) {
        ms_flow_end(pl->flows, f);
        f = NULL;
    }
    /* Over the flow memory cap: end the least recently used flows. */
    while (pl->flow_mem > pl->lim.flow_memcap && ms_flow_table_evict_lru(pl->flows, f))
        pl->st.flows_memcap_evicted++;
}

/* An anomaly of the IP layer (type "decode"): no flow, no dissector yet;
 * the addresses are the fragment's, the ports unknown (0). */
static void frag_anomaly(struct ms_pipeline *pl, const struct ms_pkt *p, unsigned bit)
{
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    addr_str(p->ip_version, p->src, src, sizeof(src));
    addr_str(p->ip_version, p->dst, dst, sizeof(dst));
    const char *detail = ms_defrag_event_detail(bit);
    struct ms_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = MS_EV_ANOMALY;
    ev.app_proto = NULL;
    ev.u.anomaly.type = "decode";
    ev.u.anomaly.code = ms_defrag_event_code(bit);
    ev.u.anomaly.detail = ms_bytes_of(detail, strlen(detail));
    /* The fragment's transport is known from an IPv4 header; an IPv6
     * fragment's is behind its extension headers, so it is left out. */
    char proto[8] = "";
    if (p->ip_version == 4 && p->l3 && p->l3_len >= 20) {
        switch (p->l3[9]) {
        case 6: snprintf(proto, sizeof(proto), "TCP"); break;
        case 17: snprintf(proto, sizeof(proto), "UDP"); break;
        case 1: snprintf(proto, sizeof(proto), "ICMP"); break;
        default: snprintf(proto, sizeof(proto), "%u", p->l3[9]); break;
        }
    }
    struct ms_flow_meta m = {
        .ts_us = p->ts_us,
        .src_ip = src,
        .dest_ip = dst,
        .pcap_filename = pl->source_name,
        .proto = proto,
    };
    if (ms_output_event(pl->out, &m, &ev) != MS_OK)
        pl->st.write_errors++;
}

static void defrag_sync_stats(struct ms_pipeline *pl)
{
    struct ms_defrag_stats fst;
    ms_defrag_get_stats(pl->defrag, &fst);
    pl->st.frag_reassembled = fst.reassembled;
    pl->st.frag_timeouts = fst.timeouts;
    pl->st.frag_evicted = fst.evicted;
    pl->st.frag_dropped = fst.dropped;
    pl->st.frag_overlaps = fst.overlaps;
}

void ms_pipeline_frame(struct ms_pipeline *pl, int linktype, uint64_t ts_us,
                       const uint8_t *frame, size_t caplen)
{
    pl->st.packets++;
    pl->st.bytes += caplen;
    pl->now_us = ts_us;
    ms_flow_table_expire(pl->flows, ts_us); /* restores now_us after each ended flow */
    struct ms_pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts_us;
    /* Incomplete datagrams time out on the capture clock, fragments or not. */
    if (pl->defrag && ms_defrag_datagrams(pl->defrag)) {
        ms_defrag_expire(pl->defrag, ts_us);
        defrag_sync_stats(pl);
    }
    enum ms_decode_status ds = ms_decode_frame(linktype, frame, caplen, &p);
    /* IP fragments: reassemble, then decode the whole datagram (twice at
     * most: a tunnel's inner packet may be fragmented as well). The
     * datagram stays valid until the next fragment, so p.l3 does too. */
    for (int round = 0; ds == MS_DECODE_FRAGMENT && round < 2; round++) {
        pl->st.fragments++;
        if (!pl->defrag)
            pl->defrag = ms_defrag_new(&pl->lim);
        const uint8_t *dg = NULL;
        size_t dglen = 0;
        unsigned ev = 0;
        enum ms_defrag_status fs = MS_DEFRAG_DROPPED;
        if (pl->defrag) {
            fs = ms_defrag_packet(pl->defrag, ts_us, p.l3, p.l3_len, &dg, &dglen, &ev);
            defrag_sync_stats(pl);
        }
        for (unsigned bit = 1; ev; bit <<= 1) {
            if (ev & bit)
                frag_anomaly(pl, &p, bit);
            ev &= ~bit;
        }
        if (fs != MS_DEFRAG_DONE)
            return;
        memset(&p, 0, sizeof(p));
        p.ts_us = ts_us;
        ds = ms_decode_ip(dg, dglen, &p);
    }
    /* Offloaded checksums are common in captures: count, never drop. */
    if (ds == MS_DECODE_TCP && p.tcp_csum_bad)
        pl->st.tcp_bad_csum++;
    switch (ds) {
    case MS_DECODE_TCP:
        tcp_packet(pl, &p);
        break;
    case MS_DECODE_NOT_TCP: pl->st.not_tcp++; break;
    case MS_DECODE_FRAGMENT: break;   /* counted above; nested too deep */
    case MS_DECODE_TRUNCATED: pl->st.truncated++; break;
    case MS_DECODE_MALFORMED: pl->st.malformed++; break;
    case MS_DECODE_UNSUPPORTED: pl->st.unsupported++; break;
    case MS_DECODE_PROTECTED: pl->st.wifi_protected++; break;
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
    pl->budget.window = lim->reasm_window;
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

void ms_pipeline_set_tap(struct ms_pipeline *pl, const struct ms_msg_tap *tap)
{
    pl->tap = *tap;
}

void ms_pipeline_finish(struct ms_pipeline *pl)
{
    ms_flow_table_end_all(pl->flows);
}

void ms_pipeline_get_stats(const struct ms_pipeline *pl, struct ms_pipeline_stats *st)
{
    *st = pl->st;
    st->reasm_forced = pl->budget.forced;
    st->overlaps = pl->budget.overlaps;
    st->overlap_diff = pl->budget.overlap_diff;
    st->reasm_memuse = pl->budget.used + pl->budget.window_mem;
    st->reasm_memuse_peak = pl->budget.used_peak;
    st->flow_memuse = pl->flow_mem;
    st->flow_memuse_peak = pl->flow_mem_peak;
    const struct ms_flow_stats *fs = ms_flow_table_stats(pl->flows);
    st->flows_created = fs->created;
    st->flows_ended = fs->ended;
    st->flows_timed_out = fs->timed_out;
    st->flows_evicted = fs->evicted;
    st->flows_reused = fs->reused;
    st->flows_swapped = fs->swapped;
    st->flows_active = fs->active;
    st->flows_peak = fs->peak;
}

enum ms_rc ms_pipeline_emit_stats(struct ms_pipeline *pl, const struct ms_capture_counters *kernel,
                                  uint64_t ts_us)
{
    struct ms_pipeline_stats st;
    ms_pipeline_get_stats(pl, &st);
    /* Names follow Suricata's stats where one exists (decoder.pkts,
     * tcp.reassembly_gap, flow.memuse, capture.kernel_drops). */
    struct ms_stat v[96];
    char names[MAX_APPS][48];
    size_t n = 0;
#define STAT(name_, value_) (v[n].name = (name_), v[n].value = (uint64_t)(value_), n++)
    if (kernel) {
        STAT("capture.kernel_packets", kernel->received);
        STAT("capture.kernel_drops", kernel->dropped);
        STAT("capture.kernel_ifdrops", kernel->ifdropped);
    }
    STAT("decoder.pkts", st.packets);
    STAT("decoder.bytes", st.bytes);
    STAT("decoder.tcp", st.tcp_packets);
    STAT("decoder.not_tcp", st.not_tcp);
    STAT("decoder.truncated", st.truncated);
    STAT("decoder.malformed", st.malformed);
    STAT("decoder.unsupported", st.unsupported);
    STAT("decoder.wifi_protected", st.wifi_protected);
    STAT("decoder.fragments", st.fragments);
    STAT("defrag.reassembled", st.frag_reassembled);
    STAT("defrag.timeouts", st.frag_timeouts);
    STAT("defrag.evicted", st.frag_evicted);
    STAT("defrag.dropped", st.frag_dropped);
    STAT("defrag.overlaps", st.frag_overlaps);
    STAT("tcp.checksum_errors", st.tcp_bad_csum);
    STAT("tcp.midstream", st.flows_midstream);
    STAT("tcp.direction_swapped", st.flows_swapped);
    STAT("tcp.port_reuse", st.flows_reused);
    STAT("tcp.overlap", st.overlaps);
    STAT("tcp.overlap_diff_data", st.overlap_diff);
    STAT("tcp.reassembly_gap", st.gaps);
    STAT("tcp.reassembly_gap_bytes", st.gap_bytes);
    STAT("tcp.reassembly_forced_gap", st.reasm_forced);
    STAT("tcp.reassembly_memuse", st.reasm_memuse);
    STAT("tcp.reassembly_memuse_peak", st.reasm_memuse_peak);
    STAT("flow.created", st.flows_created);
    STAT("flow.active", st.flows_active);
    STAT("flow.active_peak", st.flows_peak);
    STAT("flow.ended", st.flows_ended);
    STAT("flow.timed_out", st.flows_timed_out);
    STAT("flow.evicted", st.flows_evicted);
    STAT("flow.evicted_memcap", st.flows_memcap_evicted);
    STAT("flow.memuse", st.flow_memuse);
    STAT("flow.memuse_peak", st.flow_memuse_peak);
    for (size_t i = 0; i < MAX_APPS && ms_dissectors[i]; i++) {
        snprintf(names[i], sizeof(names[i]), "app_layer.flow.%s", ms_dissectors[i]->name);
        STAT(names[i], pl->app_flows[i]);
    }
    STAT("app_layer.flow.encrypted", st.flows_encrypted);
    STAT("app_layer.flow.other", st.flows_ignored);
    STAT("output.alert", ms_output_count(pl->out, MS_EV_CREDENTIAL));
    STAT("output.email", ms_output_count(pl->out, MS_EV_EMAIL));
    STAT("output.anomaly", ms_output_count(pl->out, MS_EV_ANOMALY));
    STAT("output.write_errors", st.write_errors);
#undef STAT
    return ms_output_stats(pl->out, ts_us ? ts_us : pl->now_us, v, n);
}

void ms_pipeline_free(struct ms_pipeline *pl)
{
    if (!pl)
        return;
    ms_flow_table_free(pl->flows);
    ms_classifier_free(pl->cls);
    ms_defrag_free(pl->defrag);
    free(pl);
}
