/* capture/wpa.c on hand-made 802.11 frames: beacons and association
 * requests, the EAPOL-Key messages of 4-way and group-key handshakes (MICs
 * and the wrapped GTK made with capture/wpa_crypto.h, whose own known
 * answers are in test_wpa_crypto.c), and CCMP data frames both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../capture/wpa.h"
#include "../../capture/wpa_crypto.h"
#include "../../common/alloc.h"
#include "../../common/limits.h"

static const uint8_t AP[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t STA[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t STA2[6] = { 0x02, 0, 0, 0, 0, 0x03 };
static const uint8_t HOST[6] = { 0x02, 0, 0, 0, 0, 0x09 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const char *SSID = "CafeNet";
static const char *PASS = "counter sign 2026";

struct t {
    struct ms_wpa *w;
    struct ms_wpa_crypto *c;
    uint8_t pmk[32];
    uint64_t now_us; /* the EAPOL frames' capture time */
};

/* A frame under construction: its header and body bytes. */
struct fr {
    uint8_t hdr[32];
    uint8_t body[2400];
    struct ms_wifi_frame f;
};

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->w = ms_wpa_new();
    t->c = ms_wpa_crypto_new();
    assert_non_null(t->w);
    assert_non_null(t->c);
    assert_int_equal(ms_wpa_pmk(PASS, strlen(PASS), (const uint8_t *)SSID, strlen(SSID), t->pmk),
                     MS_OK);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    ms_wpa_free(t->w);
    ms_wpa_crypto_free(t->c);
    free(t);
    return 0;
}

static void add_pass(struct t *t, const char *ssid, const char *pass)
{
    assert_int_equal(ms_wpa_add_passphrase(t->w, (const uint8_t *)ssid, strlen(ssid), pass,
                                           strlen(pass)),
                     MS_OK);
}

/* A QoS data frame between sta and the AP: from_ap (From DS) or to it (To
 * DS); ra overrides address 1 (group frames). */
static void data_frame(struct fr *x, const uint8_t *sta, bool from_ap, bool prot, uint8_t qc,
                       const uint8_t *ra)
{
    memset(x, 0, sizeof(*x));
    x->hdr[0] = 0x88;
    x->hdr[1] = (uint8_t)((from_ap ? 0x02 : 0x01) | (prot ? 0x40 : 0));
    const uint8_t *a1 = ra ? ra : from_ap ? sta : AP;
    const uint8_t *a2 = from_ap ? AP : sta;
    memcpy(x->hdr + 4, a1, 6);
    memcpy(x->hdr + 10, a2, 6);
    memcpy(x->hdr + 16, HOST, 6);
    x->hdr[22] = 0x10;
    x->hdr[24] = qc;
    x->f.hdr = x->hdr;
    x->f.hdr_len = 26;
    x->f.body = x->body;
    x->f.type = 2;
    x->f.subtype = 8;
    x->f.flags = x->hdr[1];
    x->f.qos = true;
    x->f.tid = qc & 0x0f;
    x->f.amsdu = qc & 0x80;
    x->f.ra = x->hdr + 4;
    x->f.ta = x->hdr + 10;
    x->f.bssid = from_ap ? x->hdr + 10 : x->hdr + 4;
    x->f.sa = from_ap ? x->hdr + 16 : x->hdr + 10;
    x->f.da = from_ap ? x->hdr + 4 : x->hdr + 16;
}

static void protect(struct t *t, struct fr *x, const uint8_t *tk, uint64_t pn, int key_id,
                    const uint8_t *plain, size_t n)
{
    assert_int_equal(ms_wpa_ccmp_encrypt(t->c, tk, x->hdr, 26, pn, key_id, plain, n, x->body),
                     MS_OK);
    x->f.body_len = n + 16;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* An EAPOL-Key frame (descriptor 2) in out; its length. */
static size_t eapol_key(uint8_t *out, unsigned info, uint64_t replay, const uint8_t *nonce,
                        const uint8_t *kd, size_t kd_len)
{
    memset(out, 0, 99 + kd_len);
    out[0] = 2;
    out[1] = 3;
    put16(out + 2, (unsigned)(95 + kd_len));
    out[4] = 2;
    put16(out + 5, info);
    put16(out + 7, 16);
    for (int i = 0; i < 8; i++)
        out[9 + i] = (uint8_t)(replay >> (56 - 8 * i));
    if (nonce)
        memcpy(out + 17, nonce, 32);
    put16(out + 97, (unsigned)kd_len);
    if (kd_len)
        memcpy(out + 99, kd, kd_len);
    return 99 + kd_len;
}

static void sign(struct t *t, uint8_t *m, size_t n, const uint8_t *kck)
{
    int ver = m[6] & 7;
    uint8_t mic[16];
    assert_int_equal(ms_wpa_eapol_mic(t->c, ver, kck, m, n, mic), MS_OK);
    memcpy(m + 81, mic, 16);
}

static enum ms_wpa_status send_eapol(struct t *t, const uint8_t *sta, bool from_ap,
                                     const uint8_t *m, size_t n, bool *first)
{
    struct fr x;
    struct ms_wpa_who who;
    data_frame(&x, sta, from_ap, false, 0, NULL);
    x.f.ts_us = t->now_us;
    return ms_wpa_eapol(t->w, &x.f, m, n, &who, first);
}

/* One handshake's nonces and the PTK they give with pmk. */
struct hs {
    uint8_t an[32], sn[32], ptk[48];
    int ver;
};

static void hs_init(struct t *t, struct hs *h, const uint8_t *sta, uint8_t seed, int ver,
                    const uint8_t *pmk)
{
    memset(h->an, 0xa0 ^ seed, 32);
    memset(h->sn, 0x50 ^ seed, 32);
    h->an[0] = seed;
    h->ver = ver;
    assert_int_equal(ms_wpa_ptk(t->c, ver == 3, pmk, AP, sta, h->an, h->sn, h->ptk), MS_OK);
}

static const uint8_t rsn_ie_psk[] = { 48,   20,   1, 0, 0, 0x0f, 0xac, 4,    1, 0, 0,
                                      0x0f, 0xac, 4, 1, 0, 0,    0x0f, 0xac, 2, 0, 0 };

static enum ms_wpa_status m1(struct t *t, const uint8_t *sta, const struct hs *h, uint64_t replay)
{
    uint8_t m[128];
    bool first;
    size_t n = eapol_key(m, (unsigned)(h->ver | 0x08 | 0x80), replay, h->an, NULL, 0);
    return send_eapol(t, sta, true, m, n, &first);
}

static enum ms_wpa_status m2(struct t *t, const uint8_t *sta, const struct hs *h, uint64_t replay,
                             bool *first)
{
    uint8_t m[160];
    size_t n = eapol_key(m, (unsigned)(h->ver | 0x08 | 0x100), replay, h->sn, rsn_ie_psk,
                         sizeof(rsn_ie_psk));
    sign(t, m, n, h->ptk);
    return send_eapol(t, sta, false, m, n, first);
}

/* Message 3 with the GTK KDE (key id kid) wrapped under the KEK. */
static enum ms_wpa_status m3(struct t *t, const uint8_t *sta, const struct hs *h, uint64_t replay,
                             const uint8_t gtk[16], int kid)
{
    uint8_t kd[48] = { 0 }, wrapped[56], m[200];
    memcpy(kd, rsn_ie_psk, sizeof(rsn_ie_psk));
    uint8_t *k = kd + sizeof(rsn_ie_psk);
    k[0] = 0xdd;
    k[1] = 22;
    k[2] = 0x00;
    k[3] = 0x0f;
    k[4] = 0xac;
    k[5] = 1;
    k[6] = (uint8_t)kid;
    memcpy(k + 8, gtk, 16);
    k[24] = 0xdd; /* padding to a multiple of 8: 22 + 24 = 46 -> 48 */
    assert_int_equal(ms_wpa_key_wrap(t->c, h->ptk + 16, kd, 48, wrapped), MS_OK);
    bool first;
    size_t n = eapol_key(m, (unsigned)(h->ver | 0x08 | 0x40 | 0x80 | 0x100 | 0x200 | 0x1000),
                         replay, h->an, wrapped, sizeof(wrapped));
    sign(t, m, n, h->ptk);
    return send_eapol(t, sta, true, m, n, &first);
}

static enum ms_wpa_status data(struct t *t, const uint8_t *sta, bool from_ap, const uint8_t *tk,
                               uint64_t pn, uint8_t qc, const uint8_t **out, size_t *out_len,
                               bool *first)
{
    static const uint8_t plain[] = "\xaa\xaa\x03\x00\x00\x00\x08\x00 an IPv4 packet, say";
    struct fr x;
    struct ms_wpa_who who;
    data_frame(&x, sta, from_ap, true, qc, NULL);
    protect(t, &x, tk, pn, 0, plain, sizeof(plain));
    enum ms_wpa_status s = ms_wpa_decrypt(t->w, &x.f, out, out_len, &who, first);
    if (s == MS_WPA_OK) {
        assert_int_equal(*out_len, sizeof(plain));
        assert_memory_equal(*out, plain, sizeof(plain));
    }
    assert_memory_equal(who.bssid, AP, 6);
    assert_memory_equal(who.client, sta, 6);
    return s;
}

static void beacon(struct t *t, const char *ssid, const uint8_t *rsn, size_t rsn_len)
{
    struct fr x;
    memset(&x, 0, sizeof(x));
    x.hdr[0] = 0x80;
    memcpy(x.hdr + 4, BCAST, 6);
    memcpy(x.hdr + 10, AP, 6);
    memcpy(x.hdr + 16, AP, 6);
    size_t n = 12;
    x.body[10] = 0x11; /* ESS, Privacy */
    x.body[n++] = 0;
    x.body[n++] = (uint8_t)strlen(ssid);
    memcpy(x.body + n, ssid, strlen(ssid));
    n += strlen(ssid);
    memcpy(x.body + n, rsn, rsn_len);
    n += rsn_len;
    x.f.hdr = x.hdr;
    x.f.hdr_len = 24;
    x.f.body = x.body;
    x.f.body_len = n;
    x.f.type = 0;
    x.f.subtype = 8;
    x.f.ra = x.hdr + 4;
    x.f.ta = x.hdr + 10;
    x.f.bssid = x.hdr + 16;
    ms_wpa_management(t->w, &x.f);
}

static void assoc_req(struct t *t, const uint8_t *sta, uint8_t akm, uint8_t cipher)
{
    struct fr x;
    memset(&x, 0, sizeof(x));
    memcpy(x.hdr + 4, AP, 6);
    memcpy(x.hdr + 10, sta, 6);
    memcpy(x.hdr + 16, AP, 6);
    uint8_t rsn[22];
    memcpy(rsn, rsn_ie_psk, sizeof(rsn));
    rsn[13] = cipher;
    rsn[19] = akm;
    size_t n = 4;
    x.body[n++] = 0;
    x.body[n++] = (uint8_t)strlen(SSID);
    memcpy(x.body + n, SSID, strlen(SSID));
    n += strlen(SSID);
    memcpy(x.body + n, rsn, sizeof(rsn));
    n += sizeof(rsn);
    x.f.hdr = x.hdr;
    x.f.hdr_len = 24;
    x.f.body = x.body;
    x.f.body_len = n;
    x.f.type = 0;
    x.f.subtype = 0;
    x.f.ra = x.hdr + 4;
    x.f.ta = x.hdr + 10;
    x.f.bssid = x.hdr + 16;
    ms_wpa_management(t->w, &x.f);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(ms_wpa_status_name(MS_WPA_OK), "ok");
    assert_string_equal(ms_wpa_status_name(MS_WPA_NO_HANDSHAKE), "no_handshake");
    assert_string_equal(ms_wpa_status_name(MS_WPA_WRONG_SECRET), "wrong_passphrase");
    assert_string_equal(ms_wpa_status_name(MS_WPA_NO_SECRET), "no_passphrase");
    assert_string_equal(ms_wpa_status_name(MS_WPA_SAE), "wpa3_sae");
    assert_string_equal(ms_wpa_status_name(MS_WPA_ENTERPRISE), "enterprise");
    assert_string_equal(ms_wpa_status_name(MS_WPA_UNSUPPORTED), "unsupported");
    assert_string_equal(ms_wpa_status_name(MS_WPA_DECRYPT_FAILED), "decrypt_failed");
    assert_string_equal(ms_wpa_status_name(MS_WPA_MALFORMED), "malformed");
}

static void test_passphrase_bounds(void **state)
{
    struct t *t = *state;
    const uint8_t *s = (const uint8_t *)"x";
    assert_false(ms_wpa_has_secrets(t->w));
    assert_int_equal(ms_wpa_add_passphrase(t->w, s, 1, "1234567", 7), MS_ERR_ARG);
    assert_int_equal(ms_wpa_add_passphrase(t->w, s, 0, "12345678", 8), MS_ERR_ARG);
    assert_int_equal(ms_wpa_add_passphrase(t->w, s, 33, "12345678", 8), MS_ERR_ARG);
    assert_int_equal(ms_wpa_add_passphrase(t->w, s, 1, "1234\n678", 8), MS_ERR_ARG);
    char p64[65];
    memset(p64, 'a', 64);
    p64[64] = 0;
    assert_int_equal(ms_wpa_add_passphrase(t->w, s, 1, p64, 64), MS_ERR_ARG);
    assert_false(ms_wpa_has_secrets(t->w));
    assert_int_equal(ms_wpa_add_passphrase(t->w, s, 1, p64, 63), MS_OK);
    assert_true(ms_wpa_has_secrets(t->w));
}

/* Messages 1 and 2 alone (3 and 4 not captured) give the PTK: traffic both
 * ways decrypts, and the SSID learned from the beacon is in *who. */
static void test_m1_m2(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    beacon(t, SSID, rsn_ie_psk, sizeof(rsn_ie_psk));
    struct hs h;
    hs_init(t, &h, STA, 1, 2, t->pmk);
    bool first;
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    const uint8_t *out;
    size_t n;
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, true, h.ptk + 32, 1, 5, &out, &n, &first), MS_WPA_OK);
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.handshakes, 1);
    assert_int_equal(st.clients, 1);
    /* A retransmitted message 2 installs nothing new. */
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.handshakes, 1);

    struct fr x;
    struct ms_wpa_who who;
    data_frame(&x, STA, false, true, 0, NULL);
    protect(t, &x, h.ptk + 32, 2, 0, (const uint8_t *)"0123456789", 10);
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_OK);
    assert_int_equal(who.ssid_len, strlen(SSID));
    assert_memory_equal(who.ssid, SSID, strlen(SSID));
}

/* A retransmitted message 1 brings a new ANonce; message 2 answers it. */
static void test_retransmitted_m1(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs a, b;
    hs_init(t, &a, STA, 1, 2, t->pmk);
    hs_init(t, &b, STA, 2, 2, t->pmk);
    memcpy(b.sn, a.sn, 32); /* the supplicant's SNonce, with the second ANonce */
    assert_int_equal(ms_wpa_ptk(t->c, false, t->pmk, AP, STA, b.an, b.sn, b.ptk), MS_OK);
    bool first;
    assert_int_equal(m1(t, STA, &a, 1), MS_WPA_OK);
    assert_int_equal(m1(t, STA, &b, 2), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &b, 2, &first), MS_WPA_OK);
    const uint8_t *out;
    size_t n;
    assert_int_equal(data(t, STA, false, b.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, a.ptk + 32, 2, 0, &out, &n, &first),
                     MS_WPA_DECRYPT_FAILED);
}

/* Message 1 not captured: message 2 waits for message 3's ANonce. The GTK
 * of message 3 then reads group frames of its key id. */
static void test_m2_then_m3_gtk(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs h;
    hs_init(t, &h, STA, 3, 2, t->pmk);
    bool first;
    const uint8_t *out;
    size_t n;
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_NO_HANDSHAKE);
    assert_true(first);
    uint8_t gtk[16];
    memset(gtk, 0x77, 16);
    assert_int_equal(m3(t, STA, &h, 2, gtk, 1), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, h.ptk + 32, 2, 0, &out, &n, &first), MS_WPA_OK);
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.handshakes, 1);
    assert_int_equal(st.group_keys, 1);

    static const uint8_t arp[] = "\xaa\xaa\x03\x00\x00\x00\x08\x06 who has";
    struct fr x;
    struct ms_wpa_who who;
    data_frame(&x, STA, true, true, 0, BCAST);
    protect(t, &x, gtk, 9, 1, arp, sizeof(arp));
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_OK);
    assert_memory_equal(out, arp, sizeof(arp));
    /* Key id 2 was never given. */
    data_frame(&x, STA, true, true, 0, BCAST);
    protect(t, &x, gtk, 10, 2, arp, sizeof(arp));
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_NO_HANDSHAKE);
    assert_true(first);
    assert_memory_equal(who.client, BCAST, 6);
    /* A message 3 whose MIC is not of this PTK gives no key. */
    struct hs other;
    hs_init(t, &other, STA, 3, 2, t->pmk);
    other.ptk[0] ^= 1;
    uint8_t gtk2[16];
    memset(gtk2, 0x88, 16);
    assert_int_equal(m3(t, STA, &other, 3, gtk2, 1), MS_WPA_OK);
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.group_keys, 1);
}

/* Message 1 not captured and a wrong passphrase: said at message 3. */
static void test_wrong_passphrase_at_m3(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, "not the passphrase");
    struct hs h;
    hs_init(t, &h, STA, 15, 2, t->pmk);
    bool first = false;
    uint8_t gtk[16] = { 0 };
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    assert_int_equal(m3(t, STA, &h, 2, gtk, 1), MS_WPA_WRONG_SECRET);
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.wrong_secret, 1);
    assert_int_equal(st.group_keys, 0);
}

/* A wrong passphrase: message 2's MIC matches no PMK, said once. */
static void test_wrong_passphrase(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, "not the passphrase");
    beacon(t, SSID, rsn_ie_psk, sizeof(rsn_ie_psk));
    struct hs h;
    hs_init(t, &h, STA, 4, 2, t->pmk);
    bool first = false;
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_WRONG_SECRET);
    assert_true(first);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_WRONG_SECRET);
    assert_false(first);
    const uint8_t *out;
    size_t n;
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_WRONG_SECRET);
    assert_false(first);
    assert_null(out);
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.wrong_secret, 2);
    assert_int_equal(st.handshakes, 0);
    /* The right one given as a PMK (--wpa-psk) reads the next attempt. */
    assert_int_equal(ms_wpa_add_pmk(t->w, t->pmk), MS_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, h.ptk + 32, 2, 0, &out, &n, &first), MS_WPA_OK);
}

/* Passphrases of another SSID only: no passphrase for this network. When
 * the SSID is unknown, every passphrase is tried and the SSID learned. */
static void test_no_secret_and_unknown_ssid(void **state)
{
    struct t *t = *state;
    add_pass(t, "OtherNet", "some other pass");
    beacon(t, SSID, rsn_ie_psk, sizeof(rsn_ie_psk));
    struct hs h;
    hs_init(t, &h, STA, 5, 2, t->pmk);
    bool first;
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_NO_SECRET);
    assert_true(first);
    const uint8_t *out;
    size_t n;
    assert_int_equal(data(t, STA2, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_NO_SECRET);

    struct ms_wpa *w2 = ms_wpa_new();
    assert_non_null(w2);
    ms_wpa_free(t->w);
    t->w = w2;
    add_pass(t, "OtherNet", "some other pass");
    add_pass(t, SSID, PASS);
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    struct fr x;
    struct ms_wpa_who who;
    data_frame(&x, STA, true, true, 0, NULL);
    protect(t, &x, h.ptk + 32, 1, 0, (const uint8_t *)"hello", 5);
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_OK);
    assert_memory_equal(who.ssid, SSID, strlen(SSID));
}

/* A client whose handshake was not captured, said once per client. */
static void test_no_handshake(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    beacon(t, SSID, rsn_ie_psk, sizeof(rsn_ie_psk));
    uint8_t tk[16] = { 1 };
    bool first = false;
    const uint8_t *out;
    size_t n;
    assert_int_equal(data(t, STA2, false, tk, 1, 0, &out, &n, &first), MS_WPA_NO_HANDSHAKE);
    assert_true(first);
    assert_int_equal(data(t, STA2, true, tk, 2, 0, &out, &n, &first), MS_WPA_NO_HANDSHAKE);
    assert_false(first);
    assert_int_equal(data(t, STA, true, tk, 2, 0, &out, &n, &first), MS_WPA_NO_HANDSHAKE);
    assert_true(first);
}

/* A re-key: the frame sent under the old PTK arriving after it decrypts. */
static void test_rekey(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs a, b;
    hs_init(t, &a, STA, 6, 2, t->pmk);
    hs_init(t, &b, STA, 7, 2, t->pmk);
    bool first;
    const uint8_t *out;
    size_t n;
    assert_int_equal(m1(t, STA, &a, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &a, 1, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, a.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
    assert_int_equal(m1(t, STA, &b, 5), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &b, 5, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, b.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, true, a.ptk + 32, 2, 0, &out, &n, &first), MS_WPA_OK);
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.handshakes, 2);
}

/* A damaged frame does not verify. */
static void test_flipped_byte(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs h;
    hs_init(t, &h, STA, 8, 2, t->pmk);
    bool first;
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    struct fr x;
    struct ms_wpa_who who;
    const uint8_t *out;
    size_t n;
    data_frame(&x, STA, false, true, 0, NULL);
    protect(t, &x, h.ptk + 32, 3, 0, (const uint8_t *)"payload bytes", 13);
    x.body[12] ^= 0x04;
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_DECRYPT_FAILED);
    assert_true(first);
    assert_null(out);
    x.body[12] ^= 0x04;
    x.f.body_len = 12;
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_MALFORMED);
    x.f.body_len = 13 + 16;
    x.body[3] = 0; /* no Ext IV: WEP */
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_UNSUPPORTED);
}

/* A-MSDU (QoS control bit 7) frames decrypt like others. */
static void test_amsdu(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs h;
    hs_init(t, &h, STA, 9, 2, t->pmk);
    bool first;
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    const uint8_t *out;
    size_t n;
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0x80 | 6, &out, &n, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, true, h.ptk + 32, 1, 0x80, &out, &n, &first), MS_WPA_OK);
}

/* PSK-SHA256 (AKM 6): KDF-SHA256 PTK and AES-CMAC MICs, with and without
 * the association request. */
static void test_psk_sha256(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    assoc_req(t, STA, 6, 4);
    struct hs h;
    hs_init(t, &h, STA, 10, 3, t->pmk);
    bool first;
    const uint8_t *out;
    size_t n;
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
    struct hs h2;
    hs_init(t, &h2, STA2, 11, 3, t->pmk);
    assert_int_equal(m1(t, STA2, &h2, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA2, &h2, 1, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA2, true, h2.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
}

/* What cannot be read is said as such. */
static void test_sae_enterprise_tkip(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs h;
    hs_init(t, &h, STA, 12, 2, t->pmk);
    bool first;
    const uint8_t *out;
    size_t n;
    assoc_req(t, STA, 8, 4);
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_SAE);
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_SAE);
    assert_false(first);
    assoc_req(t, STA2, 1, 4);
    assert_int_equal(data(t, STA2, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_ENTERPRISE);
    assert_true(first);
    assoc_req(t, STA, 2, 2); /* PSK with TKIP */
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_UNSUPPORTED);
    /* Descriptor version 1 (HMAC-MD5, TKIP) without an association seen. */
    struct hs v1 = h;
    v1.ver = 1;
    static const uint8_t C[6] = { 0x02, 0, 0, 0, 0, 0x0c };
    assert_int_equal(m1(t, C, &v1, 1), MS_WPA_UNSUPPORTED);
    assert_int_equal(data(t, C, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_UNSUPPORTED);
    assert_false(first);
}

/* EAPOL-Key frames cut short or with lengths past their end. */
static void test_malformed_eapol(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs h;
    hs_init(t, &h, STA, 13, 2, t->pmk);
    uint8_t m[160];
    bool first;
    size_t n = eapol_key(m, 2 | 0x08 | 0x100, 1, h.sn, rsn_ie_psk, sizeof(rsn_ie_psk));
    sign(t, m, n, h.ptk);
    for (size_t cut = 0; cut < n; cut++) {
        enum ms_wpa_status s = send_eapol(t, STA, false, m, cut, &first);
        assert_int_equal(s, MS_WPA_MALFORMED);
    }
    m[98] = 200; /* Key Data Length past the frame */
    assert_int_equal(send_eapol(t, STA, false, m, n, &first), MS_WPA_MALFORMED);
    m[98] = sizeof(rsn_ie_psk);
    m[4] = 7; /* no such descriptor type */
    assert_int_equal(send_eapol(t, STA, false, m, n, &first), MS_WPA_MALFORMED);
    /* EAP packets are not EAPOL-Key frames: nothing to say. */
    uint8_t eap[8] = { 2, 0, 0, 4, 1, 1, 0, 4 };
    assert_int_equal(send_eapol(t, STA, false, eap, sizeof(eap), &first), MS_WPA_OK);
}

/* Past MS_WPA_CLIENTS_MAX the least recently seen client is forgotten. */
static void test_client_cap(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    uint8_t tk[16] = { 0 };
    const uint8_t *out;
    size_t n;
    bool first;
    for (unsigned i = 0; i < 16384 + 10; i++) {
        uint8_t sta[6] = { 0x02, 0x10, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
        struct fr x;
        struct ms_wpa_who who;
        data_frame(&x, sta, false, true, 0, NULL);
        x.body[3] = 0x20;
        x.f.body_len = 40;
        assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_NO_HANDSHAKE);
    }
    (void)tk;
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.clients, 16384);
    assert_int_equal(st.clients_evicted, 10);
}

/* Every allocation failing in turn: no crash, no leak. */
static void test_alloc_fail(void **state)
{
    struct t *t = *state;
    struct hs h;
    hs_init(t, &h, STA, 14, 2, t->pmk);
    for (uint64_t at = 1; at < 64; at++) {
        struct ms_alloc_hook hook = { .fail_at = at };
        ms_alloc_set_hook(&hook);
        struct ms_wpa *w = ms_wpa_new();
        if (w) {
            struct ms_wpa *keep = t->w;
            t->w = w;
            (void)ms_wpa_add_passphrase(w, (const uint8_t *)SSID, strlen(SSID), PASS, strlen(PASS));
            bool first;
            const uint8_t *out;
            size_t n;
            (void)m1(t, STA, &h, 1);
            (void)m2(t, STA, &h, 1, &first);
            (void)data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first);
            t->w = keep;
            ms_wpa_free(w);
        }
        ms_alloc_set_hook(NULL);
        assert_int_equal(hook.live, 0);
        if (!hook.failed)
            break;
    }
}

/* One EAPOL-Key frame no MIC vouches for (TKIP's descriptor version 1, as
 * anyone on the channel can send with the client's address) does not stop
 * the client's real WPA2 handshake after it from being read. */
static void test_unverified_eapol_not_sticky(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    beacon(t, SSID, rsn_ie_psk, sizeof(rsn_ie_psk));
    struct hs h;
    hs_init(t, &h, STA, 20, 2, t->pmk);
    struct hs v1 = h;
    v1.ver = 1;
    bool first;
    const uint8_t *out;
    size_t n;
    (void)m1(t, STA, &v1, 7);
    assert_int_equal(m1(t, STA, &h, 8), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 8, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
}

/* A message 1 of an earlier, abandoned handshake with the replay counter a
 * new association starts again from, then the new handshake's message 2
 * (its message 1 missed): message 2 alone cannot tell it from a wrong
 * passphrase, but it is kept, and message 3 completes the handshake. */
static void test_stale_m1_same_replay(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs a, b;
    hs_init(t, &a, STA, 21, 2, t->pmk);
    hs_init(t, &b, STA, 22, 2, t->pmk);
    bool first;
    const uint8_t *out;
    size_t n;
    uint8_t gtk[16] = { 3 };
    assert_int_equal(m1(t, STA, &a, 1), MS_WPA_OK);
    /* A minute later, a new association's message 2: message 1 above is
     * not what it answers (no verdict until message 3). */
    t->now_us = (uint64_t)60 * 1000 * 1000;
    assert_int_equal(m2(t, STA, &b, 1, &first), MS_WPA_OK);
    assert_int_equal(m3(t, STA, &b, 2, gtk, 1), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, b.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.handshakes, 1);
    assert_int_equal(st.group_keys, 1);
    assert_int_equal(st.wrong_secret, 0);
}

/* Within the bound, a message 2 that no PMK verifies is a wrong passphrase
 * as soon as it comes. */
static void test_m1_m2_in_time_wrong(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, "not the passphrase");
    struct hs h;
    hs_init(t, &h, STA, 25, 2, t->pmk);
    bool first;
    t->now_us = 1000;
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    t->now_us += MS_WPA_M1_M2_MAX_US;
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_WRONG_SECRET);
}

/* Frames of made-up addresses, more than the tables hold, after a real
 * handshake: the client's PTK and the network's GTK stay. */
static void test_flood_keeps_keys(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs h;
    hs_init(t, &h, STA, 31, 2, t->pmk);
    bool first;
    const uint8_t *out;
    size_t n;
    uint8_t gtk[16];
    memset(gtk, 0x5a, 16);
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    assert_int_equal(m3(t, STA, &h, 2, gtk, 1), MS_WPA_OK);
    for (unsigned i = 0; i < MS_WPA_CLIENTS_MAX + 100; i++) {
        uint8_t sta[6] = { 0x02, 0x20, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
        struct fr x;
        struct ms_wpa_who who;
        data_frame(&x, sta, false, true, 0, NULL);
        x.hdr[4 + 1] = 0x30; /* another BSSID each time */
        x.hdr[4 + 4] = (uint8_t)(i >> 8);
        x.hdr[4 + 5] = (uint8_t)i;
        x.body[3] = 0x20;
        x.f.body_len = 40;
        (void)ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first);
    }
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.clients, MS_WPA_CLIENTS_MAX);
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
    static const uint8_t arp[] = "\xaa\xaa\x03\x00\x00\x00\x08\x06 who has";
    struct fr x;
    struct ms_wpa_who who;
    data_frame(&x, STA, true, true, 0, BCAST);
    protect(t, &x, gtk, 3, 1, arp, sizeof(arp));
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_OK);
}

/* A damaged (or forged) message 2 of a client already reading with a PMK's
 * PTK: no wrong passphrase, and the PTK still reads. */
static void test_damaged_m2_after_ptk(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs h, bad;
    hs_init(t, &h, STA, 32, 2, t->pmk);
    hs_init(t, &bad, STA, 33, 2, t->pmk);
    bad.ptk[0] ^= 1;
    bool first;
    const uint8_t *out;
    size_t n;
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    assert_int_equal(m1(t, STA, &bad, 2), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &bad, 2, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.wrong_secret, 0);
}

/* A four-address frame (To DS and From DS: WDS, wds_sta) of a client whose
 * handshake was seen with three addresses: read with its PTK. */
static void wds_frame(struct t *t, struct fr *x, const uint8_t *a1, const uint8_t *a2,
                      const uint8_t *tk, uint64_t pn, const uint8_t *plain, size_t len)
{
    static const uint8_t far[6] = { 0x02, 0, 0, 0, 0, 0x0a };
    memset(x, 0, sizeof(*x));
    x->hdr[0] = 0x88;
    x->hdr[1] = 0x03 | 0x40;
    memcpy(x->hdr + 4, a1, 6);
    memcpy(x->hdr + 10, a2, 6);
    memcpy(x->hdr + 16, HOST, 6);
    x->hdr[22] = 0x20;
    memcpy(x->hdr + 24, far, 6);
    x->f.hdr = x->hdr;
    x->f.hdr_len = 32;
    x->f.body = x->body;
    x->f.type = 2;
    x->f.subtype = 8;
    x->f.flags = x->hdr[1];
    x->f.qos = true;
    x->f.ra = x->hdr + 4;
    x->f.ta = x->hdr + 10;
    x->f.bssid = NULL;
    x->f.da = x->hdr + 16;
    x->f.sa = x->hdr + 24;
    assert_int_equal(ms_wpa_ccmp_encrypt(t->c, tk, x->hdr, 32, pn, 0, plain, len, x->body), MS_OK);
    x->f.body_len = len + 16;
}

static void test_wds_four_addresses(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs h;
    hs_init(t, &h, STA, 34, 2, t->pmk);
    bool first;
    const uint8_t *out;
    size_t n;
    struct fr x;
    struct ms_wpa_who who;
    static const uint8_t plain[] = "\xaa\xaa\x03\x00\x00\x00\x08\x00 four addresses";
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &h, 1, &first), MS_WPA_OK);
    wds_frame(t, &x, AP, STA, h.ptk + 32, 1, plain, sizeof(plain));
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_OK);
    assert_int_equal(n, sizeof(plain));
    assert_memory_equal(out, plain, sizeof(plain));
    assert_memory_equal(who.bssid, AP, 6);
    assert_memory_equal(who.client, STA, 6);
    wds_frame(t, &x, STA, AP, h.ptk + 32, 2, plain, sizeof(plain));
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_OK);
    assert_memory_equal(who.client, STA, 6);
    /* A link of stations never seen: nothing to read it with. */
    wds_frame(t, &x, STA2, HOST, h.ptk + 32, 3, plain, sizeof(plain));
    assert_int_equal(ms_wpa_decrypt(t->w, &x.f, &out, &n, &who, &first), MS_WPA_UNSUPPORTED);
}

/* The other way: a message 2 whose message 1 and 3 were missed, then a new
 * association's message 1 with the same replay counter: not a wrong
 * passphrase. */
static void test_stale_m2_then_new_m1(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs a, b;
    hs_init(t, &a, STA, 23, 2, t->pmk);
    hs_init(t, &b, STA, 24, 2, t->pmk);
    bool first;
    const uint8_t *out;
    size_t n;
    assert_int_equal(m2(t, STA, &a, 1, &first), MS_WPA_OK);
    assert_int_equal(m1(t, STA, &b, 1), MS_WPA_OK);
    assert_int_equal(m2(t, STA, &b, 1, &first), MS_WPA_OK);
    assert_int_equal(data(t, STA, false, b.ptk + 32, 1, 0, &out, &n, &first), MS_WPA_OK);
    struct ms_wpa_stats st;
    ms_wpa_get_stats(t->w, &st);
    assert_int_equal(st.wrong_secret, 0);
}

/* A retransmitted message 1 (same ANonce, next replay counter) and the
 * message 2 answering the first one, under a wrong passphrase: said, at
 * message 2 or at the latest at message 3. */
static void test_retransmitted_m1_wrong_passphrase(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, "not the passphrase");
    struct hs h;
    hs_init(t, &h, STA, 25, 2, t->pmk);
    bool first;
    uint8_t gtk[16] = { 0 };
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    assert_int_equal(m1(t, STA, &h, 2), MS_WPA_OK);
    enum ms_wpa_status s2 = m2(t, STA, &h, 1, &first);
    enum ms_wpa_status s3 = m3(t, STA, &h, 3, gtk, 1);
    assert_true(s2 == MS_WPA_WRONG_SECRET || s3 == MS_WPA_WRONG_SECRET);
}

/* Bytes after the EAPOL frame (a data frame's padding) are not under the
 * MIC: the EAPOL length field says where the frame ends. */
static void test_eapol_trailing_padding(void **state)
{
    struct t *t = *state;
    add_pass(t, SSID, PASS);
    struct hs h;
    hs_init(t, &h, STA, 26, 2, t->pmk);
    assert_int_equal(m1(t, STA, &h, 1), MS_WPA_OK);
    uint8_t m[200];
    size_t n = eapol_key(m, 2 | 0x08 | 0x100, 1, h.sn, rsn_ie_psk, sizeof(rsn_ie_psk));
    sign(t, m, n, h.ptk);
    memset(m + n, 0xee, 18);
    bool first;
    assert_int_equal(send_eapol(t, STA, false, m, n + 18, &first), MS_WPA_OK);
    const uint8_t *out;
    size_t len;
    assert_int_equal(data(t, STA, false, h.ptk + 32, 1, 0, &out, &len, &first), MS_WPA_OK);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_names),
        T(test_passphrase_bounds),
        T(test_m1_m2),
        T(test_retransmitted_m1),
        T(test_m2_then_m3_gtk),
        T(test_wrong_passphrase),
        T(test_wrong_passphrase_at_m3),
        T(test_no_secret_and_unknown_ssid),
        T(test_no_handshake),
        T(test_rekey),
        T(test_flipped_byte),
        T(test_amsdu),
        T(test_psk_sha256),
        T(test_sae_enterprise_tkip),
        T(test_malformed_eapol),
        T(test_client_cap),
        T(test_alloc_fail),
        T(test_unverified_eapol_not_sticky),
        T(test_stale_m1_same_replay),
        T(test_m1_m2_in_time_wrong),
        T(test_flood_keeps_keys),
        T(test_damaged_m2_after_ptk),
        T(test_wds_four_addresses),
        T(test_stale_m2_then_new_m1),
        T(test_retransmitted_m1_wrong_passphrase),
        T(test_eapol_trailing_padding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
