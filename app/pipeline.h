/* The analysis pipeline: frame -> decode -> flow -> TCP session
 * (reassembly, conversation order) -> app session (nDPI plus dissector
 * probes, dissector) -> output.
 * One thread; everything it owns hangs off struct ms_pipeline (--threads
 * runs several: app/engine.h). */
#ifndef MS_PIPELINE_H
#define MS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/limits.h"
#include "../output/output.h"

struct ms_pipeline;
struct ms_evidence;

/* How a counter combines across workers (app/stats.def). */
enum ms_stat_merge {
    MS_STAT_SUM = 0, /* counters */
    MS_STAT_MAX,     /* gauges: peaks, memory in use now */
};

/* When a counter is part of the stats event. */
enum ms_stat_when {
    MS_STAT_ALWAYS = 0,
    MS_STAT_LIVE,     /* live capture only */
    MS_STAT_DEDUP,    /* with --dedup only */
    MS_STAT_EVIDENCE, /* with --evidence only */
    /* Only when an -o of that kind is in use; in enum ms_sink_kind's
     * order (output/sink.h). */
    MS_STAT_SINK_FILE,
    MS_STAT_SINK_UNIX,
    MS_STAT_SINK_UNIXGRAM,
    MS_STAT_SINK_SYSLOG,
    MS_STAT_SINK_REDIS,
};

/* Every counter of app/stats.def, by its field name. */
struct ms_pipeline_stats {
#define MS_STAT(field, name, merge, when, src) uint64_t field;
#define MS_STAT_DISSECTORS(field, prefix, merge, src) uint64_t field[MS_MAX_DISSECTORS];
#include "stats.def"
#undef MS_STAT
#undef MS_STAT_DISSECTORS
};

/* One entry of app/stats.def; per_dissector: the entry stands for one
 * counter per dissector, named <name>.<dissector name>. */
struct ms_stat_def {
    const char *name;
    enum ms_stat_merge merge;
    enum ms_stat_when when;
    size_t offset; /* of the field in struct ms_pipeline_stats */
    bool per_dissector;
};

/* The registry, in output order. */
extern const struct ms_stat_def ms_stat_defs[];
extern const size_t ms_stat_ndefs;

/* into = into merged with from, counter by counter, each by its rule
 * (another worker's counters into the total). */
void ms_pipeline_stats_merge(struct ms_pipeline_stats *into, const struct ms_pipeline_stats *from);

/* Kernel counters of a live capture (pcap_stats), for the stats event. */
struct ms_capture_counters {
    uint64_t received, dropped, ifdropped;
};

/* out stays the caller's. NULL when out of memory or nDPI failed. */
struct ms_pipeline *ms_pipeline_new(const struct ms_limits *lim, struct ms_output *out);
/* Name reported as pcap_filename for the frames that follow (NULL: live). */
void ms_pipeline_set_source_name(struct ms_pipeline *pl, const char *name);
/* Reading files: events carry pcap_cnt, the number of the packet that
 * completed them (1-based, counted across every file of the run). */
void ms_pipeline_set_offline(struct ms_pipeline *pl, bool offline);
/* Message tap for every flow dissected from now on (--extract); copied.
 * Whatever tap->user points to must outlive the pipeline's flows. */
void ms_pipeline_set_tap(struct ms_pipeline *pl, const struct ms_msg_tap *tap);
/* --evidence: the frames of each flow that raises an alert go to ev
 * (output/evidence.h), which must outlive the pipeline's flows. */
void ms_pipeline_set_evidence(struct ms_pipeline *pl, struct ms_evidence *ev);
bool ms_pipeline_has_evidence(const struct ms_pipeline *pl);
void ms_pipeline_frame(struct ms_pipeline *pl, int linktype, uint64_t ts_us, const uint8_t *frame,
                       size_t caplen);
/* Live capture, while no packet comes: the wait window's seconds also run
 * on the wall clock (microseconds since the epoch). */
void ms_pipeline_tick(struct ms_pipeline *pl, uint64_t wall_us);
/* End of input: finishes every flow still open. */
void ms_pipeline_finish(struct ms_pipeline *pl);
/* nDPI's module is built at the first packet that needs it (by whichever
 * thread runs the pipeline); build now says so ahead (live capture: no
 * 20 ms pause at a first packet), false when out of memory. free: once
 * no flow holds nDPI state (after ms_pipeline_finish), built again if
 * needed after all. */
bool ms_pipeline_build_classifier(struct ms_pipeline *pl);
void ms_pipeline_free_classifier(struct ms_pipeline *pl);
void ms_pipeline_get_stats(const struct ms_pipeline *pl, struct ms_pipeline_stats *st);
/* Writes a "stats" event (see README) through the output. kernel: live
 * capture counters, NULL when reading files. ts_us: the event's time, 0 for
 * the time of the last packet. */
enum ms_rc ms_pipeline_emit_stats(struct ms_pipeline *pl, const struct ms_capture_counters *kernel,
                                  uint64_t ts_us);
void ms_pipeline_free(struct ms_pipeline *pl);

/* 802.11 decryption (capture/wpa.h; the caller's, outliving pl): given
 * only when secrets were (--wpa-passphrase ...). Set on the pipeline that
 * reads frames: the single one, or --threads' reader. */
struct ms_wpa;
void ms_pipeline_set_wpa(struct ms_pipeline *pl, struct ms_wpa *wpa);

/* --threads (app/engine.c): one reader pipeline decodes every frame and
 * reassembles IP; each TCP packet then goes to a worker pipeline, which
 * owns the packet's flow. */
struct ms_pkt;
struct ms_link_addrs;
struct ms_tls_memo;
struct ms_dispatch {
    /* bytes: the frame as captured, or (datagram) the IP datagram that IP
     * reassembly made of fragments or an 802.11 MSDU (decrypted or from an
     * A-MSDU) held; p: the packet decoded from them, valid during the call
     * (p->mac: its 802.11 addresses, which a datagram's bytes do not
     * hold); pkt_no: the frame's number in the run. */
    void (*packet)(void *user, const struct ms_pkt *p, uint64_t pkt_no, int linktype,
                   const uint8_t *bytes, size_t len, bool datagram);
    void *user;
};
/* The reader's side: a pipeline whose TCP packets go to d (it has no
 * flows of its own). */
struct ms_pipeline *ms_pipeline_new_reader(const struct ms_limits *lim, struct ms_output *out,
                                           const struct ms_dispatch *d);
/* A worker's side: a packet the reader dispatched (bytes copied by the
 * caller; mac: a datagram's 802.11 addresses, NULL: none or in the frame),
 * and the reader's time when no packet came (flows time out). */
void ms_pipeline_worker_packet(struct ms_pipeline *pl, int linktype, uint64_t ts_us,
                               uint64_t pkt_no, const uint8_t *bytes, size_t len, bool datagram,
                               const struct ms_link_addrs *mac);
/* As ms_pipeline_worker_packet for a frame (not a datagram) the caller
 * decoded with ms_decode_frame_no_csum, in this thread (--threads'
 * reader's own worker): p is used as it is, not decoded again. */
void ms_pipeline_worker_decoded(struct ms_pipeline *pl, int linktype, uint64_t pkt_no,
                                const struct ms_pkt *p, const uint8_t *frame, size_t len);
void ms_pipeline_worker_clock(struct ms_pipeline *pl, uint64_t ts_us, uint64_t pkt_no);
/* The capture time the worker's clock is at. */
uint64_t ms_pipeline_worker_now(const struct ms_pipeline *pl);
/* A capture time before which ms_pipeline_worker_clock ends nothing, now
 * and after any packets to come, as long as their times do not go back
 * (the reader tells a worker the time only from then on). */
uint64_t ms_pipeline_worker_due(const struct ms_pipeline *pl);
/* Workers share one STARTTLS memo (the caller's, thread-safe), ask
 * order(user, srv) before each use of it for server srv, so that a
 * session's check sees the offers of every packet before its own, as one
 * thread would, and tell live(user, f, +1 / -1) as a session of flow f
 * starts, after it ended, and round a swap of its server (the order needs
 * to know who may use it for which server). */
struct ms_tls_server;
struct ms_flow;
void ms_pipeline_share_memo(struct ms_pipeline *pl, struct ms_tls_memo *memo,
                            void (*order)(void *user, const struct ms_tls_server *srv),
                            void (*live)(void *user, const struct ms_flow *f, int delta),
                            void *user);
/* Counters: the pipeline's own (each worker's), and those of what the
 * workers share (output, sinks, STARTTLS memo, kernel: counted once). */
void ms_pipeline_own_stats(const struct ms_pipeline *pl, struct ms_pipeline_stats *st);
void ms_pipeline_shared_stats(const struct ms_pipeline *pl,
                              const struct ms_capture_counters *kernel,
                              struct ms_pipeline_stats *st);
/* A stats event of st (live: with the kernel's counters; evidence: with
 * --evidence's). ts_us 0: the time of pl's last packet. */
enum ms_rc ms_pipeline_emit_these_stats(struct ms_pipeline *pl, const struct ms_pipeline_stats *st,
                                        bool live, bool evidence, uint64_t ts_us);

#endif
