/* Alert identity for a credential: a stable signature id and text per
 * protocol and mechanism, and a severity (1 = most severe, as in Suricata). */
#ifndef MS_SIGNATURE_H
#define MS_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>
#include "../common/event.h"

struct ms_signature {
    uint32_t sid;
    int severity;
    char text[128];
};

void ms_signature_for(const char *app_proto, const struct ms_ev_credential *c,
                      struct ms_signature *out);

/* How people name the login: "USER/PASS", "APOP", "LOGIN", or the command
 * and SASL mechanism, "AUTH PLAIN", "AUTHENTICATE CRAM-MD5". */
void ms_mechanism_label(const struct ms_ev_credential *c, char *out, size_t outlen);

#endif
