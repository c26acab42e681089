/* Events every dissector reports the same way: an anomaly (stable
 * snake_case code plus a readable detail) and the fields a credential's
 * outcome shares, whatever the protocol: the reply that judged it, the
 * cleartext transport, and what the server had said about STARTTLS. Byte
 * fields of the event stay valid only during the sink's emit. */
#ifndef MS_EMIT_H
#define MS_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/anomaly.h"
#include "../common/buf.h"
#include "../common/event.h"
#include "sasl.h"

void ms_emit_anomaly(const struct ms_sink *sink, const char *proto, enum ms_anomaly a,
                     const char *detail);

/* Emits the anomaly unless *said is set, then sets it: for a condition
 * worth one report per connection rather than one per occurrence. */
void ms_emit_anomaly_once(const struct ms_sink *sink, const char *proto, bool *said,
                          enum ms_anomaly a, const char *detail);

/* Fills the outcome, the server's reply (reply NULL: none was seen),
 * tls = false and starttls_offered into ev's credential, then emits ev. */
void ms_emit_credential(const struct ms_sink *sink, struct ms_event *ev, enum ms_outcome outcome,
                        const uint8_t *reply, size_t rlen, enum ms_tristate starttls);

/* The end of a SASL exchange: emits the decoder's anomaly, if any, with the
 * given detail, then fills *ev with the credential the exchange revealed,
 * under command ("AUTH", "AUTHENTICATE"). False: nothing to report. The
 * caller finishes with ms_emit_credential. */
bool ms_emit_sasl_begin(const struct ms_sink *sink, const char *proto, const char *command,
                        const struct ms_sasl *sasl, const char *detail, struct ms_event *ev);

/* How a gap cut a login short (README, Streams: what a gap means). */
enum ms_emit_cut {
    MS_CUT_NONE = 0,
    MS_CUT_INCOMPLETE, /* incomplete: a piece or the reply may be lost */
    MS_CUT_NO_HASHCAT, /* the server's side of a challenge/response exchange had a hole:
                         * incomplete, and no hashcat line, since the challenge the
                         * response answers may be the one lost */
};

/* Marks a credential about to be emitted as cut (MS_CUT_NONE: unchanged). */
void ms_emit_cut(struct ms_ev_credential *c, enum ms_emit_cut cut);

/* An exchange a gap cut while it went on (*pending, set at the hole) ends:
 * its outcome is unknown (the reply may be the one the hole took), the
 * larger of the two cuts applies to *cut, and *pending is cleared. */
void ms_emit_settle_cut(enum ms_emit_cut *pending, enum ms_outcome *outcome, const uint8_t **reply,
                        size_t *rlen, enum ms_emit_cut *cut);

/* A buffer's bytes as an event field; an empty buffer gives "" (present,
 * zero length), not null. */
struct ms_bytes ms_emit_buf(const struct ms_buf *b);

#endif
