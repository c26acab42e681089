/* NTLM message parsing, MS-NLMP section 2.2.1 (message syntax) and 2.2.2.10
 * (VERSION), with the NetNTLM response formats of section 3.3.1 (v1) and
 * 3.3.2 (v2).
 *
 * Every message starts with the 8-byte signature "NTLMSSP\0" and a
 * little-endian 32-bit MessageType. Variable fields are "security buffers"
 * (section 2.2.1.1 and following):
 *
 *   Len (2 bytes LE) | MaxLen (2 bytes LE) | BufferOffset (4 bytes LE)
 *
 * where the offset counts from the start of the message. Offsets come from
 * the wire, so each buffer is checked against the message length before it
 * is used; a buffer that does not fit is reported, never read. */
#include "ntlm.h"

#include <string.h>

#include "../common/bytes.h"

static const uint8_t sig[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0 };

enum ms_rc ms_ntlm_type(const uint8_t *m, size_t n, uint32_t *type)
{
    if (n < 12 || memcmp(m, sig, sizeof(sig)) != 0)
        return MS_ERR_PROTO;
    *type = ms_le32(m + 8);
    return MS_OK;
}

/* CHALLENGE_MESSAGE (2.2.1.2):
 *   0 Signature(8) | 8 MessageType(4) | 12 TargetNameFields(8) |
 *  20 NegotiateFlags(4) | 24 ServerChallenge(8) | 32 Reserved(8) |
 *  40 TargetInfoFields(8) | 48 Version(8) | payload
 * Only the fixed part up to the challenge is needed. */
enum ms_rc ms_ntlm_parse_challenge(const uint8_t *m, size_t n, uint8_t challenge[8],
                                   uint32_t *flags)
{
    uint32_t type = 0;
    if (ms_ntlm_type(m, n, &type) != MS_OK || type != MS_NTLM_CHALLENGE || n < 32)
        return MS_ERR_PROTO;
    *flags = ms_le32(m + 20);
    memcpy(challenge, m + 24, 8);
    return MS_OK;
}

/* One security buffer at fixed offset `at` of the message: the span, or
 * {NULL, 0} with *bad set when it points outside the message. */
static struct ms_bytes secbuf(const uint8_t *m, size_t n, size_t at, bool *bad)
{
    size_t len = ms_le16(m + at);
    size_t off = ms_le32(m + at + 4);
    if (len == 0)
        return ms_bytes_of(m, 0); /* empty is fine wherever it "points" */
    /* off + len cannot overflow: both are at most 2^32 + 2^16. */
    if (off > n || len > n - off) {
        *bad = true;
        return MS_BYTES_NONE;
    }
    return ms_bytes_of(m + off, len);
}

/* AUTHENTICATE_MESSAGE (2.2.1.3):
 *   0 Signature(8) | 8 MessageType(4) | 12 LmChallengeResponseFields(8) |
 *  20 NtChallengeResponseFields(8) | 28 DomainNameFields(8) |
 *  36 UserNameFields(8) | 44 WorkstationFields(8) |
 *  52 EncryptedRandomSessionKeyFields(8) | 60 NegotiateFlags(4) |
 *  64 Version(8) | 72 MIC(16) | payload
 * Early NTLM clients stop after WorkstationFields (52 bytes), so the
 * session key and the flags are optional here. */
enum ms_rc ms_ntlm_parse_authenticate(const uint8_t *m, size_t n, struct ms_ntlm_auth *a)
{
    memset(a, 0, sizeof(*a));
    uint32_t type = 0;
    if (ms_ntlm_type(m, n, &type) != MS_OK || type != MS_NTLM_AUTHENTICATE || n < 52)
        return MS_ERR_PROTO;
    a->lm = secbuf(m, n, 12, &a->bad_offset);
    a->nt = secbuf(m, n, 20, &a->bad_offset);
    a->domain = secbuf(m, n, 28, &a->bad_offset);
    a->user = secbuf(m, n, 36, &a->bad_offset);
    a->workstation = secbuf(m, n, 44, &a->bad_offset);
    if (n >= 64) {
        a->flags = ms_le32(m + 60);
        a->have_flags = true;
    }
    return MS_OK;
}

static bool put_utf8(struct ms_buf *out, uint32_t cp)
{
    uint8_t u[4];
    size_t k;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (uint8_t)(0x80 | (cp & 0x3F));
        k = 4;
    }
    /* All of a character or none of it: a cut never splits a sequence. */
    return ms_buf_append(out, u, k) == MS_OK;
}

/* UTF-16LE (MS-NLMP 2.2: "NTLMSSP_NEGOTIATE_UNICODE ... UNICODE character
 * set encoding", which Windows means as UTF-16LE) to UTF-8. */
bool ms_ntlm_text(struct ms_buf *out, struct ms_bytes f, bool unicode)
{
    if (!f.p)
        return true;
    if (!unicode)
        return ms_buf_append_some(out, f.p, f.len) == MS_OK;
    size_t i = 0;
    while (i + 1 < f.len) {
        uint32_t cp = ms_le16(f.p + i);
        i += 2;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = i + 1 < f.len ? ms_le16(f.p + i) : 0;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        if (!put_utf8(out, cp))
            return false;
    }
    if (i < f.len && !put_utf8(out, 0xFFFD)) /* an odd trailing byte */
        return false;
    return true;
}

bool ms_ntlm_hex(struct ms_buf *out, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        uint8_t h[2] = { (uint8_t)hx[p[i] >> 4], (uint8_t)hx[p[i] & 15] };
        if (ms_buf_append(out, h, 2) != MS_OK)
            return false;
    }
    return true;
}

static bool put(struct ms_buf *out, const void *p, size_t n)
{
    return ms_buf_append(out, p, n) == MS_OK;
}

/* NTLMv2_RESPONSE (2.2.2.8) = NTProofStr (16 bytes) followed by the
 * NTLMv2_CLIENT_CHALLENGE (2.2.2.7), which is at least 28 bytes
 * (RespType, HiRespType, reserved, TimeStamp, ChallengeFromClient,
 * reserved) before its AV pairs. */
#define NTLMV2_MIN (16 + 28)

int ms_ntlm_hashcat(struct ms_buf *out, struct ms_bytes user, struct ms_bytes domain,
                    const uint8_t challenge[8], struct ms_bytes lm, struct ms_bytes nt, bool *cut)
{
    int mode;
    if (nt.p && nt.len == 24)
        mode = 5500;
    else if (nt.p && nt.len >= NTLMV2_MIN)
        mode = 5600;
    else
        return 0;
    ms_buf_reset(out);
    bool ok = put(out, user.p ? user.p : (const uint8_t *)"", user.len) && put(out, "::", 2) &&
              put(out, domain.p ? domain.p : (const uint8_t *)"", domain.len) && put(out, ":", 1);
    if (mode == 5500) {
        /* hashcat -m 5500 wants the LM field even when it only carries the
         * client challenge (extended session security) or is empty. */
        ok = ok && (lm.p ? ms_ntlm_hex(out, lm.p, lm.len) : true) && put(out, ":", 1) &&
             ms_ntlm_hex(out, nt.p, nt.len) && put(out, ":", 1) && ms_ntlm_hex(out, challenge, 8);
    } else {
        ok = ok && ms_ntlm_hex(out, challenge, 8) && put(out, ":", 1) &&
             ms_ntlm_hex(out, nt.p, 16) && put(out, ":", 1) &&
             ms_ntlm_hex(out, nt.p + 16, nt.len - 16);
    }
    if (!ok) {
        /* A half line would not load in hashcat: give none. */
        ms_buf_reset(out);
        *cut = true;
        return 0;
    }
    return mode;
}
