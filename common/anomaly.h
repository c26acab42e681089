/* The anomaly registry: every code mailspill can emit, with its type and a
 * one-line description, generated from common/anomalies.def (the one list;
 * README.md's table and tests/registry check against it). Code that emits
 * an anomaly names it by enum value, so a code cannot be misspelt and
 * cannot exist without its description. */
#ifndef MS_ANOMALY_H
#define MS_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include "event.h"

/* anomaly.type in the output. */
enum ms_anomaly_type {
    MS_ANOMALY_APPLAYER = 0, /* a protocol parser */
    MS_ANOMALY_STREAM,       /* TCP reassembly, flows */
    MS_ANOMALY_DECODE,       /* the IP layer: belongs to no flow */
    MS_ANOMALY_EXTRACT,      /* writing --extract files */
};

enum ms_anomaly {
#define MS_ANOMALY(id, code, type, desc) MS_ANOM_##id,
#include "anomalies.def"
#undef MS_ANOMALY
    MS_ANOM_COUNT
};

/* Stable snake_case code (anomaly.event); "unknown" out of range. */
const char *ms_anomaly_code(enum ms_anomaly a);
const char *ms_anomaly_description(enum ms_anomaly a);
enum ms_anomaly_type ms_anomaly_type_of(enum ms_anomaly a);
/* "applayer", "stream", "decode", "extract". */
const char *ms_anomaly_type_name(enum ms_anomaly_type t);
/* The entry of a code string (dissectors still pass strings); false when
 * the code is not in the registry. */
bool ms_anomaly_lookup(const char *code, enum ms_anomaly *out);
/* Fills an anomaly event: kind, type and code from the registry, the
 * detail (NULL: the registry's description). app_proto is left to the
 * caller. detail must outlive the event's emit. */
void ms_anomaly_event(struct ms_event *ev, enum ms_anomaly a, const char *detail);

#endif
