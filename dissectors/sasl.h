/* SASL exchanges shared by POP3 AUTH (RFC 5034), IMAP AUTHENTICATE
 * (RFC 9051 6.2.2) and SMTP AUTH (RFC 4954). The protocol parser hands over
 * the mechanism, the optional initial response and each client response
 * line (still base64); this module decodes what crossed the wire.
 * Decoded now: PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login). */
#ifndef MS_SASL_H
#define MS_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/buf.h"
#include "../common/event.h"
#include "../common/limits.h"

enum ms_sasl_mech { MS_SASL_OTHER = 0, MS_SASL_PLAIN, MS_SASL_LOGIN };

struct ms_sasl {
    enum ms_sasl_mech mech;
    char mech_name[24];       /* upper-case, as the client named it */
    unsigned responses;       /* client responses seen */
    bool cancelled;           /* the client sent "*" */
    bool malformed;           /* a response could not be decoded */
    const char *anomaly;      /* what was wrong, for the caller to report */
    bool have_user, have_pass, truncated;
    struct ms_buf authzid, user, pass;
    struct ms_buf challenge;  /* the server's latest challenge, decoded */
};

void ms_sasl_init(struct ms_sasl *s, const struct ms_limits *lim);
/* A new exchange: mechanism name and, when the command carried one, the
 * initial response (SASL-IR; "=" stands for an empty one). */
void ms_sasl_start(struct ms_sasl *s, const uint8_t *mech, size_t mlen, const uint8_t *ir,
                   size_t irlen, bool has_ir);
/* One server challenge (the text after "+ " or "334 "), still base64. */
void ms_sasl_challenge(struct ms_sasl *s, const uint8_t *b64, size_t len);
/* One client response line, without its terminator. */
void ms_sasl_response(struct ms_sasl *s, const uint8_t *line, size_t len);
/* True when the exchange revealed a user name or a secret; fills the
 * mechanism, username and password fields of *c (valid until the next
 * start or free). Sets c->incomplete when parts were missing or cut. */
bool ms_sasl_credential(const struct ms_sasl *s, struct ms_ev_credential *c);
void ms_sasl_free(struct ms_sasl *s);

#endif
