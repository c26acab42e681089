/* NTLM messages as they cross SASL NTLM (POP3 AUTH, IMAP AUTHENTICATE,
 * SMTP AUTH): bounds-checked parsing of the NEGOTIATE, CHALLENGE and
 * AUTHENTICATE messages of MS-NLMP section 2.2.1, and the NetNTLM lines
 * hashcat takes (modes 5500 and 5600). Nothing here reads past the message
 * it is given; a field whose security buffer points outside the message is
 * reported as bad and left out. */
#ifndef MS_NTLM_H
#define MS_NTLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/buf.h"
#include "../common/event.h"
#include "../common/rc.h"

#define MS_NTLM_NEGOTIATE 1u
#define MS_NTLM_CHALLENGE 2u
#define MS_NTLM_AUTHENTICATE 3u

#define MS_NTLM_FLAG_UNICODE 0x00000001u /* NTLMSSP_NEGOTIATE_UNICODE */
#define MS_NTLM_FLAG_OEM 0x00000002u     /* NTLM_NEGOTIATE_OEM */

/* The message type after the "NTLMSSP\0" signature; MS_ERR_PROTO when the
 * signature or the type field is missing. */
enum ms_rc ms_ntlm_type(const uint8_t *m, size_t n, uint32_t *type);

/* CHALLENGE_MESSAGE (type 2): the server's 8-byte challenge and flags. */
enum ms_rc ms_ntlm_parse_challenge(const uint8_t *m, size_t n, uint8_t challenge[8],
                                   uint32_t *flags);

/* AUTHENTICATE_MESSAGE (type 3). Spans point into m. */
struct ms_ntlm_auth {
    uint32_t flags; /* 0 when the (optional) flags field is absent */
    bool have_flags;
    struct ms_bytes lm, nt, domain, user, workstation; /* p NULL: bad buffer */
    bool bad_offset;                                   /* some buffer pointed past the end of m */
};
/* MS_ERR_PROTO when m is not an AUTHENTICATE message at all; MS_OK
 * otherwise, with bad_offset set when some field could not be taken. */
enum ms_rc ms_ntlm_parse_authenticate(const uint8_t *m, size_t n, struct ms_ntlm_auth *a);

/* Appends a name field as UTF-8: UTF-16LE when unicode (unpaired
 * surrogates and a dangling odd byte become U+FFFD), else the OEM bytes as
 * they are. Returns false when out's cap cut it. */
bool ms_ntlm_text(struct ms_buf *out, struct ms_bytes field, bool unicode);

/* Appends lower-case hex of n bytes; false when out's cap cut it. */
bool ms_ntlm_hex(struct ms_buf *out, const uint8_t *p, size_t n);

/* The hashcat line for a NetNTLM response, given the user and domain as
 * UTF-8 text. NetNTLMv1 (24-byte NT response), mode 5500:
 *   user::domain:lm_hex:nt_hex:server_challenge_hex
 * NetNTLMv2 (longer NT response), mode 5600:
 *   user::domain:server_challenge_hex:ntproofstr_hex:blob_hex
 * Returns the mode, or 0 (nothing written) when the NT response is neither
 * (anonymous, or too short to hold an NTProofStr and a blob). */
int ms_ntlm_hashcat(struct ms_buf *out, struct ms_bytes user, struct ms_bytes domain,
                    const uint8_t challenge[8], struct ms_bytes lm, struct ms_bytes nt, bool *cut);

#endif
