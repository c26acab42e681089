/* SASL exchanges shared by POP3 AUTH (RFC 5034), IMAP AUTHENTICATE
 * (RFC 9051 6.2.2) and SMTP AUTH (RFC 4954). The protocol parser hands over
 * the mechanism, the optional initial response and each client response
 * line (still base64); this module decodes what crossed the wire.
 * Decoded: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5
 * (RFC 2195), DIGEST-MD5 (RFC 2831), NTLM (MS-NLMP, see ntlm.h), XOAUTH2
 * (Google's SASL XOAUTH2) and OAUTHBEARER (RFC 7628).
 *
 * Challenges and responses may be handed over in any order the transport
 * delivers them: the credential is derived again from what has been seen
 * each time a piece arrives. */
#ifndef MS_SASL_H
#define MS_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/anomaly.h"
#include "../common/buf.h"
#include "../common/event.h"
#include "../common/limits.h"

enum ms_sasl_mech {
    MS_SASL_OTHER = 0,
    MS_SASL_PLAIN,
    MS_SASL_LOGIN,
    MS_SASL_CRAM_MD5,
    MS_SASL_DIGEST_MD5,
    MS_SASL_NTLM,
    MS_SASL_XOAUTH2,
    MS_SASL_OAUTHBEARER,
};

struct ms_sasl {
    enum ms_sasl_mech mech;
    char mech_name[24];      /* upper-case, as the client named it */
    unsigned responses;      /* client responses seen */
    bool cancelled;          /* the client sent "*" */
    bool malformed;          /* a response could not be decoded */
    enum ms_anomaly anomaly; /* what was wrong (valid when malformed), for the caller */
    bool have_user, have_pass, truncated;
    bool nomem; /* a part could not be kept for lack of memory (ms_sasl_nomem) */
    struct ms_buf authzid, user, pass;
    struct ms_buf challenge; /* the server's latest challenge, decoded (CRAM-MD5,
                                 DIGEST-MD5: the first non-empty one, which the
                                 client answered; later ones are rspauth) */
    /* Challenge/response and token mechanisms (filled by the derivation). */
    size_t max_msg;     /* cap of one decoded client message */
    struct ms_buf cmsg; /* the client message the credential comes from */
    bool have_cmsg, cmsg_cut;
    bool have_token, have_response, cut;
    struct ms_buf token;     /* XOAUTH2/OAUTHBEARER bearer token */
    struct ms_buf response;  /* printable response (hex digest, NT response hex...) */
    struct ms_buf chal_text; /* printable challenge (NTLM: server challenge hex) */
    struct ms_buf hashcat;
    int hashcat_mode;
    struct ms_buf domain, workstation;
    bool incomplete_cr;   /* challenge/response pieces missing or bad */
    uint8_t ntlm_chal[8]; /* from the CHALLENGE message (type 2) */
    bool have_ntlm_chal;
    uint32_t ntlm_flags; /* from NEGOTIATE, then CHALLENGE */
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
/* A client response that could not be read (over the line cap): it still
 * takes its place in the exchange (AUTH LOGIN's user name, so the password
 * after it is never taken for one), and the credential is incomplete. */
void ms_sasl_lost_response(struct ms_sasl *s);
/* True when the exchange revealed a user name, a secret or a response;
 * fills the mechanism, username, authzid, password, token, challenge,
 * response, hashcat, hashcat_mode, domain and workstation fields of *c
 * (valid until the next start, challenge, response or free). Sets
 * c->incomplete when parts were missing, bad or cut. */
bool ms_sasl_credential(const struct ms_sasl *s, struct ms_ev_credential *c);
/* True when keeping a part of this exchange failed for lack of memory:
 * its credential would lack that part and must not be reported. */
bool ms_sasl_nomem(const struct ms_sasl *s);
/* A readable sentence for s->anomaly (the stable code), for the anomaly
 * event's detail; "" when there is none. */
const char *ms_sasl_anomaly_detail(const struct ms_sasl *s);
void ms_sasl_free(struct ms_sasl *s);

#endif
