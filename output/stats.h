/* Rendering of the stats event (counters of a run) in JSON; the text view
 * closes with a table instead (output/text_summary.h). */
#ifndef MS_STATS_H
#define MS_STATS_H

#include <json-c/json.h>
#include <stdio.h>
#include "output.h"

/* {"timestamp", "event_type": "stats", "host" (when given), "stats":
 * {nested by dotted names}}; NULL on ENOMEM. The caller owns the object. */
struct json_object *ms_json_stats(uint64_t ts_us, const char *host, const struct ms_stat *v,
                                  size_t n);

#endif
