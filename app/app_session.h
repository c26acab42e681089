/* The app-layer side of one TCP flow: classification (nDPI plus the
 * dissectors' probes on a capped log of the first bytes), the replay of that
 * log into the chosen dissector, the direction swap of a mid-connection
 * start, the dissector's lifecycle, and the flow's events. Bytes come in
 * through ms_app_stream_ops in conversation order (capture/tcp_session.h),
 * each chunk with the packet it came in; an event carries the time and
 * number of the packet whose bytes completed it. */
#ifndef MS_APP_SESSION_H
#define MS_APP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../capture/classify.h"
#include "../capture/decode.h"
#include "../capture/flow.h"
#include "../capture/tcp_session.h"
#include "../common/limits.h"
#include "../common/rc.h"
#include "../output/evidence.h"
#include "../output/output.h"
#include "tls_memo.h"

struct ms_app_stats {
    uint64_t flows, flows_mail, flows_encrypted, flows_ignored;
    uint64_t gaps, gap_bytes;
    uint64_t write_errors;
    uint64_t dissector_stopped;                /* flows whose dissector's feed failed */
    uint64_t per_dissector[MS_MAX_DISSECTORS]; /* as in ms_dissectors[] */
};

struct ms_app_session;

/* The packet being processed, kept from nDPI (app_session.c,
 * probe_first) until its packet_done: one at a time per pipeline, so
 * held here rather than in every flow. */
struct ms_app_held {
    const struct ms_app_session *a; /* NULL: none */
    const uint8_t *l3;
    size_t l3_len;
};

struct ms_tls_server;

/* What every session of a pipeline shares; the pipeline owns it. */
struct ms_app_ctx {
    const struct ms_limits *lim;
    struct ms_output *out;
    struct ms_classifier *cls;            /* nDPI, built at its first use; NULL before */
    bool cls_failed;                      /* its last build ran out of memory, ... */
    uint64_t cls_failed_us;               /* ... at this capture time */
    struct ms_flow_table *flows;          /* for a direction swap */
    const struct ms_reasm_budget *budget; /* for the windows' memory */
    const char *source_name;              /* pcap_filename, NULL live */
    bool offline;                         /* reading files: events carry pcap_cnt */
    struct ms_msg_tap tap;                /* --extract; msg_begin NULL: none */
    struct ms_evidence *evidence;         /* --evidence; NULL: off */
    struct ms_tls_memo *tls_memo;         /* servers that offered STARTTLS (stripping) */
    /* --threads: called before each use of a shared tls_memo for server
     * srv (NULL: one thread), and as a session of flow f starts (+1),
     * after it ended (-1), and round a swap of its server (-1, +1):
     * app/engine.c */
    void (*memo_order)(void *user, const struct ms_tls_server *srv);
    void (*memo_live)(void *user, const struct ms_flow *f, int delta);
    void *memo_order_user;
    struct ms_app_stats st;
    size_t flow_mem, flow_mem_peak; /* per-flow state, against lim->flow_memcap */
    struct ms_app_held held;
};

struct ms_app_session;

extern const struct ms_stream_ops ms_app_stream_ops;
/* The tag (ms_seg_meta.tag) of a packet read from no named file (standard
 * input, live): its events name no file, whatever file is read later. */
extern const char ms_app_no_file[1];

/* c's nDPI module, built now if it is not yet (c->cls); NULL when out of
 * memory, and then, without trying, until MS_CLASSIFIER_RETRY_US of
 * capture time have passed (now_us: the packet's time). */
struct ms_classifier *ms_app_classifier(struct ms_app_ctx *c, uint64_t now_us);
/* Attaches a new session to f (f->app, f->tcp.user); *out NULL on error. */
enum ms_rc ms_app_session_new(struct ms_app_ctx *c, struct ms_flow *f, struct ms_app_session **out);
/* Before reassembly: a packet of the flow while it is being classified. */
void ms_app_session_classify(struct ms_app_session *a, const struct ms_pkt *p,
                             const struct ms_seg_meta *m);
/* Not mail, or encrypted: the flow needs no reassembly. */
bool ms_app_session_ignored(const struct ms_app_session *a);
/* After reassembly of a packet: a verdict when classification is over,
 * and the flow's memory charge. */
void ms_app_session_packet_done(struct ms_app_session *a);
/* The flow's last packet (time, number, file). */
const struct ms_seg_meta *ms_app_session_last(const struct ms_app_session *a);
/* A packet of the flow carried n TCP payload bytes in direction dir
 * (the session event's bytes). */
void ms_app_session_count(struct ms_app_session *a, unsigned dir, size_t n);
/* A reassembly cap forced a gap on this flow (said once, as a mail flow). */
void ms_app_session_cap_hit(struct ms_app_session *a);
/* Something the flow needed could not be allocated outside the session
 * (what: for the detail): the flow is dropped with an out_of_memory
 * anomaly, and ignored from then on. */
void ms_app_session_nomem(struct ms_app_session *a, const char *what);
/* The flow ends (f->end_reason set): what waits is delivered, the
 * dissector finishes, a mail session (or an implicit-TLS one) gets its
 * session event, preceded by a STARTTLS stripping alert when its server
 * offered STARTTLS before and not now, and everything is freed. */
void ms_app_session_end(struct ms_app_session *a, struct ms_tcp_ctx *tcp);

#endif
