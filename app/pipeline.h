/* The analysis pipeline: frame -> decode -> flow -> TCP reassembly ->
 * classification (nDPI plus dissector probes) -> dissector -> output.
 * Single-threaded; everything it owns hangs off struct ms_pipeline. */
#ifndef MS_PIPELINE_H
#define MS_PIPELINE_H

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
};

/* out stays the caller's. NULL when out of memory or nDPI failed. */
struct ms_pipeline *ms_pipeline_new(const struct ms_limits *lim, struct ms_output *out);
/* Name reported as pcap_filename for the frames that follow (NULL: live). */
void ms_pipeline_set_source_name(struct ms_pipeline *pl, const char *name);
void ms_pipeline_frame(struct ms_pipeline *pl, int linktype, uint64_t ts_us,
                       const uint8_t *frame, size_t caplen);
/* End of input: finishes every flow still open. */
void ms_pipeline_finish(struct ms_pipeline *pl);
void ms_pipeline_get_stats(const struct ms_pipeline *pl, struct ms_pipeline_stats *st);
void ms_pipeline_free(struct ms_pipeline *pl);

#endif
