/* The anomaly registry's tables, generated from anomalies.def. */
#include "anomaly.h"

#include <string.h>

static const struct {
    const char *code;
    const char *desc;
    enum ms_anomaly_type type;
} entries[MS_ANOM_COUNT] = {
#define MS_ANOMALY(id, code_, type_, desc_) [MS_ANOM_##id] = { code_, desc_, MS_ANOMALY_##type_ },
#include "anomalies.def"
#undef MS_ANOMALY
};

const char *ms_anomaly_code(enum ms_anomaly a)
{
    return (unsigned)a < MS_ANOM_COUNT ? entries[a].code : "unknown";
}

const char *ms_anomaly_description(enum ms_anomaly a)
{
    return (unsigned)a < MS_ANOM_COUNT ? entries[a].desc : "";
}

enum ms_anomaly_type ms_anomaly_type_of(enum ms_anomaly a)
{
    return (unsigned)a < MS_ANOM_COUNT ? entries[a].type : MS_ANOMALY_APPLAYER;
}

const char *ms_anomaly_type_name(enum ms_anomaly_type t)
{
    switch (t) {
    case MS_ANOMALY_STREAM:
        return "stream";
    case MS_ANOMALY_DECODE:
        return "decode";
    case MS_ANOMALY_EXTRACT:
        return "extract";
    case MS_ANOMALY_APPLAYER:
        break;
    }
    return "applayer";
}

bool ms_anomaly_lookup(const char *code, enum ms_anomaly *out)
{
    for (size_t i = 0; i < MS_ANOM_COUNT; i++) {
        if (strcmp(entries[i].code, code) == 0) {
            *out = (enum ms_anomaly)i;
            return true;
        }
    }
    return false;
}

void ms_anomaly_event(struct ms_event *ev, enum ms_anomaly a, const char *detail)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = MS_EV_ANOMALY;
    ev->u.anomaly.type = ms_anomaly_type_name(ms_anomaly_type_of(a));
    ev->u.anomaly.code = ms_anomaly_code(a);
    if (!detail)
        detail = ms_anomaly_description(a);
    ev->u.anomaly.detail = ms_bytes_of(detail, strlen(detail));
}
