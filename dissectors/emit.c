/* Event emission shared by the POP3, IMAP and SMTP dissectors (emit.h). */
#include <string.h>

#include "emit.h"

void ms_emit_anomaly(const struct ms_sink *sink, const char *proto, enum ms_anomaly a,
                     const char *detail)
{
    struct ms_event ev;
    ms_anomaly_event(&ev, a, detail);
    ev.app_proto = proto;
    sink->emit(sink->user, &ev);
}

void ms_emit_anomaly_once(const struct ms_sink *sink, const char *proto, bool *said,
                          enum ms_anomaly a, const char *detail)
{
    if (*said)
        return;
    *said = true;
    ms_emit_anomaly(sink, proto, a, detail);
}

void ms_emit_credential(const struct ms_sink *sink, struct ms_event *ev, enum ms_outcome outcome,
                        const uint8_t *reply, size_t rlen, enum ms_tristate starttls)
{
    struct ms_ev_credential *c = &ev->u.cred;
    c->outcome = outcome;
    c->server_reply = reply ? ms_bytes_of(reply, rlen) : MS_BYTES_NONE;
    /* Dissectors stop reading once TLS starts: what they report was clear. */
    c->tls = false;
    c->starttls_offered = starttls;
    sink->emit(sink->user, ev);
}

bool ms_emit_sasl_begin(const struct ms_sink *sink, const char *proto, const char *command,
                        const struct ms_sasl *sasl, const char *detail, struct ms_event *ev)
{
    /* The anomaly goes first, even when no credential follows: a broken
     * exchange is worth reporting on its own. */
    if (sasl->malformed)
        ms_emit_anomaly(sink, proto, sasl->anomaly, detail);
    *ev = (struct ms_event){ .kind = MS_EV_CREDENTIAL, .app_proto = proto };
    if (!ms_sasl_credential(sasl, &ev->u.cred))
        return false;
    ev->u.cred.command = command;
    return true;
}

void ms_emit_cut(struct ms_ev_credential *c, enum ms_emit_cut cut)
{
    if (cut == MS_CUT_NONE)
        return;
    c->incomplete = true;
    if (cut == MS_CUT_NO_HASHCAT) {
        c->hashcat = MS_BYTES_NONE;
        c->hashcat_mode = 0;
    }
}

struct ms_bytes ms_emit_buf(const struct ms_buf *b)
{
    return ms_bytes_of(b->p ? b->p : (const uint8_t *)"", b->len);
}

void ms_emit_settle_cut(enum ms_emit_cut *pending, enum ms_outcome *outcome, const uint8_t **reply,
                        size_t *rlen, enum ms_emit_cut *cut)
{
    if (*pending == MS_CUT_NONE)
        return;
    *outcome = MS_OUTCOME_UNKNOWN;
    *reply = NULL;
    *rlen = 0;
    if (*cut < *pending)
        *cut = *pending;
    *pending = MS_CUT_NONE;
}
