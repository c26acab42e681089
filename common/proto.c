/* The protocol registry's table, generated from protocols.def. */
#include "proto.h"

#include <stddef.h>
#include <string.h>

static const struct {
    const char *name, *label;
    unsigned slot;
} protos[MS_PROTO_COUNT] = {
#define MS_PROTO(id, name_, slot_, label_) [MS_PROTO_##id] = { name_, label_, slot_ },
#include "protocols.def"
#undef MS_PROTO
};

const char *ms_proto_name(enum ms_proto p)
{
    return (unsigned)p < MS_PROTO_COUNT ? protos[p].name : NULL;
}

const char *ms_proto_label(enum ms_proto p)
{
    return (unsigned)p < MS_PROTO_COUNT ? protos[p].label : NULL;
}

unsigned ms_proto_sid_slot(enum ms_proto p)
{
    return (unsigned)p < MS_PROTO_COUNT ? protos[p].slot : MS_PROTO_SLOT_OTHER;
}

bool ms_proto_by_name(const char *name, enum ms_proto *out)
{
    for (size_t i = 0; name && i < MS_PROTO_COUNT; i++) {
        if (strcmp(protos[i].name, name) == 0) {
            *out = (enum ms_proto)i;
            return true;
        }
    }
    return false;
}
