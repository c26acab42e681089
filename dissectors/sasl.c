/* SASL mechanism decoding shared by POP3, IMAP and SMTP.
 *
 * The protocol parser passes base64 lines in; this module decodes them and
 * keeps, per mechanism, what a credential event needs:
 *   PLAIN        RFC 4616        authzid, user, password
 *   LOGIN        draft-murchison user, then password, one response each
 *   CRAM-MD5     RFC 2195        challenge, "user SP hex-digest", hashcat 10200
 *   DIGEST-MD5   RFC 2831 2.1.2  directives of the client response
 *   NTLM         MS-NLMP 2.2.1   type 2 challenge, type 3 names and responses,
 *                                hashcat 5500 (NetNTLMv1) / 5600 (NetNTLMv2)
 *   XOAUTH2      Google's doc    user=..^Aauth=Bearer token^A^A
 *   OAUTHBEARER  RFC 7628 3.1    gs2 header a=user, auth=Bearer token
 * For the challenge/response mechanisms the event fields are derived again
 * (derive()) whenever a challenge or a response arrives, so the result does
 * not depend on which direction's bytes the transport delivered first. */
#include "sasl.h"

#include <openssl/evp.h>
#include <string.h>

#include "../common/ascii.h"
#include "../common/b64.h"
#include "../common/bytes.h"
#include "ntlm.h"

void ms_sasl_init(struct ms_sasl *s, const struct ms_limits *lim)
{
    memset(s, 0, sizeof(*s));
    ms_buf_init(&s->authzid, lim->max_secret);
    ms_buf_init(&s->user, lim->max_secret);
    ms_buf_init(&s->pass, lim->max_secret);
    ms_buf_init(&s->token, lim->max_secret);
    ms_buf_init(&s->domain, lim->max_secret);
    ms_buf_init(&s->workstation, lim->max_secret);
    /* A decoded message is at most 3/4 of the line that carried it; its
     * printable forms (hex, base64, hashcat) at most about twice that. */
    s->max_msg = lim->max_line;
    ms_buf_init(&s->challenge, lim->max_line);
    ms_buf_init(&s->cmsg, lim->max_line);
    ms_buf_init(&s->response, 2 * lim->max_line + 16);
    ms_buf_init(&s->chal_text, 2 * lim->max_line + 16);
    ms_buf_init(&s->hashcat, 4 * lim->max_line + 2 * lim->max_secret + 64);
}

void ms_sasl_free(struct ms_sasl *s)
{
    ms_buf_free(&s->authzid);
    ms_buf_free(&s->user);
    ms_buf_free(&s->pass);
    ms_buf_free(&s->challenge);
    ms_buf_free(&s->token);
    ms_buf_free(&s->domain);
    ms_buf_free(&s->workstation);
    ms_buf_free(&s->cmsg);
    ms_buf_free(&s->response);
    ms_buf_free(&s->chal_text);
    ms_buf_free(&s->hashcat);
}

static void keep(struct ms_sasl *s, struct ms_buf *b, const uint8_t *p, size_t n)
{
    ms_buf_reset(b);
    enum ms_rc rc = ms_buf_append_some(b, p, n);
    if (rc == MS_ERR_LIMIT)
        s->truncated = true;
    else if (rc == MS_ERR_NOMEM)
        s->nomem = true;
}

static void set_anomaly(struct ms_sasl *s, enum ms_anomaly a)
{
    s->malformed = true;
    s->anomaly = a;
}

/* ---- PLAIN, LOGIN ----------------------------------------------------- */

/* RFC 4616: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
static void plain_message(struct ms_sasl *s, const uint8_t *m, size_t n)
{
    const uint8_t *nul1 = memchr(m, 0, n);
    const uint8_t *nul2 = nul1 ? memchr(nul1 + 1, 0, n - (size_t)(nul1 - m) - 1) : NULL;
    if (!nul2) {
        /* Without both separators any split would be a guess. */
        set_anomaly(s, MS_ANOM_SASL_PLAIN_MALFORMED);
        return;
    }
    keep(s, &s->authzid, m, (size_t)(nul1 - m));
    keep(s, &s->user, nul1 + 1, (size_t)(nul2 - nul1 - 1));
    keep(s, &s->pass, nul2 + 1, n - (size_t)(nul2 - m) - 1);
    s->have_user = s->have_pass = true;
}

/* ---- helpers for the derived fields ----------------------------------- */

/* False when b's cap cut it or memory failed (then s->nomem). */
static bool append(struct ms_sasl *s, struct ms_buf *b, const void *p, size_t n)
{
    enum ms_rc rc = ms_buf_append(b, p, n);
    if (rc == MS_ERR_NOMEM)
        s->nomem = true;
    return rc == MS_OK;
}

/* RFC 4648 section 4 base64 (libcrypto's encoder), for the hashcat 10200
 * line. Chunks of 48 bytes, a multiple of 3, so padding only ends the whole. */
static bool b64_encode(struct ms_sasl *s, struct ms_buf *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 48) {
        size_t k = n - i < 48 ? n - i : 48;
        unsigned char enc[65];
        int len = EVP_EncodeBlock(enc, p + i, (int)k);
        if (len < 0 || !append(s, out, enc, (size_t)len))
            return false;
    }
    return true;
}

static bool is_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = ms_ascii_lower(p[i]);
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* ---- CRAM-MD5 (RFC 2195) ---------------------------------------------- */

/* The server sends a challenge (an RFC 822 msg-id, "<1896.697170952@host>")
 * and the client answers with
 *     response = user SP digest    digest = 32 lower-case hex digits of
 *                                  HMAC-MD5(password, challenge)
 * The user name may itself contain spaces, so the digest is what follows
 * the last one. hashcat 10200 takes
 *     $cram_md5$<base64 challenge>$<base64 response>                      */
static void derive_cram(struct ms_sasl *s)
{
    const uint8_t *m = s->cmsg.p;
    size_t n = s->cmsg.len;
    size_t sp = n;
    while (sp > 0 && m[sp - 1] != ' ')
        sp--;
    if (sp == 0) {
        set_anomaly(s, MS_ANOM_SASL_CRAM_MD5_MALFORMED);
        s->incomplete_cr = true;
        return;
    }
    keep(s, &s->user, m, sp - 1);
    s->have_user = true;
    const uint8_t *dg = m + sp;
    size_t dlen = n - sp;
    if (!append(s, &s->response, dg, dlen))
        s->cut = true;
    s->have_response = true;
    if (dlen != 32 || !is_hex(dg, dlen)) {
        set_anomaly(s, MS_ANOM_SASL_CRAM_MD5_MALFORMED);
        s->incomplete_cr = true;
        return;
    }
    if (s->challenge.len == 0 || s->cmsg_cut) {
        s->incomplete_cr = true; /* no challenge seen: nothing to crack against */
        return;
    }
    if (append(s, &s->hashcat, "$cram_md5$", 10) &&
        b64_encode(s, &s->hashcat, s->challenge.p, s->challenge.len) &&
        append(s, &s->hashcat, "$", 1) && b64_encode(s, &s->hashcat, m, n)) {
        s->hashcat_mode = 10200;
    } else {
        ms_buf_reset(&s->hashcat);
        s->cut = true;
    }
}

/* ---- DIGEST-MD5 (RFC 2831) -------------------------------------------- */

struct directive {
    const uint8_t *name, *val;
    size_t nlen, vlen;
    bool quoted;
};

static bool lws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 2831 section 2.1.2 (and section 7.1's #rule):
 *   digest-response = 1#( username | realm | nonce | cnonce | nonce-count |
 *                         qop | digest-uri | response | maxbuf | charset |
 *                         cipher | authzid | auth-param )
 *   directive       = token "=" ( token | quoted-string )
 *   quoted-string   = <"> *(qdtext | quoted-pair) <">
 *   quoted-pair     = "\" CHAR
 * Elements are separated by commas and optional LWS; empty elements are
 * allowed. Returns the directive count, or -1 when the list is malformed
 * (no "=", an unterminated quoted string). Quoted values keep their
 * backslashes; unquote() removes them. */
static int parse_directives(const uint8_t *m, size_t n, struct directive *d, int max)
{
    int count = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (lws(m[i]) || m[i] == ','))
            i++;
        if (i >= n)
            break;
        size_t ns = i;
        while (i < n && m[i] != '=' && m[i] != ',' && !lws(m[i]))
            i++;
        size_t ne = i;
        while (i < n && lws(m[i]))
            i++;
        if (i >= n || m[i] != '=' || ne == ns)
            return -1;
        i++;
        while (i < n && lws(m[i]))
            i++;
        struct directive cur = { .name = m + ns, .nlen = ne - ns };
        if (i < n && m[i] == '"') {
            size_t vs = ++i;
            bool closed = false;
            while (i < n) {
                if (m[i] == '\\' && i + 1 < n) {
                    i += 2;
                    continue;
                }
                if (m[i] == '"') {
                    closed = true;
                    break;
                }
                i++;
            }
            if (!closed)
                return -1;
            cur.val = m + vs;
            cur.vlen = i - vs;
            cur.quoted = true;
            i++; /* the closing quote */
        } else {
            size_t vs = i;
            while (i < n && m[i] != ',' && !lws(m[i]))
                i++;
            cur.val = m + vs;
            cur.vlen = i - vs;
        }
        if (count < max)
            d[count++] = cur;
    }
    return count;
}

static const struct directive *find_directive(const struct directive *d, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (ms_ascii_eq(d[i].name, d[i].nlen, name))
            return &d[i];
    }
    return NULL;
}

/* True when the n bytes are well-formed UTF-8 (RFC 3629 section 4). */
static bool valid_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k = c < 0x80             ? 0
                   : (c & 0xE0) == 0xC0 ? 1
                   : (c & 0xF0) == 0xE0 ? 2
                   : (c & 0xF8) == 0xF0 ? 3
                                        : 9;
        if (k == 9 || (k == 1 && c < 0xC2) || n - i - 1 < k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return false;
        }
        i += k + 1;
    }
    return true;
}

/* Appends a directive's value without its quoted-pair backslashes. Without
 * charset=utf-8 the value is ISO 8859-1 (RFC 2831 2.1.2, "username"), so
 * bytes above 0x7F become their two-byte UTF-8 form; but clients such as
 * curl send UTF-8 without saying so, and Latin-1 text with high bytes is
 * almost never valid UTF-8, so a value that is valid UTF-8 is kept as is. */
static bool unquote(struct ms_sasl *s, struct ms_buf *out, const struct directive *v, bool utf8)
{
    utf8 = utf8 || valid_utf8(v->val, v->vlen);
    for (size_t i = 0; i < v->vlen; i++) {
        uint8_t c = v->val[i];
        if (v->quoted && c == '\\' && i + 1 < v->vlen)
            c = v->val[++i];
        if (!utf8 && c >= 0x80) {
            uint8_t u[2] = { (uint8_t)(0xC0 | c >> 6), (uint8_t)(0x80 | (c & 0x3F)) };
            if (!append(s, out, u, 2))
                return false;
        } else if (!append(s, out, &c, 1)) {
            return false;
        }
    }
    return true;
}

/* The event shows the client's decoded response as the "response": it
 * holds everything a cracker needs with the password's only trace, the
 * response= digest (username, realm, nonce, cnonce, nc, qop, digest-uri,
 * authzid), and the server's decoded challenge as the "challenge". No
 * hashcat mode takes SASL DIGEST-MD5. */
static void derive_digest(struct ms_sasl *s)
{
    struct directive d[MS_SASL_MAX_DIRECTIVES];
    int nd = parse_directives(s->cmsg.p, s->cmsg.len, d, MS_SASL_MAX_DIRECTIVES);
    if (nd < 0) {
        set_anomaly(s, MS_ANOM_SASL_DIGEST_MD5_MALFORMED);
        s->incomplete_cr = true;
        return;
    }
    const struct directive *cs = find_directive(d, nd, "charset");
    bool utf8 = cs && ms_ascii_eq(cs->val, cs->vlen, "utf-8");
    const struct directive *u = find_directive(d, nd, "username");
    const struct directive *r = find_directive(d, nd, "realm");
    const struct directive *resp = find_directive(d, nd, "response");
    const struct directive *az = find_directive(d, nd, "authzid");
    if (u) {
        ms_buf_reset(&s->user);
        if (!unquote(s, &s->user, u, utf8))
            s->truncated = true;
        s->have_user = true;
    } else {
        set_anomaly(s, MS_ANOM_SASL_DIGEST_MD5_NO_USERNAME);
        s->incomplete_cr = true;
    }
    if (r) {
        ms_buf_reset(&s->domain);
        if (!unquote(s, &s->domain, r, utf8))
            s->truncated = true;
    }
    if (az) {
        ms_buf_reset(&s->authzid);
        if (!unquote(s, &s->authzid, az, utf8))
            s->truncated = true;
    }
    if (!resp || resp->vlen != 32 || !is_hex(resp->val, resp->vlen))
        s->incomplete_cr = true; /* no usable digest */
    if (!append(s, &s->response, s->cmsg.p, s->cmsg.len))
        s->cut = true;
    s->have_response = true;
}

/* ---- NTLM (MS-NLMP) ---------------------------------------------------- */

static void derive_ntlm(struct ms_sasl *s)
{
    struct ms_ntlm_auth a;
    if (ms_ntlm_parse_authenticate(s->cmsg.p, s->cmsg.len, &a) != MS_OK) {
        set_anomaly(s, MS_ANOM_NTLM_MALFORMED);
        s->incomplete_cr = true;
        return;
    }
    if (a.bad_offset) {
        set_anomaly(s, MS_ANOM_NTLM_BAD_OFFSET);
        s->incomplete_cr = true;
    }
    if (!a.bad_offset && a.user.len == 0 && a.nt.len == 0 && a.lm.len <= 1)
        return; /* anonymous authentication (MS-NLMP 3.2.5.1.2): no login */
    /* The AUTHENTICATE flags say which charset the names use; older
     * messages without flags follow what NEGOTIATE/CHALLENGE agreed. */
    uint32_t flags = a.have_flags ? a.flags : s->ntlm_flags;
    bool unicode = (flags & MS_NTLM_FLAG_UNICODE) != 0;
    ms_buf_reset(&s->user);
    ms_buf_reset(&s->domain);
    ms_buf_reset(&s->workstation);
    /* The ms_ntlm_* writers say "cut" for any failure: room is made first,
     * so that below only a cap can cut. UTF-16 becomes at most 3 bytes of
     * UTF-8 per 2 (a pair 4 per 4), plus U+FFFD for an odd byte. */
    if (ms_buf_reserve(&s->user, 2 * a.user.len + 3) != MS_OK ||
        ms_buf_reserve(&s->domain, 2 * a.domain.len + 3) != MS_OK ||
        ms_buf_reserve(&s->workstation, 2 * a.workstation.len + 3) != MS_OK ||
        ms_buf_reserve(&s->response, 2 * a.nt.len) != MS_OK ||
        ms_buf_reserve(&s->chal_text, 16) != MS_OK) {
        s->nomem = true;
        return;
    }
    bool names_whole = true;
    if (a.user.p) {
        names_whole &= ms_ntlm_text(&s->user, a.user, unicode);
        s->have_user = true;
    }
    if (a.domain.p)
        names_whole &= ms_ntlm_text(&s->domain, a.domain, unicode);
    if (a.workstation.p && !ms_ntlm_text(&s->workstation, a.workstation, unicode))
        s->truncated = true;
    if (!names_whole)
        s->truncated = true;
    if (a.nt.p) {
        if (!ms_ntlm_hex(&s->response, a.nt.p, a.nt.len))
            s->cut = true;
        s->have_response = true;
    }
    if (!s->have_ntlm_chal) {
        s->incomplete_cr = true; /* the type 2 message was not seen */
        return;
    }
    if (!ms_ntlm_hex(&s->chal_text, s->ntlm_chal, 8))
        s->cut = true;
    if (!a.user.p || !a.domain.p || !a.nt.p || !names_whole || s->cmsg_cut)
        return; /* the line would be wrong */
    bool cut = false;
    struct ms_bytes user = ms_bytes_of(s->user.p ? s->user.p : (const uint8_t *)"", s->user.len);
    struct ms_bytes dom = ms_bytes_of(s->domain.p ? s->domain.p : (const uint8_t *)"",
                                      s->domain.len);
    /* user::domain: then at most lm, nt and the challenge in hex, and
     * three more colons. */
    if (ms_buf_reserve(&s->hashcat, user.len + dom.len + 2 * (a.lm.len + a.nt.len) + 16 + 8) !=
        MS_OK) {
        s->nomem = true;
        return;
    }
    s->hashcat_mode = ms_ntlm_hashcat(&s->hashcat, user, dom, s->ntlm_chal, a.lm, a.nt, &cut);
    if (cut)
        s->cut = true;
}

static void ntlm_client(struct ms_sasl *s, const uint8_t *m, size_t n)
{
    uint32_t type = 0;
    if (n == 0)
        return;
    if (ms_ntlm_type(m, n, &type) != MS_OK) {
        set_anomaly(s, MS_ANOM_NTLM_MALFORMED);
        return;
    }
    if (type == MS_NTLM_NEGOTIATE) {
        /* NEGOTIATE_MESSAGE (2.2.1.1): flags at offset 12. */
        if (n >= 16 && !s->have_ntlm_chal)
            s->ntlm_flags = ms_le32(m + 12);
        return;
    }
    if (type != MS_NTLM_AUTHENTICATE) {
        set_anomaly(s, MS_ANOM_NTLM_MALFORMED);
        return;
    }
    ms_buf_reset(&s->cmsg);
    enum ms_rc rc = ms_buf_append_some(&s->cmsg, m, n);
    s->cmsg_cut = rc == MS_ERR_LIMIT;
    s->nomem = s->nomem || rc == MS_ERR_NOMEM;
    s->have_cmsg = true;
}

/* ---- XOAUTH2, OAUTHBEARER --------------------------------------------- */

/* "auth=" value: "Bearer" SP token (RFC 6750 2.1 credentials). Another
 * scheme is kept whole: it is still the secret. */
static void keep_token(struct ms_sasl *s, const uint8_t *v, size_t n)
{
    if (n >= 7 && ms_ascii_prefix(v, n, "Bearer ")) {
        v += 7;
        n -= 7;
        while (n > 0 && v[0] == ' ') {
            v++;
            n--;
        }
    }
    keep(s, &s->token, v, n);
    s->have_token = true;
}

/* Walks ^A-separated key=value pairs (XOAUTH2 and RFC 7628 kvpair). */
static void oauth_kvpairs(struct ms_sasl *s, const uint8_t *m, size_t n, bool xoauth2)
{
    size_t i = 0;
    while (i < n) {
        const uint8_t *e = memchr(m + i, 0x01, n - i);
        size_t end = e ? (size_t)(e - m) : n;
        const uint8_t *kv = m + i;
        size_t kvlen = end - i;
        if (ms_ascii_prefix(kv, kvlen, "auth="))
            keep_token(s, kv + 5, kvlen - 5);
        else if (xoauth2 && ms_ascii_prefix(kv, kvlen, "user=")) {
            keep(s, &s->user, kv + 5, kvlen - 5);
            s->have_user = true;
        }
        i = end + 1;
    }
}

/* XOAUTH2 (developers.google.com/gmail/imap/xoauth2-protocol):
 *   base64("user=" {User} "^Aauth=Bearer " {Access Token} "^A^A")
 * After a failure the server sends a base64 JSON error as a challenge and
 * the client answers with an empty response, which carries nothing. */
static void xoauth2_message(struct ms_sasl *s, const uint8_t *m, size_t n)
{
    if (n == 0 || s->have_token || s->have_user)
        return;
    oauth_kvpairs(s, m, n, true);
    if (!s->have_token && !s->have_user)
        set_anomaly(s, MS_ANOM_SASL_XOAUTH2_MALFORMED);
}

/* RFC 5801 saslname: "=2C" is "," and "=3D" is "="; anything else after
 * "=" is invalid and kept as sent. */
static void saslname(struct ms_sasl *s, struct ms_buf *out, const uint8_t *p, size_t n)
{
    ms_buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '=' && i + 2 < n) {
            if (p[i + 1] == '2' && (p[i + 2] == 'C' || p[i + 2] == 'c')) {
                c = ',';
                i += 2;
            } else if (p[i + 1] == '3' && (p[i + 2] == 'D' || p[i + 2] == 'd')) {
                c = '=';
                i += 2;
            }
        }
        if (!append(s, out, &c, 1)) {
            s->truncated = true;
            return;
        }
    }
}

/* RFC 7628 section 3.1:
 *   client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep
 *   gs2-header  = gs2-cbind-flag "," [ authzid ] ","     (RFC 5801)
 *   authzid     = "a=" saslname
 *   kvpair      = key "=" value kvsep ; kvsep = %x01
 * A lone kvsep is the client's acknowledgement of an error challenge. */
static void oauthbearer_message(struct ms_sasl *s, const uint8_t *m, size_t n)
{
    if (n == 0 || (n == 1 && m[0] == 0x01) || s->have_token)
        return;
    const uint8_t *c1 = memchr(m, ',', n);
    const uint8_t *c2 = c1 ? memchr(c1 + 1, ',', n - (size_t)(c1 - m) - 1) : NULL;
    if (!c2) {
        set_anomaly(s, MS_ANOM_SASL_OAUTHBEARER_MALFORMED);
        return;
    }
    const uint8_t *az = c1 + 1;
    size_t azlen = (size_t)(c2 - az);
    if (azlen >= 2 && az[0] == 'a' && az[1] == '=') {
        saslname(s, &s->user, az + 2, azlen - 2);
        s->have_user = true;
    }
    size_t rest = n - (size_t)(c2 - m) - 1;
    oauth_kvpairs(s, c2 + 1, rest, false);
    if (!s->have_token)
        set_anomaly(s, MS_ANOM_SASL_OAUTHBEARER_MALFORMED);
}

/* ---- dispatch ----------------------------------------------------------- */

/* Recomputes the challenge/response fields from the pieces seen so far. */
static void derive(struct ms_sasl *s)
{
    ms_buf_reset(&s->response);
    ms_buf_reset(&s->chal_text);
    ms_buf_reset(&s->hashcat);
    s->hashcat_mode = 0;
    s->have_response = false;
    s->incomplete_cr = false;
    s->cut = false;
    if (!s->have_cmsg)
        return;
    switch (s->mech) {
    case MS_SASL_CRAM_MD5:
        derive_cram(s);
        break;
    case MS_SASL_DIGEST_MD5:
        derive_digest(s);
        break;
    case MS_SASL_NTLM:
        derive_ntlm(s);
        break;
    default:
        break;
    }
}

/* Keeps the client message a challenge/response credential comes from:
 * the first non-empty one (CRAM-MD5 has one; DIGEST-MD5's second response
 * is empty, answering rspauth). */
static void keep_cmsg(struct ms_sasl *s, const uint8_t *m, size_t n)
{
    if (n == 0 || s->have_cmsg)
        return;
    enum ms_rc rc = ms_buf_append_some(&s->cmsg, m, n);
    s->cmsg_cut = rc == MS_ERR_LIMIT;
    s->nomem = s->nomem || rc == MS_ERR_NOMEM;
    s->have_cmsg = true;
}

static void decoded(struct ms_sasl *s, const uint8_t *m, size_t n)
{
    switch (s->mech) {
    case MS_SASL_PLAIN:
        plain_message(s, m, n);
        break;
    case MS_SASL_LOGIN:
        /* First response the user name, second the password: by position,
         * so that a response lost or undecodable leaves its own field
         * unknown instead of shifting the next one into it. */
        if (s->responses == 1) {
            keep(s, &s->user, m, n);
            s->have_user = true;
        } else if (s->responses == 2) {
            keep(s, &s->pass, m, n);
            s->have_pass = true;
        }
        break;
    case MS_SASL_CRAM_MD5:
    case MS_SASL_DIGEST_MD5:
        keep_cmsg(s, m, n);
        derive(s);
        break;
    case MS_SASL_NTLM:
        ntlm_client(s, m, n);
        derive(s);
        break;
    case MS_SASL_XOAUTH2:
        xoauth2_message(s, m, n);
        break;
    case MS_SASL_OAUTHBEARER:
        oauthbearer_message(s, m, n);
        break;
    case MS_SASL_OTHER:
        break;
    }
}

void ms_sasl_response(struct ms_sasl *s, const uint8_t *line, size_t len)
{
    s->responses++;
    if (len == 1 && line[0] == '*') {
        s->cancelled = true; /* RFC 4954 4: the client gave up */
        return;
    }
    if (s->mech == MS_SASL_OTHER)
        return;
    if (len == 1 && line[0] == '=') {
        decoded(s, (const uint8_t *)"", 0); /* an empty response */
        return;
    }
    /* Responses are base64 of at most a few KB; decode into a bounded
     * stack buffer, cutting (and flagging) anything longer. */
    uint8_t out[3072];
    size_t take = len;
    if (take > (sizeof(out) / 3) * 4) {
        take = (sizeof(out) / 3) * 4;
        s->truncated = true;
    }
    size_t n = 0;
    if (ms_b64_decode_buf(line, take, out, sizeof(out), &n) != MS_OK) {
        set_anomaly(s, MS_ANOM_SASL_INVALID_BASE64);
        return;
    }
    decoded(s, out, n);
}

void ms_sasl_lost_response(struct ms_sasl *s)
{
    s->responses++;
    s->truncated = true;
}

void ms_sasl_challenge(struct ms_sasl *s, const uint8_t *b64, size_t len)
{
    uint8_t out[3072];
    size_t n = 0;
    bool ok = ms_b64_decode_buf(b64, len, out, sizeof(out), &n) == MS_OK;
    if ((s->mech == MS_SASL_CRAM_MD5 || s->mech == MS_SASL_DIGEST_MD5) && s->challenge.len > 0)
        return; /* the challenge the client answered came first */
    if (s->mech == MS_SASL_NTLM) {
        uint8_t chal[8];
        uint32_t flags = 0;
        if (ok && n > 0 && ms_ntlm_parse_challenge(out, n, chal, &flags) == MS_OK) {
            memcpy(s->ntlm_chal, chal, 8);
            s->ntlm_flags = flags;
            s->have_ntlm_chal = true;
        } else if (ok && n > 0) {
            set_anomaly(s, MS_ANOM_NTLM_MALFORMED);
        }
    }
    ms_buf_reset(&s->challenge);
    /* A challenge that is not base64 is kept as sent: some servers put
     * plain text after "+ " (RFC 5034 allows only base64, not all obey). */
    if (ok)
        keep(s, &s->challenge, out, n);
    else
        keep(s, &s->challenge, b64, len);
    derive(s);
}

void ms_sasl_start(struct ms_sasl *s, const uint8_t *mech, size_t mlen, const uint8_t *ir,
                   size_t irlen, bool has_ir)
{
    s->responses = 0;
    s->cancelled = s->malformed = s->truncated = s->nomem = false;
    s->have_user = s->have_pass = s->have_token = false;
    s->have_cmsg = s->cmsg_cut = s->have_ntlm_chal = false;
    s->ntlm_flags = 0;
    ms_buf_reset(&s->authzid);
    ms_buf_reset(&s->user);
    ms_buf_reset(&s->pass);
    ms_buf_reset(&s->challenge);
    ms_buf_reset(&s->token);
    ms_buf_reset(&s->domain);
    ms_buf_reset(&s->workstation);
    ms_buf_reset(&s->cmsg);
    size_t i = 0;
    for (; i < mlen && i < sizeof(s->mech_name) - 1; i++)
        s->mech_name[i] = (char)(mech[i] >= 'a' && mech[i] <= 'z' ? mech[i] - 32 : mech[i]);
    s->mech_name[i] = '\0';
    static const struct {
        const char *name;
        enum ms_sasl_mech mech;
    } names[] = {
        { "PLAIN", MS_SASL_PLAIN },
        { "LOGIN", MS_SASL_LOGIN },
        { "CRAM-MD5", MS_SASL_CRAM_MD5 },
        { "DIGEST-MD5", MS_SASL_DIGEST_MD5 },
        { "NTLM", MS_SASL_NTLM },
        { "XOAUTH2", MS_SASL_XOAUTH2 },
        { "OAUTHBEARER", MS_SASL_OAUTHBEARER },
    };
    s->mech = MS_SASL_OTHER;
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (ms_ascii_eq(mech, mlen, names[k].name))
            s->mech = names[k].mech;
    }
    derive(s);
    if (has_ir)
        ms_sasl_response(s, ir, irlen);
}

static struct ms_bytes bytes_of(const struct ms_buf *b)
{
    return ms_bytes_of(b->p ? b->p : (const uint8_t *)"", b->len);
}

static bool challenge_response(enum ms_sasl_mech m)
{
    return m == MS_SASL_CRAM_MD5 || m == MS_SASL_DIGEST_MD5 || m == MS_SASL_NTLM;
}

bool ms_sasl_credential(const struct ms_sasl *s, struct ms_ev_credential *c)
{
    if (!s->have_user && !s->have_pass && !s->have_token && !s->have_response)
        return false;
    c->mechanism = s->mech_name;
    c->username = s->have_user ? bytes_of(&s->user) : MS_BYTES_NONE;
    c->authzid = s->authzid.len ? bytes_of(&s->authzid) : MS_BYTES_NONE;
    c->password = s->have_pass ? bytes_of(&s->pass) : MS_BYTES_NONE;
    c->token = s->have_token ? bytes_of(&s->token) : MS_BYTES_NONE;
    c->domain = s->domain.len ? bytes_of(&s->domain) : MS_BYTES_NONE;
    c->workstation = s->workstation.len ? bytes_of(&s->workstation) : MS_BYTES_NONE;
    c->challenge = MS_BYTES_NONE;
    c->response = MS_BYTES_NONE;
    c->hashcat = MS_BYTES_NONE;
    c->hashcat_mode = 0;
    switch (s->mech) {
    case MS_SASL_PLAIN:
    case MS_SASL_LOGIN:
        c->incomplete = s->truncated || !s->have_user || !s->have_pass;
        return true;
    case MS_SASL_XOAUTH2:
    case MS_SASL_OAUTHBEARER:
        c->incomplete = s->truncated || s->malformed || !s->have_token;
        return true;
    default:
        break;
    }
    if (challenge_response(s->mech)) {
        if (s->mech == MS_SASL_NTLM)
            c->challenge = s->chal_text.len ? bytes_of(&s->chal_text) : MS_BYTES_NONE;
        else
            c->challenge = s->challenge.len ? bytes_of(&s->challenge) : MS_BYTES_NONE;
        c->response = s->have_response ? bytes_of(&s->response) : MS_BYTES_NONE;
        if (s->hashcat_mode) {
            c->hashcat = bytes_of(&s->hashcat);
            c->hashcat_mode = s->hashcat_mode;
        }
    }
    c->incomplete = s->truncated || s->cut || s->cmsg_cut || s->incomplete_cr || !s->have_user ||
                    !s->have_response;
    return true;
}

bool ms_sasl_nomem(const struct ms_sasl *s)
{
    return s->nomem;
}

const char *ms_sasl_anomaly_detail(const struct ms_sasl *s)
{
    return s->malformed ? ms_anomaly_description(s->anomaly) : "";
}
