/* The analysis pipeline: frame -> decode -> flow -> TCP session
 * (reassembly, conversation order) -> app session (nDPI plus dissector
 * probes, dissector) -> output.
 * Single-threaded; everything it owns hangs off struct ms_pipeline. */
#ifndef MS_PIPELINE_H
#define MS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/limits.h"
#include "../output/output.h"

struct ms_pipeline;

struct ms_pipeline_stats {
    uint64_t packets, bytes;
    uint64_t not_tcp, fragments, truncated, malformed, unsupported;
    uint64_t flows, flows_mail, flows_encrypted, flows_ignored;
    uint64_t gaps, gap_bytes, reasm_forced;
    uint64_t write_errors;
    /* capture layer (decode, IP reassembly, checksums) */
    uint64_t wifi_protected, tcp_bad_csum;
    uint64_t frag_reassembled, frag_timeouts, frag_evicted, frag_dropped, frag_overlaps;
    /* streams and flows */
    uint64_t tcp_packets, overlaps, overlap_diff;
    uint64_t keepalives, held, wait_expired, ack_gaps, late_packets, bad_ends;
    uint64_t flows_created, flows_ended, flows_timed_out, flows_evicted, flows_memcap_evicted;
    uint64_t flows_reused, flows_midstream, flows_swapped;
    uint64_t flows_active, flows_peak;
    uint64_t reasm_memuse, reasm_memuse_peak, flow_memuse, flow_memuse_peak;
};

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
void ms_pipeline_frame(struct ms_pipeline *pl, int linktype, uint64_t ts_us,
                       const uint8_t *frame, size_t caplen);
/* Live capture, while no packet comes: the wait window's seconds also run
 * on the wall clock (microseconds since the epoch). */
void ms_pipeline_tick(struct ms_pipeline *pl, uint64_t wall_us);
/* End of input: finishes every flow still open. */
void ms_pipeline_finish(struct ms_pipeline *pl);
void ms_pipeline_get_stats(const struct ms_pipeline *pl, struct ms_pipeline_stats *st);
/* Writes a "stats" event (see README) through the output. kernel: live
 * capture counters, NULL when reading files. ts_us: the event's time, 0 for
 * the time of the last packet. */
enum ms_rc ms_pipeline_emit_stats(struct ms_pipeline *pl, const struct ms_capture_counters *kernel,
                                  uint64_t ts_us);
void ms_pipeline_free(struct ms_pipeline *pl);

#endif
