/* Alert identity for a credential: a stable signature id and text per
 * protocol and mechanism, and a severity (1 = most severe, as in Suricata). */
#ifndef MS_SIGNATURE_H
#define MS_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>
#include "../common/event.h"

/* Signature ids fill one block of MS_SID_BLOCK ids from a base: base +
 * 100 x protocol (1 POP3, 2 IMAP, 3 SMTP, 9 other) + mechanism slot (1-10,
 * 99 other), so the block is base .. base + 999. The default lies in the
 * range Snort and Suricata leave to local rules (1000000-1999999); a site
 * whose own rules use it moves mailspill's with --sid-base. */
#define MS_SID_BASE_DEFAULT 1610000u
#define MS_SID_BLOCK 1000u
#define MS_SID_BASE_MAX (UINT32_MAX - MS_SID_BLOCK + 1u)

struct ms_signature {
    uint32_t sid;
    int severity;
    char text[128];
};

/* sid_base: the block's first id (0: MS_SID_BASE_DEFAULT). */
void ms_signature_for(uint32_t sid_base, const char *app_proto, const struct ms_ev_credential *c,
                      struct ms_signature *out);

/* The slot of a STARTTLS stripping alert in a protocol's hundred: apart
 * from the login slots (1-10, 99). */
#define MS_SID_SLOT_STRIPPING 50u

/* A STARTTLS stripping alert (common/event.h, ms_ev_stripped) of app_proto:
 * severity 1, since a man in the middle is at work on the path. */
void ms_signature_stripping(uint32_t sid_base, const char *app_proto, struct ms_signature *out);

/* Every signature mailspill raises (each login of each protocol, then its
 * STARTTLS stripping alert), in protocol then slot order, written to out (at most max); returns how
 * many there are. Severity is that of an accepted login. */
size_t ms_signature_table(uint32_t sid_base, struct ms_signature *out, size_t max);

/* How people name the login: "USER/PASS", "APOP", "LOGIN", or the command
 * and SASL mechanism, "AUTH PLAIN", "AUTHENTICATE CRAM-MD5". */
void ms_mechanism_label(const struct ms_ev_credential *c, char *out, size_t outlen);

#endif
