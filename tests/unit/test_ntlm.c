/* dissectors/ntlm.c: message parsing (MS-NLMP 2.2.1), name decoding, and
 * the NetNTLM hashcat lines. The expected lines are checked two ways: they
 * must equal hashcat's published example hashes byte for byte, and the
 * NTLMv2 proof in them is recomputed here from the known password with
 * MD4 (RFC 1320, written out below since OpenSSL 3 hides MD4 in its legacy
 * provider) and HMAC-MD5 (libcrypto), as MS-NLMP 3.3.2 defines it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissectors/ntlm.h"

/* ---- MD4 (RFC 1320 section 3) ---------------------------------------- */

#define F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define G(x, y, z) (((x) & (y)) | ((x) & (z)) | ((y) & (z)))
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define ROTL(x, s) (((x) << (s)) | ((x) >> (32 - (s))))

static void md4_block(uint32_t st[4], const uint8_t b[64])
{
    uint32_t x[16];
    for (size_t i = 0; i < 16; i++)
        x[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
               (uint32_t)b[4 * i + 3] << 24;
    uint32_t a = st[0], bb = st[1], c = st[2], d = st[3];
    static const int r1[4] = { 3, 7, 11, 19 }, r2[4] = { 3, 5, 9, 13 }, r3[4] = { 3, 9, 11, 15 };
    static const int o3[16] = { 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15 };
    for (int i = 0; i < 16; i++) {
        uint32_t t = a + F(bb, c, d) + x[i];
        t = ROTL(t, r1[i % 4]);
        a = d, d = c, c = bb, bb = t;
    }
    for (int i = 0; i < 16; i++) {
        int k = (i % 4) * 4 + i / 4;
        uint32_t t = a + G(bb, c, d) + x[k] + 0x5A827999u;
        t = ROTL(t, r2[i % 4]);
        a = d, d = c, c = bb, bb = t;
    }
    for (int i = 0; i < 16; i++) {
        uint32_t t = a + H(bb, c, d) + x[o3[i]] + 0x6ED9EBA1u;
        t = ROTL(t, r3[i % 4]);
        a = d, d = c, c = bb, bb = t;
    }
    st[0] += a, st[1] += bb, st[2] += c, st[3] += d;
}

static void md4(const uint8_t *m, size_t n, uint8_t out[16])
{
    uint32_t st[4] = { 0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u };
    uint8_t blk[64];
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        md4_block(st, m + i);
    size_t rem = n - i;
    memset(blk, 0, 64);
    memcpy(blk, m + i, rem);
    blk[rem] = 0x80;
    if (rem >= 56) {
        md4_block(st, blk);
        memset(blk, 0, 64);
    }
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++)
        blk[56 + k] = (uint8_t)(bits >> (8 * k));
    md4_block(st, blk);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 4; j++)
            out[4 * k + j] = (uint8_t)(st[k] >> (8 * j));
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* The byte spelled by the two hex digits at s (checked: the test's own
 * data). */
static uint8_t hex_byte(const char *s)
{
    char two[3] = { s[0], s[1], '\0' };
    char *end;
    assert_true(isxdigit((unsigned char)two[0]) && isxdigit((unsigned char)two[1]));
    unsigned long v = strtoul(two, &end, 16);
    assert_ptr_equal(end, two + 2);
    return (uint8_t)v;
}

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++)
        out[i] = hex_byte(h + 2 * i);
    return n;
}

/* ASCII to UTF-16LE, upper-cased when asked (NTOWFv2 upper-cases the user). */
static size_t utf16(const char *s, bool upper, uint8_t *out)
{
    size_t n = 0;
    for (; *s; s++) {
        char c = *s;
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        out[n++] = (uint8_t)c;
        out[n++] = 0;
    }
    return n;
}

/* MS-NLMP 3.3.2: NTOWFv2 = HMAC_MD5(MD4(UNICODE(Passwd)),
 * UNICODE(Uppercase(User) || UserDom)); NTProofStr = HMAC_MD5(NTOWFv2,
 * ServerChallenge || temp), temp being the blob after the proof. */
static void ntproofstr(const char *pass, const char *user, const char *dom, const uint8_t chal[8],
                       const uint8_t *blob, size_t blen, uint8_t out[16])
{
    uint8_t u[256], nthash[16], key[16], msg[2048];
    md4(u, utf16(pass, false, u), nthash);
    size_t n = utf16(user, true, msg);
    n += utf16(dom, false, msg + n);
    unsigned len = 0;
    HMAC(EVP_md5(), nthash, 16, msg, n, key, &len);
    memcpy(msg, chal, 8);
    memcpy(msg + 8, blob, blen);
    HMAC(EVP_md5(), key, 16, msg, 8 + blen, out, &len);
}

static void test_md4_rfc1320(void **state)
{
    (void)state;
    /* RFC 1320 appendix A.5 test suite. */
    static const struct {
        const char *in, *out;
    } v[] = {
        { "", "31d6cfe0d16ae931b73c59d7e0c089c0" },
        { "abc", "a448017aaf21d8525fc10ae87aa6729d" },
        { "message digest", "d9130a8164549fe818874806e1c7014b" },
        { "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
          "e33b4ddc9c38f2199c3e7b164fcc0536" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t d[16];
        char h[33];
        md4((const uint8_t *)v[i].in, strlen(v[i].in), d);
        hex(d, 16, h);
        assert_string_equal(h, v[i].out);
    }
}

/* ---- message builders -------------------------------------------------- */

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

struct field {
    const uint8_t *p;
    size_t len;
};

/* AUTHENTICATE_MESSAGE with a 72-byte header (flags, version, no MIC)
 * and the payload in the order LM, NT, domain, user, workstation. */
static size_t build_auth(uint8_t *m, uint32_t flags, struct field lm, struct field nt,
                         struct field dom, struct field user, struct field ws)
{
    memset(m, 0, 72);
    memcpy(m, "NTLMSSP", 8);
    put32(m + 8, 3);
    size_t off = 72;
    const struct field f[5] = { lm, nt, dom, user, ws };
    for (size_t i = 0; i < 5; i++) {
        put16(m + 12 + 8 * i, (unsigned)f[i].len);
        put16(m + 14 + 8 * i, (unsigned)f[i].len);
        put32(m + 16 + 8 * i, (uint32_t)off);
        memcpy(m + off, f[i].p, f[i].len);
        off += f[i].len;
    }
    put32(m + 60, flags);
    return off;
}

static struct field fld(const void *p, size_t n)
{
    struct field f = { p, n };
    return f;
}

static char *line_of(struct ms_buf *b)
{
    char *s = calloc(1, b->len + 1);
    memcpy(s, b->p, b->len);
    return s;
}

/* MS-NLMP 4.2.4 (NTLMv2 authentication): user "User", domain "Domain",
 * password "Password", server challenge 0123456789abcdef, client challenge
 * aa * 8, time 0, AV pairs NbDomainName "Domain", NbComputerName "Server".
 * 4.2.4.1.3 gives ResponseKeyNT 0c868a403bfd7a93a3001ef22ef02e3f and
 * 4.2.4.2.2 the NTProofStr 68cd0ab851e51c96aabc927bebef6a1c. */
static size_t msnlmp_v2_blob(uint8_t *blob)
{
    size_t n = 0;
    blob[n++] = 1;
    blob[n++] = 1;
    memset(blob + n, 0, 6 + 8);
    n += 14;
    memset(blob + n, 0xaa, 8);
    n += 8;
    memset(blob + n, 0, 4);
    n += 4;
    put16(blob + n, 2);
    put16(blob + n + 2, 12);
    n += 4 + utf16("Domain", false, blob + n + 4);
    put16(blob + n, 1);
    put16(blob + n + 2, 12);
    n += 4 + utf16("Server", false, blob + n + 4);
    memset(blob + n, 0, 4 + 4); /* MsvAvEOL, then the 4 reserved bytes */
    n += 8;
    return n;
}

static void test_msnlmp_ntlmv2(void **state)
{
    (void)state;
    static const uint8_t chal[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
    uint8_t blob[128], proof[16], nt[160], m[512], u[64], d[64], w[64];
    size_t blen = msnlmp_v2_blob(blob);
    ntproofstr("Password", "User", "Domain", chal, blob, blen, proof);
    char h[400];
    hex(proof, 16, h);
    assert_string_equal(h, "68cd0ab851e51c96aabc927bebef6a1c");

    memcpy(nt, proof, 16);
    memcpy(nt + 16, blob, blen);
    uint8_t lmv2[24];
    memset(lmv2, 0x86, sizeof(lmv2)); /* any 24 bytes: v2 lines ignore LM */
    size_t n = build_auth(m, MS_NTLM_FLAG_UNICODE | 0xe2888215u, fld(lmv2, 24), fld(nt, 16 + blen),
                          fld(d, utf16("Domain", false, d)), fld(u, utf16("User", false, u)),
                          fld(w, utf16("COMPUTER", false, w)));
    struct ms_ntlm_auth a;
    assert_int_equal(ms_ntlm_parse_authenticate(m, n, &a), MS_OK);
    assert_false(a.bad_offset);
    assert_true(a.have_flags);
    struct ms_buf user, dom, ws, line;
    ms_buf_init(&user, 64);
    ms_buf_init(&dom, 64);
    ms_buf_init(&ws, 64);
    ms_buf_init(&line, 4096);
    assert_true(ms_ntlm_text(&user, a.user, true));
    assert_true(ms_ntlm_text(&dom, a.domain, true));
    assert_true(ms_ntlm_text(&ws, a.workstation, true));
    assert_memory_equal(user.p, "User", 4);
    assert_memory_equal(ws.p, "COMPUTER", 8);
    bool cut = false;
    assert_int_equal(ms_ntlm_hashcat(&line, ms_bytes_of(user.p, user.len),
                                     ms_bytes_of(dom.p, dom.len), chal, a.lm, a.nt, &cut),
                     5600);
    assert_false(cut);
    char want[512];
    char bh[300];
    hex(blob, blen, bh);
    snprintf(want, sizeof(want),
             "User::Domain:0123456789abcdef:68cd0ab851e51c96aabc927bebef6a1c:%s", bh);
    char *got = line_of(&line);
    assert_string_equal(got, want);
    free(got);
    ms_buf_free(&user);
    ms_buf_free(&dom);
    ms_buf_free(&ws);
    ms_buf_free(&line);
}

/* hashcat's example hashes (password "hashcat") rebuilt from a parsed
 * AUTHENTICATE message must come out byte for byte; for 5600 the proof is
 * recomputed from the password, which shows the field order is right. */
static const char hc5600[] =
    "admin::N46iSNekpT:08ca45b7d7ea58ee:88dcbe4446168966a153a0064958dac6:"
    "5c7830315c7830310000000000000b45c67103d07d7b95acd12ffa11230e0000000052920b85f78d013c31cdb3b92f"
    "5d765c783030";
static const char hc5500[] = "u4-netntlm::kNS:338d08f8e26de93300000000000000000000000000000000:"
                             "9526fb8c23a90751cdd619b6cea564742e1e4bf33006ba41:cb8086049ec4736c";

static void test_hashcat_examples(void **state)
{
    (void)state;
    uint8_t chal[8], nt[256], lm[24], m[1024], u[64], d[64];
    /* 5600 */
    unhex("08ca45b7d7ea58ee", chal);
    size_t ntlen = unhex("88dcbe4446168966a153a0064958dac6", nt);
    ntlen += unhex("5c7830315c7830310000000000000b45c67103d07d7b95acd12ffa11230e0000000052920b85"
                   "f78d013c31cdb3b92f5d765c783030",
                   nt + ntlen);
    uint8_t proof[16];
    ntproofstr("hashcat", "admin", "N46iSNekpT", chal, nt + 16, ntlen - 16, proof);
    assert_memory_equal(proof, nt, 16);
    size_t n = build_auth(m, MS_NTLM_FLAG_UNICODE, fld(lm, 0), fld(nt, ntlen),
                          fld(d, utf16("N46iSNekpT", false, d)), fld(u, utf16("admin", false, u)),
                          fld("", 0));
    struct ms_ntlm_auth a;
    assert_int_equal(ms_ntlm_parse_authenticate(m, n, &a), MS_OK);
    struct ms_buf line;
    ms_buf_init(&line, 4096);
    bool cut = false;
    assert_int_equal(ms_ntlm_hashcat(&line, ms_bytes_of("admin", 5), ms_bytes_of("N46iSNekpT", 10),
                                     chal, a.lm, a.nt, &cut),
                     5600);
    char *got = line_of(&line);
    assert_string_equal(got, hc5600);
    free(got);

    /* 5500, OEM names this time */
    unhex("cb8086049ec4736c", chal);
    unhex("338d08f8e26de93300000000000000000000000000000000", lm);
    unhex("9526fb8c23a90751cdd619b6cea564742e1e4bf33006ba41", nt);
    n = build_auth(m, MS_NTLM_FLAG_OEM, fld(lm, 24), fld(nt, 24), fld("kNS", 3),
                   fld("u4-netntlm", 10), fld("WS", 2));
    assert_int_equal(ms_ntlm_parse_authenticate(m, n, &a), MS_OK);
    struct ms_buf user;
    ms_buf_init(&user, 64);
    assert_true(ms_ntlm_text(&user, a.user, false));
    assert_int_equal(ms_ntlm_hashcat(&line, ms_bytes_of(user.p, user.len), a.domain, chal, a.lm,
                                     a.nt, &cut),
                     5500);
    got = line_of(&line);
    assert_string_equal(got, hc5500);
    free(got);
    ms_buf_free(&user);

    /* Neither v1 nor v2: anonymous (empty NT) and a too-short NT. */
    ms_buf_reset(&line);
    assert_int_equal(ms_ntlm_hashcat(&line, ms_bytes_of("u", 1), ms_bytes_of("d", 1), chal,
                                     ms_bytes_of(lm, 0), ms_bytes_of(nt, 0), &cut),
                     0);
    assert_int_equal(ms_ntlm_hashcat(&line, ms_bytes_of("u", 1), ms_bytes_of("d", 1), chal,
                                     ms_bytes_of(lm, 0), ms_bytes_of(nt, 43), &cut),
                     0);
    assert_int_equal(line.len, 0);
    /* A cap too small for the line gives none, flagged. */
    struct ms_buf small;
    ms_buf_init(&small, 40);
    cut = false;
    assert_int_equal(ms_ntlm_hashcat(&small, ms_bytes_of("u", 1), ms_bytes_of("d", 1), chal,
                                     ms_bytes_of(lm, 24), ms_bytes_of(nt, 24), &cut),
                     0);
    assert_true(cut);
    assert_int_equal(small.len, 0);
    ms_buf_free(&small);
    ms_buf_free(&line);
}

/* Every offset and length that points outside the message is caught;
 * the fields that do fit are still given. */
static void test_bad_offsets(void **state)
{
    (void)state;
    uint8_t nt[24], m[256];
    memset(nt, 0x4e, sizeof(nt));
    size_t n = build_auth(m, MS_NTLM_FLAG_OEM, fld(nt, 24), fld(nt, 24), fld("DOM", 3),
                          fld("user", 4), fld("WS", 2));
    for (size_t f = 0; f < 5; f++) {
        /* Offset one past the end, offset fine but length one too many,
         * and an offset near 2^32 (no wraparound). */
        const uint32_t offs[3] = { (uint32_t)n + 1, 0, 0xfffffff0u };
        for (int k = 0; k < 3; k++) {
            uint8_t c[256];
            memcpy(c, m, n);
            if (k == 1) {
                uint32_t off = (uint32_t)c[16 + 8 * f] | (uint32_t)c[17 + 8 * f] << 8;
                put16(c + 12 + 8 * f, (unsigned)(n - off + 1));
            } else {
                put32(c + 16 + 8 * f, offs[k]);
            }
            struct ms_ntlm_auth a;
            assert_int_equal(ms_ntlm_parse_authenticate(c, n, &a), MS_OK);
            assert_true(a.bad_offset);
            const struct ms_bytes *all[5] = { &a.lm, &a.nt, &a.domain, &a.user, &a.workstation };
            for (size_t j = 0; j < 5; j++) {
                if (j == f)
                    assert_null(all[j]->p);
                else
                    assert_non_null(all[j]->p);
            }
        }
    }
    /* A buffer ending exactly at the end is fine. */
    struct ms_ntlm_auth a;
    assert_int_equal(ms_ntlm_parse_authenticate(m, n, &a), MS_OK);
    assert_false(a.bad_offset);
    assert_memory_equal(a.workstation.p, "WS", 2);
    /* Headers cut short, wrong signature, wrong type. */
    for (size_t cut = 0; cut < 52; cut++)
        assert_int_equal(ms_ntlm_parse_authenticate(m, cut, &a), MS_ERR_PROTO);
    uint8_t c[256];
    memcpy(c, m, n);
    c[0] = 'X';
    assert_int_equal(ms_ntlm_parse_authenticate(c, n, &a), MS_ERR_PROTO);
    memcpy(c, m, n);
    c[8] = 2;
    assert_int_equal(ms_ntlm_parse_authenticate(c, n, &a), MS_ERR_PROTO);
    /* The 52-byte form of early clients: no flags. */
    uint8_t old[52];
    memcpy(old, m, 52);
    for (size_t f = 0; f < 5; f++)
        put16(old + 12 + 8 * f, 0);
    assert_int_equal(ms_ntlm_parse_authenticate(old, 52, &a), MS_OK);
    assert_false(a.have_flags);
    assert_false(a.bad_offset);
}

/* CHALLENGE_MESSAGE: the challenge at offset 24, the header cut at 31
 * bytes rejected. */
static void test_challenge(void **state)
{
    (void)state;
    uint8_t m[48] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0, 2, 0, 0, 0 };
    put32(m + 20, 0xe2898215u);
    for (int i = 0; i < 8; i++)
        m[24 + i] = (uint8_t)(0x10 * i + 1);
    uint8_t chal[8];
    uint32_t flags = 0;
    assert_int_equal(ms_ntlm_parse_challenge(m, 32, chal, &flags), MS_OK);
    assert_memory_equal(chal, m + 24, 8);
    assert_int_equal(flags, 0xe2898215u);
    assert_int_equal(ms_ntlm_parse_challenge(m, 31, chal, &flags), MS_ERR_PROTO);
    m[8] = 3;
    assert_int_equal(ms_ntlm_parse_challenge(m, 48, chal, &flags), MS_ERR_PROTO);
    uint32_t type = 0;
    assert_int_equal(ms_ntlm_type(m, 11, &type), MS_ERR_PROTO);
    assert_int_equal(ms_ntlm_type(m, 12, &type), MS_OK);
    assert_int_equal(type, 3);
}

/* UTF-16LE names: BMP, a surrogate pair, lone surrogates, an odd byte,
 * and the cap cutting between characters, never inside one. */
static void test_utf16(void **state)
{
    (void)state;
    static const uint8_t in[] = { 'J',  0,    0xe9,
                                  0,    0x3d, 0xd8,
                                  0x00, 0xde, /* U+1F600 */
                                  0x00, 0xdc, /* lone low */ 0x00,
                                  0xd8, 'x',  0, /* lone high */
                                  0x41 };
    struct ms_buf b;
    ms_buf_init(&b, 64);
    assert_true(ms_ntlm_text(&b, ms_bytes_of(in, sizeof(in)), true));
    static const char want[] = "J\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbdx\xef\xbf\xbd";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.p, want, sizeof(want) - 1);
    ms_buf_free(&b);
    ms_buf_init(&b, 4); /* "J" (1) + "é" (2) fit, the emoji (4) does not */
    assert_false(ms_ntlm_text(&b, ms_bytes_of(in, sizeof(in)), true));
    assert_int_equal(b.len, 3);
    ms_buf_free(&b);
    ms_buf_init(&b, 3);
    assert_true(ms_ntlm_text(&b, ms_bytes_of("abc", 3), false));
    assert_false(ms_ntlm_text(&b, ms_bytes_of("d", 1), false));
    ms_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md4_rfc1320),      cmocka_unit_test(test_msnlmp_ntlmv2),
        cmocka_unit_test(test_hashcat_examples), cmocka_unit_test(test_bad_offsets),
        cmocka_unit_test(test_challenge),        cmocka_unit_test(test_utf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
