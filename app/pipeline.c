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

#include "../common/alloc.h"

#include "../capture/decode.h"
#include "../capture/defrag.h"
#include "../capture/flow.h"
#include "../capture/tcp_session.h"
#include "../capture/wpa.h"
#include "../dissectors/dissector.h"
#include "../output/dedup.h"
#include "../output/evidence.h"
#include "../output/sink.h"
#include "app_session.h"

struct ms_pipeline {
    struct ms_limits lim;
    struct ms_app_ctx app; /* shared by every flow's app session */
    struct ms_tcp_ctx tcp; /* shared by every flow's TCP session */
    struct ms_flow_table *flows;
    struct ms_pipeline_stats st;
    uint64_t now_us;          /* time of the last packet */
    uint64_t pkt_no;          /* packets so far (pcap_cnt) */
    struct ms_defrag *defrag; /* created at the first IP fragment */
    /* --evidence: the frame being handled, as captured (NULL when its
     * packet came as IP fragments). */
    const uint8_t *frame;
    size_t frame_len;
    int linktype;
    struct ms_dispatch dispatch; /* --threads: the reader's (packet NULL: none) */
    bool memo_shared;            /* app.tls_memo is the engine's */
    /* 802.11 decryption state (the caller's; NULL: no secret given) and
     * whether the run's notice that protected frames need one was given. */
    struct ms_wpa *wpa;
    bool wifi_notice_given;
};

/* A packet before decoding: copied from a constant, not memset (gcc
 * zeroes the 144 bytes with rep stos, whose start-up cost on the
 * benchmark's AMD EPYC was ~40% of ms_pipeline_frame's samples). */
static const struct ms_pkt ms_pkt_zero;

/* ---- flows ----------------------------------------------------------- */

static void on_flow_end(void *user, struct ms_flow *f)
{
    struct ms_pipeline *pl = user;
    if (f->app)
        ms_app_session_end(f->app, &pl->tcp);
    else
        ms_tcp_session_free(
            &pl->tcp, &f->tcp); /* After the session's end, whose last events may be alerts. */
    if (f->evidence)
        ms_evidence_flow_end(pl->app.evidence, &f->evidence);
}

/* Ends flows whose wait window ran out at now_us (capture clock, or the
 * wall clock in live capture), one wait each. What the end of a wait
 * completes is told with the flow's own last packet, not with whichever
 * packet noticed the time (another flow's: with --threads, another one). */
static void expire_waits(struct ms_pipeline *pl, uint64_t now_us)
{
    struct ms_tcp_session *s;
    while ((s = ms_tcp_ctx_overdue(&pl->tcp, now_us))) {
        struct ms_flow *f = ms_flow_of_session(s);
        struct ms_seg_meta m = { now_us, pl->pkt_no,
                                 pl->app.source_name ? pl->app.source_name : ms_app_no_file };
        if (f->app)
            m = *ms_app_session_last(f->app);
        if (ms_tcp_session_expire(&pl->tcp, s, &m, now_us) == MS_TCP_DONE)
            ms_flow_end(pl->flows, f);
    }
}

static void packet_anomaly(struct ms_pipeline *pl, const struct ms_pkt *p, enum ms_anomaly code,
                           const char *detail);

/* A flow whose app session could not be allocated: said under the flow's
 * name, then the flow ends (its later packets are a closed flow's). */
static void flow_nomem(struct ms_pipeline *pl, const struct ms_flow *f)
{
    struct ms_event ev;
    ms_anomaly_event(&ev, MS_ANOM_OUT_OF_MEMORY,
                     "out of memory (no session for the flow): the packet was dropped, and with "
                     "it its connection if it carried bytes");
    struct ms_flow_meta m = {
        .ts_us = pl->now_us,
        .flow_id = f->flow_id,
        .ip_version = f->ip_version,
        .src_addr = f->cli_addr,
        .src_port = f->cli_port,
        .dest_addr = f->srv_addr,
        .dest_port = f->srv_port,
        .pcap_filename = pl->app.source_name,
        .pcap_cnt = pl->app.offline ? pl->pkt_no : 0,
    };
    if (ms_output_event(pl->app.out, &m, &ev) != MS_OK)
        pl->app.st.write_errors++;
}

static void tcp_packet(struct ms_pipeline *pl, const struct ms_pkt *p)
{
    /* A stray ACK or FIN of a connection we never saw opens nothing. */
    bool opens = (p->tcp_flags & MS_TH_SYN) || p->payload_len > 0;
    enum ms_dir dir;
    bool created;
    pl->st.tcp_packets++;
    uint64_t nomem = ms_flow_table_stats(pl->flows)->nomem;
    struct ms_flow *f = ms_flow_lookup(pl->flows, p, opens, &dir, &created);
    /* Offloaded checksums are common in captures: counted, never dropped.
     * Summed for every segment but those of a flow already classified as
     * not mail (on mixed traffic, summing those was 11% of the run's
     * instructions); a stray or late segment is summed too. */
    if (!(f && f->app && ms_app_session_ignored(f->app)) && ms_pkt_tcp_csum_bad(p))
        pl->st.tcp_bad_csum++;
    if (!f) {
        /* The packet is lost (ms_flow_drop says what follows). */
        if (ms_flow_table_stats(pl->flows)->nomem != nomem)
            packet_anomaly(pl, p, MS_ANOM_OUT_OF_MEMORY,
                           "out of memory (no flow for a TCP packet): the packet was dropped, "
                           "and with it its connection if it carried bytes");
        return;
    }
    struct ms_app_session *a = f->app;
    if (!a) {
        if (!opens) {
            ms_flow_end(pl->flows, f);
            return;
        }
        if (ms_app_session_new(&pl->app, f, &a) != MS_OK) {
            flow_nomem(pl, f);
            ms_flow_drop(pl->flows, f, p);
            return;
        }
        if (f->dir_source == MS_FLOW_DIR_PORTS)
            pl->st.flows_midstream++;
    }
    /* Held before the packet is dissected: an alert it completes finds it. */
    if (pl->app.evidence)
        ms_evidence_packet(pl->app.evidence, &f->evidence, pl->linktype, p->ts_us, pl->frame,
                           pl->frame_len);
    struct ms_seg_meta m = { p->ts_us, pl->pkt_no,
                             pl->app.source_name ? pl->app.source_name : ms_app_no_file };
    /* A swap (a probe proved the port guess wrong) turns this packet's
     * direction round too. */
    bool swapped = f->swapped;
    ms_app_session_classify(a, p, &m);
    if (f->swapped != swapped)
        dir ^= 1u;
    if (ms_app_session_ignored(a))
        ms_tcp_session_ignore_bytes(&pl->tcp, &f->tcp);

    uint64_t forced = pl->tcp.budget.forced, nomem_tcp = pl->tcp.st.nomem;
    enum ms_tcp_state ts = ms_tcp_session_packet(&pl->tcp, &f->tcp, dir, p, &m);
    if (pl->tcp.st.nomem != nomem_tcp)
        ms_app_session_nomem(a, "a segment could not be stored for reassembly");
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
    ms_app_session_count(a, dir, p->payload_len);
    if (ts == MS_TCP_DONE) {
        ms_flow_end(pl->flows, f);
        f = NULL;
    }
    /* Over the flow memory cap: end flows in eviction order (capture/
     * flow.h: those without payload first, then the least recently used;
     * this one may go too, its packet is done with), so that no packet
     * leaves more than the cap in use. The peak is taken here, where the
     * cap holds. */
    while (pl->app.flow_mem > pl->lim.flow_memcap && ms_flow_table_evict_lru(pl->flows, NULL))
        pl->st.flows_memcap_evicted++;
    if (pl->app.flow_mem > pl->app.flow_mem_peak)
        pl->app.flow_mem_peak = pl->app.flow_mem;
}

/* EVE's "proto": the IANA keyword, as Suricata writes it, for the
 * protocols a fragment is likely to carry; the number otherwise. */
static void ip_proto_name(uint8_t n, char *out, size_t outlen)
{
    static const struct {
        uint8_t num;
        const char *name;
    } names[] = {
        { 1, "ICMP" },  { 2, "IGMP" },   { 4, "IP-in-IP" }, { 6, "TCP" },    { 17, "UDP" },
        { 41, "IPv6" }, { 47, "GRE" },   { 50, "ESP" },     { 51, "AH" },    { 58, "IPv6-ICMP" },
        { 103, "PIM" }, { 112, "VRRP" }, { 115, "L2TP" },   { 132, "SCTP" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].num == n) {
            snprintf(out, outlen, "%s", names[i].name);
            return;
        }
    }
    snprintf(out, outlen, "%u", n);
}

/* An anomaly of a packet that belongs to no flow (an IP fragment; a
 * packet no flow could be made for): no dissector yet; the addresses are
 * the packet's, the ports left out. detail NULL: the registry's. */
static void packet_anomaly(struct ms_pipeline *pl, const struct ms_pkt *p, enum ms_anomaly code,
                           const char *detail)
{
    struct ms_event ev;
    ms_anomaly_event(&ev, code, detail);
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

/* What a frame or an 802.11 MSDU decoded to: IP fragments reassembled
 * (the datagram then decoded), TCP to its flow or its worker, the rest
 * counted. bytes/len: what p was decoded from as a frame of linktype, or
 * NULL when p comes from an MSDU (a decrypted or aggregated frame's): its
 * IP packet then goes on as a datagram. p is the caller's, used up here (a
 * reassembled datagram is decoded into it): not copied, which cost 22
 * instructions a frame. */
static void decoded(struct ms_pipeline *pl, int linktype, struct ms_pkt *p,
                    enum ms_decode_status ds, const uint8_t *bytes, size_t len)
{
    const uint64_t ts_us = p->ts_us;
    const uint8_t *datagram = NULL; /* the reassembled one, when fragments */
    size_t datagram_len = 0;
    if (!bytes) {
        pl->frame = NULL; /* the IP packet is not the frame as captured */
        datagram = p->l3;
        datagram_len = p->l3_len;
    }
    /* IP fragments: reassemble, then decode the whole datagram (twice at
     * most: a tunnel's inner packet may be fragmented as well). The
     * datagram stays valid until the next fragment, so p->l3 does too. */
    for (int round = 0; ds == MS_DECODE_FRAGMENT && round < 2; round++) {
        pl->st.fragments++;
        if (!pl->defrag)
            pl->defrag = ms_defrag_new(&pl->lim);
        const uint8_t *dg = NULL;
        size_t dglen = 0;
        unsigned ev = 0;
        enum ms_defrag_status fs = MS_DEFRAG_DROPPED;
        if (pl->defrag)
            fs = ms_defrag_packet(pl->defrag, ts_us, p->l3, p->l3_len, &dg, &dglen, &ev);
        if (!pl->defrag)
            ev = MS_DEFRAG_EV_NOMEM;
        for (unsigned bit = 1; ev; bit <<= 1) {
            if (ev & bit)
                packet_anomaly(pl, p, ms_defrag_event_anomaly(bit),
                               bit == MS_DEFRAG_EV_NOMEM
                                   ? "out of memory (IP reassembly): a datagram was dropped"
                                   : NULL);
            ev &= ~bit;
        }
        if (fs != MS_DEFRAG_DONE)
            return;
        pl->frame = NULL; /* the datagram is not this frame */
        /* The last fragment's link-layer addresses stand for the datagram. */
        struct ms_link_addrs mac = p->mac;
        memset(p, 0, sizeof(*p));
        p->ts_us = ts_us;
        ds = ms_decode_ip_no_csum(dg, dglen, p);
        p->mac = mac;
        datagram = dg;
        datagram_len = dglen;
    }
    switch (ds) {
    case MS_DECODE_TCP:
        if (pl->dispatch.packet)
            pl->dispatch.packet(pl->dispatch.user, p, pl->pkt_no, linktype,
                                datagram ? datagram : bytes, datagram ? datagram_len : len,
                                datagram != NULL);
        else
            tcp_packet(pl, p);
        break;
    case MS_DECODE_NOT_TCP:
        pl->st.not_tcp++;
        break;
    case MS_DECODE_FRAGMENT:
        break; /* counted above; nested too deep */
    case MS_DECODE_TRUNCATED:
        pl->st.truncated++;
        break;
    case MS_DECODE_MALFORMED:
        pl->st.malformed++;
        break;
    case MS_DECODE_UNSUPPORTED:
        pl->st.unsupported++;
        break;
    case MS_DECODE_PROTECTED:
        pl->st.wifi_protected++;
        break;
    }
}

/* ---- 802.11 ------------------------------------------------------------ */

static void count_undecrypted(struct ms_pipeline *pl, enum ms_wpa_status s)
{
    switch (s) {
    case MS_WPA_NO_HANDSHAKE:
        pl->st.wifi_undec_no_handshake++;
        break;
    case MS_WPA_WRONG_SECRET:
        pl->st.wifi_undec_wrong_passphrase++;
        break;
    case MS_WPA_NO_SECRET:
        pl->st.wifi_undec_no_passphrase++;
        break;
    case MS_WPA_SAE:
        pl->st.wifi_undec_wpa3_sae++;
        break;
    case MS_WPA_ENTERPRISE:
        pl->st.wifi_undec_enterprise++;
        break;
    case MS_WPA_UNSUPPORTED:
        pl->st.wifi_undec_unsupported++;
        break;
    case MS_WPA_DECRYPT_FAILED:
        pl->st.wifi_undec_decrypt_failed++;
        break;
    case MS_WPA_MALFORMED:
    default:
        pl->st.wifi_undec_malformed++;
        break;
    }
}

/* An SSID as people read it: printable ASCII as is (quoted), other bytes
 * as \xNN; "(unknown)" when none was learned. */
static void ssid_str(const uint8_t *ssid, size_t n, char *out, size_t outlen)
{
    if (!n) {
        snprintf(out, outlen, "(unknown)");
        return;
    }
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n && o + 6 < outlen; i++) {
        if (ssid[i] >= 0x20 && ssid[i] < 0x7f && ssid[i] != '"' && ssid[i] != '\\')
            out[o++] = (char)ssid[i];
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ssid[i]);
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* A link-layer anomaly (no IP, no flow): the client is ether.src_mac, its
 * access point ether.bssid. */
static void wifi_anomaly_event(struct ms_pipeline *pl, enum ms_anomaly code, const char *detail,
                               const uint8_t *client, const uint8_t *bssid)
{
    struct ms_event ev;
    ms_anomaly_event(&ev, code, detail);
    struct ms_flow_meta m = {
        .ts_us = pl->now_us,
        .pcap_filename = pl->app.source_name,
        .pcap_cnt = pl->app.offline ? pl->pkt_no : 0,
        .proto = "",
        .src_mac = client,
        .bssid = bssid,
    };
    if (ms_output_event(pl->app.out, &m, &ev) != MS_OK)
        pl->app.st.write_errors++;
}

/* Once per client and reason (the wpa module says which is the first):
 * why its frames cannot be read. Never the passphrase: this module never
 * has it. */
static void wifi_status_anomaly(struct ms_pipeline *pl, enum ms_wpa_status s,
                                const struct ms_wpa_who *who)
{
    char cli[MS_MAC_STRLEN], bss[MS_MAC_STRLEN], ssid[4 * MS_WPA_SSID_MAX + 3];
    char detail[320];
    ms_mac_str(who->client, cli, sizeof(cli));
    ms_mac_str(who->bssid, bss, sizeof(bss));
    ssid_str(who->ssid, who->ssid_len, ssid, sizeof(ssid));
    enum ms_anomaly code;
    switch (s) {
    case MS_WPA_NO_HANDSHAKE:
        code = MS_ANOM_WIFI_NO_HANDSHAKE;
        snprintf(detail, sizeof(detail),
                 "handshake not captured for client %s (BSSID %s, SSID %s); its traffic cannot be "
                 "read: capture from before the client associates",
                 cli, bss, ssid);
        break;
    case MS_WPA_WRONG_SECRET:
        code = MS_ANOM_WIFI_WRONG_PASSPHRASE;
        snprintf(detail, sizeof(detail),
                 "wrong passphrase: the handshake of client %s (BSSID %s, SSID %s) matches no "
                 "passphrase or PSK given; its traffic cannot be read",
                 cli, bss, ssid);
        break;
    case MS_WPA_NO_SECRET:
        code = MS_ANOM_WIFI_NO_PASSPHRASE;
        snprintf(detail, sizeof(detail),
                 "no passphrase given for SSID %s (BSSID %s): traffic of client %s cannot be read",
                 ssid, bss, cli);
        break;
    case MS_WPA_SAE:
    case MS_WPA_ENTERPRISE:
    case MS_WPA_UNSUPPORTED:
        code = MS_ANOM_WIFI_UNSUPPORTED_SECURITY;
        snprintf(detail, sizeof(detail),
                 "client %s (BSSID %s, SSID %s) uses %s, which mailspill does not decrypt; its "
                 "traffic cannot be read",
                 cli, bss, ssid,
                 s == MS_WPA_SAE          ? "WPA3-SAE"
                 : s == MS_WPA_ENTERPRISE ? "802.1X (WPA-Enterprise)"
                                          : "WEP, TKIP or another cipher");
        break;
    default:
        return; /* damaged frames: counted only */
    }
    wifi_anomaly_event(pl, code, detail, who->client, who->bssid);
}

/* Without any secret, protected frames are skipped as before; said once a
 * run so that whoever reads the output knows a passphrase would help. */
static void wifi_notice(struct ms_pipeline *pl, const struct ms_wifi_frame *w)
{
    if (pl->wifi_notice_given)
        return;
    pl->wifi_notice_given = true;
    char ta[MS_MAC_STRLEN] = "?", bss[MS_MAC_STRLEN] = "?";
    char detail[320];
    if (w->ta)
        ms_mac_str(w->ta, ta, sizeof(ta));
    if (w->bssid)
        ms_mac_str(w->bssid, bss, sizeof(bss));
    snprintf(detail, sizeof(detail),
             "protected (encrypted) 802.11 frames were seen, the first from %s (BSSID %s), and no "
             "--wpa-passphrase, --wpa-passphrase-file or --wpa-psk was given: they cannot be read "
             "(counted in decoder.wifi_protected; said once)",
             ta, bss);
    wifi_anomaly_event(pl, MS_ANOM_WIFI_NO_PASSPHRASE, detail, w->ta, w->bssid);
}

/* One MSDU of data frame w: EAPOL to the handshake tracker, the rest
 * LLC/SNAP -> IP on. sa/da: an A-MSDU subframe's (NULL: w's). */
static void wifi_msdu(struct ms_pipeline *pl, const struct ms_wifi_frame *w, const uint8_t *sa,
                      const uint8_t *da, const uint8_t *msdu, size_t len)
{
    uint16_t type;
    const uint8_t *pl_bytes;
    size_t pl_len;
    if (ms_decode_llc_type(msdu, len, &type, &pl_bytes, &pl_len) && type == 0x888eu) {
        pl->st.not_tcp++;
        if (!pl->wpa)
            return;
        struct ms_wpa_who who;
        bool first = false;
        enum ms_wpa_status s = ms_wpa_eapol(pl->wpa, w, pl_bytes, pl_len, &who, &first);
        if (s != MS_WPA_OK && first)
            wifi_status_anomaly(pl, s, &who);
        return;
    }
    struct ms_pkt p = ms_pkt_zero;
    p.ts_us = w->ts_us;
    enum ms_decode_status ds = ms_decode_llc_no_csum(msdu, len, &p);
    ms_decode_wifi_addrs(w, sa, da, &p.mac);
    decoded(pl, 0, &p, ds, NULL, 0);
}

/* A data frame's body: one MSDU, or the subframes of an A-MSDU. */
static void wifi_body(struct ms_pipeline *pl, const struct ms_wifi_frame *w, const uint8_t *body,
                      size_t len)
{
    if (!w->amsdu) {
        wifi_msdu(pl, w, NULL, NULL, body, len);
        return;
    }
    pl->st.wifi_amsdu++;
    struct ms_amsdu_iter it;
    const uint8_t *da, *sa, *msdu;
    size_t n;
    ms_amsdu_init(&it, body, len);
    while (ms_amsdu_next(&it, &da, &sa, &msdu, &n))
        wifi_msdu(pl, w, sa, da, msdu, n);
    if (it.bad)
        pl->st.truncated++;
}

/* 802.11 link types: the frames ms_decode_frame cannot take alone
 * (management frames for the wpa state, protected data frames with
 * secrets, A-MSDU aggregates, EAPOL). False: decode the frame as any
 * other (ms_decode_frame), which counts it. */
static bool wifi_frame(struct ms_pipeline *pl, int linktype, uint64_t ts_us, const uint8_t *frame,
                       size_t caplen)
{
    struct ms_wifi_frame w;
    if (ms_decode_wifi(linktype, frame, caplen, &w) != MS_DECODE_TCP)
        return false;
    w.ts_us = ts_us;
    if (w.type == 0) {
        if (pl->wpa)
            ms_wpa_management(pl->wpa, &w);
        return false;
    }
    /* Null-function subtypes (bit 2) carry nothing. */
    if (w.type != 2 || (w.subtype & 0x4u))
        return false;
    /* 802.11 fragments (More Fragments, or a fragment number) are not
     * reassembled: ms_decode_frame counts them unsupported. */
    if ((w.flags & 0x04u) || (w.hdr_len >= 24 && (w.hdr[22] & 0x0fu)))
        return false;
    if (!(w.flags & 0x40u)) {
        uint16_t type;
        const uint8_t *rest;
        size_t rest_len;
        bool eapol = !w.amsdu && ms_decode_llc_type(w.body, w.body_len, &type, &rest, &rest_len) &&
                     type == 0x888eu;
        if (!w.amsdu && !eapol)
            return false; /* one MSDU in the clear: as any frame (evidence keeps it) */
        wifi_body(pl, &w, w.body, w.body_len);
        return true;
    }
    if (!pl->wpa) {
        wifi_notice(pl, &w);
        return false; /* counted as decoder.wifi_protected */
    }
    const uint8_t *plain = NULL;
    size_t plain_len = 0;
    struct ms_wpa_who who;
    bool first = false;
    enum ms_wpa_status s = ms_wpa_decrypt(pl->wpa, &w, &plain, &plain_len, &who, &first);
    if (s != MS_WPA_OK) {
        count_undecrypted(pl, s);
        /* A group-addressed frame names no client (who.client is the
         * group): its key comes from some client's handshake, whose own
         * frames tell what went wrong. Counted only. */
        if (first && !(who.client[0] & 1u))
            wifi_status_anomaly(pl, s, &who);
        return true;
    }
    pl->st.wifi_decrypted++;
    wifi_body(pl, &w, plain, plain_len);
    return true;
}

/* The frame the packets now handled came in (NULL: a datagram that is
 * not one frame), for --evidence, with its link type as files name it. */
static void set_frame(struct ms_pipeline *pl, int linktype, const uint8_t *frame, size_t len)
{
    pl->frame = frame;
    pl->frame_len = len;
    pl->linktype = ms_decode_linktype_for_file(linktype);
}

void ms_pipeline_frame(struct ms_pipeline *pl, int linktype, uint64_t ts_us, const uint8_t *frame,
                       size_t caplen)
{
    pl->st.packets++;
    pl->st.bytes += caplen;
    pl->pkt_no++;
    pl->now_us = ts_us;
    ms_flow_table_expire(pl->flows, ts_us);
    expire_waits(pl, ts_us);
    struct ms_pkt p = ms_pkt_zero;
    p.ts_us = ts_us;
    /* Incomplete datagrams time out on the capture clock, fragments or not. */
    if (pl->defrag && ms_defrag_datagrams(pl->defrag)) {
        ms_defrag_expire(pl->defrag, ts_us);
    }
    set_frame(pl, linktype, frame, caplen);
    if (wifi_frame(pl, linktype, ts_us, frame, caplen))
        return;
    /* The TCP checksum is summed by tcp_packet, but for flows classified
     * as not mail (with --threads, in the workers). */
    enum ms_decode_status ds = ms_decode_frame_no_csum(linktype, frame, caplen, &p);
    decoded(pl, linktype, &p, ds, frame, caplen);
}

/* ---- --threads ------------------------------------------------------- */

/* A worker runs the capture clock of the packets it is given and of the
 * reader's ticks; what happens at a time is told with the number of the
 * packet the reader was at (the events' pcap_cnt). */
static void worker_clock(struct ms_pipeline *pl, uint64_t ts_us, uint64_t pkt_no)
{
    pl->pkt_no = pkt_no;
    pl->now_us = ts_us;
    ms_flow_table_expire(pl->flows, ts_us);
    expire_waits(pl, ts_us);
}

void ms_pipeline_worker_packet(struct ms_pipeline *pl, int linktype, uint64_t ts_us,
                               uint64_t pkt_no, const uint8_t *bytes, size_t len, bool datagram,
                               const struct ms_link_addrs *mac)
{
    worker_clock(pl, ts_us, pkt_no);
    struct ms_pkt p = ms_pkt_zero;
    p.ts_us = ts_us;
    /* Decoded again: cheaper than copying the reader's pointers' layout. */
    enum ms_decode_status ds = datagram ? ms_decode_ip_no_csum(bytes, len, &p)
                                        : ms_decode_frame_no_csum(linktype, bytes, len, &p);
    if (ds != MS_DECODE_TCP)
        return; /* cannot be: the reader decoded the same bytes to TCP */
    if (mac)
        p.mac = *mac;
    set_frame(pl, linktype, datagram ? NULL : bytes, len);
    tcp_packet(pl, &p);
}

void ms_pipeline_worker_decoded(struct ms_pipeline *pl, int linktype, uint64_t pkt_no,
                                const struct ms_pkt *p, const uint8_t *frame, size_t len)
{
    worker_clock(pl, p->ts_us, pkt_no);
    set_frame(pl, linktype, frame, len);
    tcp_packet(pl, p);
}

void ms_pipeline_worker_clock(struct ms_pipeline *pl, uint64_t ts_us, uint64_t pkt_no)
{
    worker_clock(pl, ts_us, pkt_no);
}

uint64_t ms_pipeline_worker_now(const struct ms_pipeline *pl)
{
    return pl->now_us;
}

/* The oldest flow's idle timeout, the first wait's window, and what later
 * packets may start (no sooner than now plus the shorter of the two),
 * rounded down to a power of two at most a quarter of that: the value
 * then changes seldom, and the reader reads it at every frame. */
uint64_t ms_pipeline_worker_due(const struct ms_pipeline *pl)
{
    uint64_t window = pl->lim.flow_timeout_us < pl->tcp.wait_us ? pl->lim.flow_timeout_us
                                                                : pl->tcp.wait_us;
    uint64_t due = pl->now_us > UINT64_MAX - 1 - window ? UINT64_MAX : pl->now_us + window + 1;
    uint64_t d = ms_flow_table_next_due(pl->flows);
    due = d < due ? d : due;
    d = ms_tcp_ctx_next_due(&pl->tcp);
    due = d < due ? d : due;
    uint64_t quarter = window / 4;
    if (quarter == 0)
        return due;
    uint64_t grain = (uint64_t)1 << (63 - __builtin_clzll(quarter));
    return due & ~(grain - 1);
}

void ms_pipeline_share_memo(struct ms_pipeline *pl, struct ms_tls_memo *memo,
                            void (*order)(void *user, const struct ms_tls_server *srv),
                            void (*live)(void *user, const struct ms_flow *f, int delta),
                            void *user)
{
    if (!pl->memo_shared)
        ms_tls_memo_free(pl->app.tls_memo);
    pl->memo_shared = true;
    pl->app.tls_memo = memo;
    pl->app.memo_order = order;
    pl->app.memo_live = live;
    pl->app.memo_order_user = user;
}

/* ---- lifecycle ------------------------------------------------------- */

/* reader: --threads' reading pipeline, whose TCP packets go to the
 * workers: no classifier (nDPI's set-up is costly) and no flows. */
static struct ms_pipeline *pipeline_new(const struct ms_limits *lim, struct ms_output *out,
                                        bool reader)
{
    struct ms_pipeline *pl = ms_calloc(1, sizeof(*pl));
    if (!pl)
        return NULL;
    pl->lim = *lim;
    ms_tcp_ctx_init(&pl->tcp, &pl->lim, &ms_app_stream_ops);
    pl->app.lim = &pl->lim;
    pl->app.out = out;
    pl->app.budget = &pl->tcp.budget;
    pl->app.cls = NULL; /* built at its first use (ms_app_classifier) */
    pl->app.tls_memo = ms_tls_memo_new(reader ? 1 : MS_TLS_MEMO_MAX);
    pl->flows = ms_flow_table_new(reader ? 1 : lim->max_flows, lim->flow_timeout_us,
                                  reader ? 1 : lim->closed_flows_max, on_flow_end, pl);
    pl->app.flows = pl->flows;
    if (!pl->flows || !pl->app.tls_memo) {
        ms_pipeline_free(pl);
        return NULL;
    }
    return pl;
}

struct ms_pipeline *ms_pipeline_new(const struct ms_limits *lim, struct ms_output *out)
{
    return pipeline_new(lim, out, false);
}

struct ms_pipeline *ms_pipeline_new_reader(const struct ms_limits *lim, struct ms_output *out,
                                           const struct ms_dispatch *d)
{
    struct ms_pipeline *pl = pipeline_new(lim, out, true);
    if (pl)
        pl->dispatch = *d;
    return pl;
}

void ms_pipeline_set_wpa(struct ms_pipeline *pl, struct ms_wpa *wpa)
{
    pl->wpa = wpa;
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

void ms_pipeline_set_evidence(struct ms_pipeline *pl, struct ms_evidence *ev)
{
    pl->app.evidence = ev;
}

bool ms_pipeline_has_evidence(const struct ms_pipeline *pl)
{
    return pl->app.evidence != NULL;
}

void ms_pipeline_tick(struct ms_pipeline *pl, uint64_t wall_us)
{
    expire_waits(pl, wall_us > pl->now_us ? wall_us : pl->now_us);
}

void ms_pipeline_finish(struct ms_pipeline *pl)
{
    ms_flow_table_end_all(pl->flows);
}

bool ms_pipeline_build_classifier(struct ms_pipeline *pl)
{
    return ms_app_classifier(&pl->app, pl->now_us) != NULL;
}

void ms_pipeline_free_classifier(struct ms_pipeline *pl)
{
    ms_classifier_free(pl->app.cls);
    pl->app.cls = NULL;
}

/* ---- counters (app/stats.def) ---------------------------------------- */

const struct ms_stat_def ms_stat_defs[] = {
#define MS_STAT(field, name, merge, when, src) \
    { name, MS_STAT_##merge, MS_STAT_##when, offsetof(struct ms_pipeline_stats, field), false },
#define MS_STAT_DISSECTORS(field, prefix, merge, src) \
    { prefix, MS_STAT_##merge, MS_STAT_ALWAYS, offsetof(struct ms_pipeline_stats, field), true },
#include "stats.def"
#undef MS_STAT
#undef MS_STAT_DISSECTORS
};

const size_t ms_stat_ndefs = sizeof(ms_stat_defs) / sizeof(ms_stat_defs[0]);

/* Which counters collect() reads: the pipeline's own (each worker has its
 * own), and those of what every worker shares (the output, the sinks, the
 * STARTTLS memo, the kernel's), which a merge of workers must count once. */
enum { PART_OWN = 1u, PART_SHARED = 2u };

/* Reads every counter of parts from where it lives (the sources of
 * stats.def); the others are 0. kernel: live capture counters, or NULL. */
static void collect(const struct ms_pipeline *pl, const struct ms_capture_counters *kernel,
                    unsigned parts, struct ms_pipeline_stats *st)
{
    const bool own = parts & PART_OWN, shared = parts & PART_SHARED;
    struct ms_defrag_stats defrag;
    struct ms_flow_stats flow;
    struct ms_dedup_stats dedup;
    struct ms_evidence_stats evid;
    struct ms_sink_counters sink[MS_SINK_KIND_COUNT];
    memset(&defrag, 0, sizeof(defrag));
    memset(&flow, 0, sizeof(flow));
    memset(&dedup, 0, sizeof(dedup));
    memset(&evid, 0, sizeof(evid));
    memset(sink, 0, sizeof(sink));
    struct ms_wpa_stats wpa;
    memset(&wpa, 0, sizeof(wpa));
    struct ms_app_stats no_app;
    memset(&no_app, 0, sizeof(no_app));
    struct ms_sinks *sinks = ms_output_sinks(pl->app.out);
    if (own) {
        if (pl->defrag)
            ms_defrag_get_stats(pl->defrag, &defrag);
        flow = *ms_flow_table_stats(pl->flows);
        if (pl->app.evidence)
            ms_evidence_get_stats(pl->app.evidence, &evid);
        if (pl->wpa)
            ms_wpa_get_stats(pl->wpa, &wpa);
    }
    if (shared) {
        ms_output_dedup_stats(pl->app.out, &dedup);
        for (int k = 0; k < MS_SINK_KIND_COUNT; k++)
            ms_sinks_kind_counters(sinks, (enum ms_sink_kind)k, &sink[k]);
    }
    memset(st, 0, sizeof(*st));
#define OWN(x) (own ? pl->st.x : 0)
#define DEFRAG(x) defrag.x
#define FLOW(x) flow.x
#define REASM(x) (own ? pl->tcp.budget.x : 0)
#define TCP(x) (own ? pl->tcp.st.x : 0)
#define APP(x) (own ? pl->app.st.x : no_app.x) /* no_app: arrays too */
#define APPCTX(x) (own ? pl->app.x : 0)
#define MEMO(x) (shared && pl->app.tls_memo ? ms_tls_memo_##x(pl->app.tls_memo) : 0)
#define OUT(kind) (shared ? ms_output_count(pl->app.out, kind) : 0)
#define OUT_FILEINFO() (shared ? ms_output_fileinfo_count(pl->app.out) : 0)
#define KERNEL(x) (shared && kernel ? kernel->x : 0)
#define DEDUP(x) dedup.x
#define EVID(x) evid.x
#define WPA(x) wpa.x
#define SINK(kind, x) sink[MS_SINK_##kind].x
#define SINK_ERRORS() (shared ? ms_sinks_write_errors(sinks) : 0)
#define ENGINE(x) 0 /* filled in by app/engine.c */
#define MS_STAT(field, name, merge, when, src) st->field = (uint64_t)(src);
#define MS_STAT_DISSECTORS(field, prefix, merge, src) memcpy(st->field, src, sizeof(st->field));
#include "stats.def"
#undef MS_STAT
#undef MS_STAT_DISSECTORS
#undef OWN
#undef DEFRAG
#undef FLOW
#undef REASM
#undef TCP
#undef APP
#undef APPCTX
#undef MEMO
#undef OUT
#undef OUT_FILEINFO
#undef KERNEL
#undef DEDUP
#undef EVID
#undef WPA
#undef SINK
#undef SINK_ERRORS
#undef ENGINE
}

void ms_pipeline_get_stats(const struct ms_pipeline *pl, struct ms_pipeline_stats *st)
{
    collect(pl, NULL, PART_OWN | PART_SHARED, st);
}

void ms_pipeline_own_stats(const struct ms_pipeline *pl, struct ms_pipeline_stats *st)
{
    collect(pl, NULL, PART_OWN, st);
}

void ms_pipeline_shared_stats(const struct ms_pipeline *pl,
                              const struct ms_capture_counters *kernel,
                              struct ms_pipeline_stats *st)
{
    collect(pl, kernel, PART_SHARED, st);
}

static uint64_t merged(enum ms_stat_merge m, uint64_t a, uint64_t b)
{
    if (m == MS_STAT_MAX)
        return a > b ? a : b;
    return a + b;
}

void ms_pipeline_stats_merge(struct ms_pipeline_stats *into, const struct ms_pipeline_stats *from)
{
#define MS_STAT(field, name, merge, when, src) \
    into->field = merged(MS_STAT_##merge, into->field, from->field);
#define MS_STAT_DISSECTORS(field, prefix, merge, src) \
    for (size_t i = 0; i < MS_MAX_DISSECTORS; i++)    \
        into->field[i] = merged(MS_STAT_##merge, into->field[i], from->field[i]);
#include "stats.def"
#undef MS_STAT
#undef MS_STAT_DISSECTORS
}

enum ms_rc ms_pipeline_emit_stats(struct ms_pipeline *pl, const struct ms_capture_counters *kernel,
                                  uint64_t ts_us)
{
    struct ms_pipeline_stats st;
    collect(pl, kernel, PART_OWN | PART_SHARED, &st);
    return ms_pipeline_emit_these_stats(pl, &st, kernel != NULL, pl->app.evidence != NULL, ts_us);
}

enum ms_rc ms_pipeline_emit_these_stats(struct ms_pipeline *pl, const struct ms_pipeline_stats *st,
                                        bool live, bool evidence, uint64_t ts_us)
{
    struct ms_stat v[sizeof(ms_stat_defs) / sizeof(ms_stat_defs[0]) + MS_MAX_DISSECTORS];
    char names[MS_MAX_DISSECTORS][48];
    size_t n = 0;
    for (size_t i = 0; i < ms_stat_ndefs; i++) {
        const struct ms_stat_def *d = &ms_stat_defs[i];
        const uint64_t *val = (const uint64_t *)(const void *)((const char *)st + d->offset);
        if ((d->when == MS_STAT_LIVE && !live) ||
            (d->when == MS_STAT_DEDUP && !ms_output_dedup(pl->app.out)) ||
            (d->when == MS_STAT_EVIDENCE && !evidence))
            continue;
        if (d->when >= MS_STAT_SINK_FILE &&
            !ms_sinks_kind_used(ms_output_sinks(pl->app.out),
                                (enum ms_sink_kind)(d->when - MS_STAT_SINK_FILE)))
            continue;
        if (!d->per_dissector) {
            v[n].name = d->name;
            v[n++].value = *val;
            continue;
        }
        for (size_t k = 0; k < MS_MAX_DISSECTORS && ms_dissectors[k]; k++) {
            snprintf(names[k], sizeof(names[k]), "%s.%s", d->name, ms_dissectors[k]->name);
            v[n].name = names[k];
            v[n++].value = val[k];
        }
    }
    return ms_output_stats(pl->app.out, ts_us ? ts_us : pl->now_us, v, n);
}

void ms_pipeline_free(struct ms_pipeline *pl)
{
    if (!pl)
        return;
    ms_flow_table_free(pl->flows);
    ms_classifier_free(pl->app.cls);
    if (!pl->memo_shared)
        ms_tls_memo_free(pl->app.tls_memo); /* after the flows: their ends use it */
    ms_defrag_free(pl->defrag);
    ms_free(pl);
}
