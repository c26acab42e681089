/* The protocol registry, generated from common/protocols.def: app_proto
 * names, signature slots and labels come from there only. */
#ifndef MS_PROTO_H
#define MS_PROTO_H

#include <stdbool.h>

enum ms_proto {
#define MS_PROTO(id, name, slot, label) MS_PROTO_##id,
#include "protocols.def"
#undef MS_PROTO
    MS_PROTO_COUNT
};

/* Signature slot of a protocol not in the registry. */
#define MS_PROTO_SLOT_OTHER 9u

/* "pop3"; NULL out of range. */
const char *ms_proto_name(enum ms_proto p);
/* "POP3"; NULL out of range. */
const char *ms_proto_label(enum ms_proto p);
unsigned ms_proto_sid_slot(enum ms_proto p);
/* By app_proto name; false when unknown. */
bool ms_proto_by_name(const char *name, enum ms_proto *out);

#endif
