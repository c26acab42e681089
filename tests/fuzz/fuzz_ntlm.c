/* Fuzz target for the NTLM message parsers (dissectors/ntlm.c). The input
 * is one message as SASL NTLM carries it after base64 (NEGOTIATE,
 * CHALLENGE or AUTHENTICATE), with no prefix, so real messages are seeds
 * as they are.
 *
 * Every security buffer comes from the wire, so what is checked is what
 * ntlm.h promises: each span handed back lies inside the message; names
 * decoded as UTF-16LE come out as valid UTF-8, also when a small cap cuts
 * them (whole characters only); hex is exactly two digits a byte or
 * nothing; a hashcat line is given whole or not at all. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dissectors/ntlm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A span that is present must lie within the message (an empty one may
 * point anywhere in it, or at its start). */
static void check_span(struct ms_bytes b, const uint8_t *m, size_t n)
{
    if (!b.p)
        return;
    if (b.p < m || b.len > n || (size_t)(b.p - m) > n - b.len)
        abort();
}

/* RFC 3629 section 4: shortest forms only, no surrogates, at most
 * U+10FFFF. */
static bool valid_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* Decodes a name field with a roomy and with a tiny cap. */
static void check_text(struct ms_bytes f, bool unicode, struct ms_buf *roomy)
{
    struct ms_buf tiny;
    ms_buf_init(&tiny, 5);
    ms_buf_reset(roomy);
    bool whole = ms_ntlm_text(roomy, f, unicode);
    bool tiny_whole = ms_ntlm_text(&tiny, f, unicode);
    if (!whole || tiny.len > 5)
        abort();
    if (unicode && (!valid_utf8(roomy->p, roomy->len) || !valid_utf8(tiny.p, tiny.len)))
        abort();
    /* What the small cap kept is the start of the whole text. */
    if (tiny.len > roomy->len || (tiny.len > 0 && memcmp(tiny.p, roomy->p, tiny.len) != 0))
        abort();
    if (tiny_whole && tiny.len != roomy->len)
        abort();
    ms_buf_free(&tiny);
}

static void check_hex(const uint8_t *p, size_t n)
{
    struct ms_buf h;
    ms_buf_init(&h, 2 * n);
    if (!ms_ntlm_hex(&h, p, n) || h.len != 2 * n)
        abort();
    for (size_t i = 0; i < h.len; i++)
        if (!((h.p[i] >= '0' && h.p[i] <= '9') || (h.p[i] >= 'a' && h.p[i] <= 'f')))
            abort();
    ms_buf_free(&h);
}

static void check_hashcat(const struct ms_ntlm_auth *a, const struct ms_buf *user,
                          const uint8_t chal[8])
{
    struct ms_buf line, small;
    ms_buf_init(&line, 1u << 20);
    ms_buf_init(&small, 64);
    bool cut = false, small_cut = false;
    struct ms_bytes u = ms_bytes_of(user->p, user->len);
    int mode = ms_ntlm_hashcat(&line, u, a->domain, chal, a->lm, a->nt, &cut);
    int small_mode = ms_ntlm_hashcat(&small, u, a->domain, chal, a->lm, a->nt, &small_cut);
    if (mode != 0 && mode != 5500 && mode != 5600)
        abort();
    if (cut || (mode != 0) != (line.len > 0))
        abort();
    /* Whole or nothing: a half line would not load in hashcat. */
    if (small_mode != 0 &&
        (small_mode != mode || small.len != line.len || memcmp(small.p, line.p, line.len) != 0))
        abort();
    if (small_mode == 0 && (small.len != 0 || (mode != 0 && !small_cut)))
        abort();
    ms_buf_free(&line);
    ms_buf_free(&small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t type = 0, flags = 0;
    if (ms_ntlm_type(data, size, &type) != MS_OK)
        return 0;
    /* The challenge a type 2 carries, else a fixed one. */
    uint8_t chal[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    if (ms_ntlm_parse_challenge(data, size, chal, &flags) == MS_OK && type != MS_NTLM_CHALLENGE)
        abort();
    struct ms_ntlm_auth a;
    if (ms_ntlm_parse_authenticate(data, size, &a) != MS_OK) {
        if (type == MS_NTLM_AUTHENTICATE && size >= 52)
            abort();
        return 0;
    }
    const struct ms_bytes *all[5] = { &a.lm, &a.nt, &a.domain, &a.user, &a.workstation };
    bool any_bad = false;
    for (size_t i = 0; i < 5; i++) {
        check_span(*all[i], data, size);
        any_bad |= all[i]->p == NULL;
        if (all[i]->p)
            check_hex(all[i]->p, all[i]->len);
    }
    if (any_bad != a.bad_offset)
        abort();
    struct ms_buf roomy, user;
    ms_buf_init(&roomy, 1u << 17);
    for (int unicode = 0; unicode < 2; unicode++)
        for (size_t i = 2; i < 5; i++)
            check_text(*all[i], unicode, &roomy);
    ms_buf_init(&user, 1u << 17);
    if (!ms_ntlm_text(&user, a.user, (a.flags & MS_NTLM_FLAG_UNICODE) != 0))
        abort();
    check_hashcat(&a, &user, chal);
    ms_buf_free(&roomy);
    ms_buf_free(&user);
    return 0;
}
