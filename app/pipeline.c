/* Packet dispatch: frame -> decode -> IP reassembly -> flow -> TCP session
 * (capture/tcp_session.c: reassembly, conversation order, the wait window)
 * -> app-layer session (app/app_session.c: classification, dissector) ->
 * output. Single-threaded; everything it owns hangs off struct ms_pipeline.
 * Memory: past lim.max_flows or lim.flow_memcap flows are ended, among the
 * least recently used those that carried no payload first (capture/flow.h,
 * Eviction), so a SYN flood does not push live sessions out. */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../capture/decode.h"
#include "../capture/defrag.h"
#include "../capture/flow.h"
#include "../capture/tcp_session.h"
#include "../dissectors/dissector.h"
#include "app_session.h"

struct ms_pipeline {
    struct ms_limits lim;
    struct ms_app_ctx app;          /* shared by every flow's app session */
    struct ms_tcp_ctx tcp;          /* shared by every flow's TCP session */
    struct ms_flow_table *flows;
    struct ms_pipeline_stats st;
    uint64_t now_us;                /* time of the last packet */
    uint64_t pkt_no;                /* packets so far (pcap_cnt) */
    struct ms_defrag *defrag;       /* created at the first IP fragment */
};

/* ---- flows ----------------------------------------------------------- */

static void on_flow_end(void *user, struct ms_flow *f)
{
    struct ms_pipeline *pl = user;
    if (f->app)
        ms_app_session_end(f->app, &pl->tcp);
    else
        ms_tcp_session_free(&pl->tcp, &f->tcp);
}

/* Ends flows whose wait window ran out at now_us (capture clock, or the
 * wall clock in live capture), one wait each. */
static void expire_waits(struct ms_pipeline *pl, uint64_t now_us)
{
    struct ms_tcp_session *s;
    while ((s = ms_tcp_ctx_overdue(&pl->tcp, now_us))) {
        struct ms_seg_meta m = { now_us, pl->pkt_no };
        if (ms_tcp_session_expire(&pl->tcp, s, &m) == MS_TCP_DONE)
            ms_flow_end(pl->flows, ms_flow_of_session(s));
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
    struct ms_app_session *a = f->app;
    if (!a) {
        if (!opens) {
            ms_flow_end(pl->flows, f);
            return;
        }
        if (ms_app_session_new(&pl->app, f, &a) != MS_OK) {
            ms_flow_end(pl->flows, f);
            return;
        }
        if (f->dir_source == MS_FLOW_DIR_PORTS)
            pl->st.flows_midstream++;
    }
    struct ms_seg_meta m = { p->ts_us, pl->pkt_no };
    /* A swap (a probe proved the port guess wrong) turns this packet's
     * direction round too. */
    bool swapped = f->swapped;
    ms_app_session_classify(a, p, &m);
    if (f->swapped != swapped)
        dir ^= 1u;
    if (ms_app_session_ignored(a))
        ms_tcp_session_ignore_bytes(&pl->tcp, &f->tcp);

    uint64_t forced = pl->tcp.budget.forced;
    enum ms_tcp_state ts = ms_tcp_session_packet(&pl->tcp, &f->tcp, dir, p, &m);
    if (pl->tcp.budget.forced != forced)
        ms_app_session_cap_hit(a);
    swapped = f->swapped;
    ms_app_session_packet_done(a);
    if (f->swapped != swapped)
        dir ^= 1u;
    if (ms_app_session_ignored(a))
        ms_tcp_session_ignore_bytes(&pl->tcp, &f->tcp);

    /* Eviction spares flows that carried payload, both ways above all
     * (capture/flow.h). Stacks deliver no payload of a SYN or a RST, so
     * a flood of those never counts. */
    if (p->payload_len > 0 && !(p->tcp_flags & (MS_TH_SYN | MS_TH_RST)))
        f->payload_dirs |= (uint8_t)(1u << dir);
    if (ts == MS_TCP_DONE) {
        ms_flow_end(pl->flows, f);
        f = NULL;
    }
    /* Over the flow memory cap: end the least recently used flows. */
    while (pl->app.flow_mem > pl->lim.flow_memcap && ms_flow_table_evict_lru(pl->flows, f))
        pl->st.flows_memcap_evicted++;
}

/* EVE's "proto": the IANA keyword, as Suricata writes it, for the
 * protocols a fragment is likely to carry; the number otherwise. */
static void ip_proto_name(uint8_t n, char *out, size_t outlen)
{
    static const struct {
        uint8_t num;
        const char *name;
    } names[] = {
        { 1, "ICMP" }, { 2, "IGMP" }, { 4, "IP-in-IP" }, { 6, "TCP" }, { 17, "UDP" },
        { 41, "IPv6" }, { 47, "GRE" }, { 50, "ESP" }, { 51, "AH" }, { 58, "IPv6-ICMP" },
        { 103, "PIM" }, { 112, "VRRP" }, { 115, "L2TP" }, { 132, "SCTP" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].num == n) {
            snprintf(out, outlen, "%s", names[i].name);
            return;
        }
    }
    snprintf(out, outlen, "%u", n);
}

/* An anomaly of the IP layer (type "decode"): no flow, no dissector yet;
 * the addresses are the fragment's, the ports unknown (0). */
static void frag_anomaly(struct ms_pipeline *pl, const struct ms_pkt *p, unsigned bit)
{
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
    char proto[16] = "";
    if (p->ip_version == 4 && p->l3 && p->l3_len >= 20)
        ip_proto_name(p->l3[9], proto, sizeof(proto));
    struct ms_flow_meta m = {
        .ts_us = p->ts_us,
        .ip_version = p->ip_version,
        .src_addr = p->src,
        .dest_addr = p->dst,
        .pcap_filename = pl->app.source_name,
        .pcap_cnt = pl->app.offline ? pl->pkt_no : 0,
        .proto = proto,
    };
    if (ms_output_event(pl->app.out, &m, &ev) != MS_OK)
        pl->app.st.write_errors++;
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
    pl->pkt_no++;
    pl->now_us = ts_us;
    ms_flow_table_expire(pl->flows, ts_us);
    expire_waits(pl, ts_us);
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
    ms_tcp_ctx_init(&pl->tcp, &pl->lim, &ms_app_stream_ops);
    pl->app.lim = &pl->lim;
    pl->app.out = out;
    pl->app.budget = &pl->tcp.budget;
    pl->app.cls = ms_classifier_new();
    pl->flows = ms_flow_table_new(lim->max_flows, lim->flow_timeout_us, lim->closed_flows_max,
                                  on_flow_end, pl);
    pl->app.flows = pl->flows;
    if (!pl->app.cls || !pl->flows) {
        ms_pipeline_free(pl);
        return NULL;
    }
    return pl;
}

void ms_pipeline_set_source_name(struct ms_pipeline *pl, const char *name)
{
    pl->app.source_name = name;
}

void ms_pipeline_set_offline(struct ms_pipeline *pl, bool offline)
{
    pl->app.offline = offline;
}

void ms_pipeline_set_tap(struct ms_pipeline *pl, const struct ms_msg_tap *tap)
{
    pl->app.tap = *tap;
}

void ms_pipeline_tick(struct ms_pipeline *pl, uint64_t wall_us)
{
    expire_waits(pl, wall_us > pl->now_us ? wall_us : pl->now_us);
}

void ms_pipeline_finish(struct ms_pipeline *pl)
{
    ms_flow_table_end_all(pl->flows);
}

void ms_pipeline_get_stats(const struct ms_pipeline *pl, struct ms_pipeline_stats *st)
{
    const struct ms_reasm_budget *b = &pl->tcp.budget;
    const struct ms_app_stats *as = &pl->app.st;
    *st = pl->st;
    st->flows = as->flows;
    st->flows_mail = as->flows_mail;
    st->flows_encrypted = as->flows_encrypted;
    st->flows_ignored = as->flows_ignored;
    st->gaps = as->gaps;
    st->gap_bytes = as->gap_bytes;
    st->write_errors = as->write_errors;
    st->reasm_forced = b->forced;
    st->overlaps = b->overlaps;
    st->overlap_diff = b->overlap_diff;
    st->held = b->held;
    st->keepalives = b->keepalives;
    st->wait_expired = pl->tcp.st.wait_expired;
    st->ack_gaps = pl->tcp.st.ack_gaps;
    st->bad_ends = pl->tcp.st.bad_ends;
    st->reasm_memuse = b->used + b->window_mem;
    st->reasm_memuse_peak = b->used_peak;
    st->flow_memuse = pl->app.flow_mem;
    st->flow_memuse_peak = pl->app.flow_mem_peak;
    const struct ms_flow_stats *fs = ms_flow_table_stats(pl->flows);
    st->flows_created = fs->created;
    st->flows_ended = fs->ended;
    st->flows_timed_out = fs->timed_out;
    st->flows_evicted = fs->evicted;
    st->flows_reused = fs->reused;
    st->flows_swapped = fs->swapped;
    st->flows_active = fs->active;
    st->flows_peak = fs->peak;
    st->late_packets = fs->late_packets;
}

enum ms_rc ms_pipeline_emit_stats(struct ms_pipeline *pl, const struct ms_capture_counters *kernel,
                                  uint64_t ts_us)
{
    struct ms_pipeline_stats st;
    ms_pipeline_get_stats(pl, &st);
    /* Names follow Suricata's stats where one exists (decoder.pkts,
     * tcp.reassembly_gap, flow.memuse, capture.kernel_drops). */
    struct ms_stat v[96];
    char names[MS_APP_MAX_DISSECTORS][48];
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
    STAT("tcp.keepalive", st.keepalives);
    STAT("tcp.held_for_order", st.held);
    STAT("tcp.wait_expired", st.wait_expired);
    STAT("tcp.acked_not_captured", st.ack_gaps);
    STAT("tcp.late_after_close", st.late_packets);
    STAT("tcp.invalid_fin_rst", st.bad_ends);
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
    for (size_t i = 0; i < MS_APP_MAX_DISSECTORS && ms_dissectors[i]; i++) {
        snprintf(names[i], sizeof(names[i]), "app_layer.flow.%s", ms_dissectors[i]->name);
        STAT(names[i], pl->app.st.per_dissector[i]);
    }
    STAT("app_layer.flow.encrypted", st.flows_encrypted);
    STAT("app_layer.flow.other", st.flows_ignored);
    STAT("output.alert", ms_output_count(pl->app.out, MS_EV_CREDENTIAL));
    STAT("output.email", ms_output_count(pl->app.out, MS_EV_EMAIL));
    STAT("output.anomaly", ms_output_count(pl->app.out, MS_EV_ANOMALY));
    STAT("output.fileinfo", ms_output_fileinfo_count(pl->app.out));
    STAT("output.write_errors", st.write_errors);
#undef STAT
    return ms_output_stats(pl->app.out, ts_us ? ts_us : pl->now_us, v, n);
}

void ms_pipeline_free(struct ms_pipeline *pl)
{
    if (!pl)
        return;
    ms_flow_table_free(pl->flows);
    ms_classifier_free(pl->app.cls);
    ms_defrag_free(pl->defrag);
    free(pl);
}
