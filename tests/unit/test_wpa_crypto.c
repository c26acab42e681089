/* Known answers of the WPA2 key hierarchy and ciphers (capture/wpa_crypto.h).
 * Sources of the vectors, each written out as published:
 * - PBKDF2 PSK mapping: IEEE Std 802.11-2020 J.4.2 (802.11i-2004 H.4.2),
 *   as also in hostapd tests/test-sha1.c.
 * - PRF-SHA1: IEEE Std 802.11-2020 J.3.2 (802.11i-2004 H.3), "prefix"
 *   label, 64 bytes (PRF-512), again in hostapd tests/test-sha1.c.
 * - CCMP: IEEE Std 802.11-2012 M.6.4 (802.11i-2004 H.6.4) "CCMP test
 *   vector", the MPDU hostapd's wlantest/test_vectors.c and FreeBSD's
 *   ieee80211 crypto test module carry (test mpdu 1).
 * - AES-128-CMAC: RFC 4493 section 4, examples 1 and 2.
 * - AES key wrap: RFC 3394 section 4.1.
 * KDF-SHA256 (12.7.1.7.2) has no vector here: it is checked against the
 * definition written out byte by byte on OpenSSL's one-shot HMAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "../../capture/wpa_crypto.h"

static struct ms_wpa_crypto *cr;

static int setup(void **state)
{
    (void)state;
    cr = ms_wpa_crypto_new();
    return cr ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ms_wpa_crypto_free(cr);
    return 0;
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = h[2 * i + k];
            v = v * 16 + (unsigned)(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
        }
        out[i] = (uint8_t)v;
    }
}

static void test_psk_j4(void **state)
{
    (void)state;
    static const struct {
        const char *pass, *ssid, *psk;
    } v[] = {
        { "password", "IEEE", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e" },
        { "ThisIsAPassword", "ThisIsASSID",
          "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af" },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
          "becb93866bb8c3832cb777c2f559807c8c59afcb6eae734885001300a981cc62" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t want[32], got[32];
        unhex(v[i].psk, want, 32);
        assert_int_equal(ms_wpa_pmk(v[i].pass, strlen(v[i].pass), (const uint8_t *)v[i].ssid,
                                    strlen(v[i].ssid), got),
                         MS_OK);
        assert_memory_equal(got, want, 32);
    }
}

static void test_prf_j3(void **state)
{
    (void)state;
    uint8_t k0[20], k2[20], d2[50], want[64], got[64];
    memset(k0, 0x0b, sizeof(k0));
    memset(k2, 0xaa, sizeof(k2));
    memset(d2, 0xdd, sizeof(d2));
    unhex("bcd4c650b30b9684951829e0d75f9d54b862175ed9f00606e17d8da35402ffee"
          "75df78c3d31e0f889f012120c0862beb67753e7439ae242edb8373698356cf5a",
          want, 64);
    assert_int_equal(ms_wpa_prf_sha1(cr, k0, 20, "prefix", (const uint8_t *)"Hi There", 8, got, 64),
                     MS_OK);
    assert_memory_equal(got, want, 64);
    /* PRF-384 (a CCMP PTK's length) is the first 48 bytes of the same stream. */
    memset(got, 0, sizeof(got));
    assert_int_equal(ms_wpa_prf_sha1(cr, k0, 20, "prefix", (const uint8_t *)"Hi There", 8, got, 48),
                     MS_OK);
    assert_memory_equal(got, want, 48);
    assert_true(got[48] == 0);

    unhex("51f4de5b33f249adf81aeb713a3c20f4fe631446fabdfa58244759ae58ef9009"
          "a99abf4eac2ca5fa87e692c440eb40023e7babb206d61de7b92f41529092b8fc",
          want, 64);
    const char *d1 = "what do ya want for nothing?";
    assert_int_equal(ms_wpa_prf_sha1(cr, (const uint8_t *)"Jefe", 4, "prefix", (const uint8_t *)d1,
                                     strlen(d1), got, 64),
                     MS_OK);
    assert_memory_equal(got, want, 64);

    unhex("e1ac546ec4cb636f9976487be5c86be17a0252ca5d8d8df12cfb0473525249ce"
          "9dd8d177ead710bc9b590547239107aef7b4abd43d87f0a68f1cbd9e2b6f7607",
          want, 64);
    assert_int_equal(ms_wpa_prf_sha1(cr, k2, 20, "prefix", d2, sizeof(d2), got, 64), MS_OK);
    assert_memory_equal(got, want, 64);
}

/* 12.7.1.7.2 written out: HMAC-SHA256(K, LE16(i) || label || context || LE16(bits)). */
static void test_kdf_sha256(void **state)
{
    (void)state;
    uint8_t key[32], ctx[76], got[48], want[64];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(ctx); i++)
        ctx[i] = (uint8_t)(0xa5 ^ i);
    const char *label = "Pairwise key expansion";
    for (unsigned i = 1; i <= 2; i++) {
        uint8_t m[2 + 22 + 76 + 2];
        m[0] = (uint8_t)i;
        m[1] = 0;
        memcpy(m + 2, label, 22);
        memcpy(m + 24, ctx, 76);
        m[100] = 384 & 0xff;
        m[101] = 384 >> 8;
        unsigned len = 0;
        assert_non_null(
            HMAC(EVP_sha256(), key, 32, m, sizeof(m), want + (size_t)32 * (i - 1), &len));
        assert_int_equal(len, 32);
    }
    assert_int_equal(ms_wpa_kdf_sha256(cr, key, 32, label, ctx, sizeof(ctx), got, 48), MS_OK);
    assert_memory_equal(got, want, 48);
}

/* The PTK's input is ordered (min, max) whichever side is which. */
static void test_ptk_order(void **state)
{
    (void)state;
    uint8_t pmk[32], aa[6] = { 0x02, 1, 2, 3, 4, 5 }, spa[6] = { 0x00, 9, 9, 9, 9, 9 };
    uint8_t an[32], sn[32], p1[48], p2[48], p3[48];
    memset(pmk, 0x11, 32);
    memset(an, 0x22, 32);
    memset(sn, 0x33, 32);
    assert_int_equal(ms_wpa_ptk(cr, false, pmk, aa, spa, an, sn, p1), MS_OK);
    assert_int_equal(ms_wpa_ptk(cr, false, pmk, spa, aa, sn, an, p2), MS_OK);
    assert_memory_equal(p1, p2, 48);
    /* By hand: PRF-384(PMK, label, SPA || AA || ANonce || SNonce). */
    uint8_t d[76];
    memcpy(d, spa, 6);
    memcpy(d + 6, aa, 6);
    memcpy(d + 12, an, 32);
    memcpy(d + 44, sn, 32);
    assert_int_equal(ms_wpa_prf_sha1(cr, pmk, 32, "Pairwise key expansion", d, 76, p3, 48), MS_OK);
    assert_memory_equal(p1, p3, 48);
    assert_int_equal(ms_wpa_ptk(cr, true, pmk, aa, spa, an, sn, p2), MS_OK);
    assert_memory_not_equal(p1, p2, 48);
}

static void test_cmac_rfc4493(void **state)
{
    (void)state;
    uint8_t key[16], msg[16] = { 0 }, want[16], got[16];
    unhex("2b7e151628aed2a6abf7158809cf4f3c", key, 16);
    unhex("bb1d6929e95937287fa37d129b756746", want, 16);
    assert_int_equal(ms_wpa_eapol_mic(cr, 3, key, msg, 0, got), MS_OK);
    assert_memory_equal(got, want, 16);
    unhex("6bc1bee22e409f96e93d7e117393172a", msg, 16);
    unhex("070a16b46b4d4144f79bdd9dd04a287c", want, 16);
    assert_int_equal(ms_wpa_eapol_mic(cr, 3, key, msg, 16, got), MS_OK);
    assert_memory_equal(got, want, 16);
    /* Version 2: HMAC-SHA1 truncated to 128 bits (RFC 2202 test case 2). */
    unhex("effcdf6ae5eb2fa2d27416d5f184df9c", want, 16);
    const char *m2 = "what do ya want for nothing?";
    uint8_t kck[16] = { 'J', 'e', 'f', 'e' };
    /* The KCK is 16 bytes: RFC 2202's key "Jefe" zero-padded gives the same
     * HMAC (keys shorter than the block are zero-padded by HMAC itself). */
    assert_int_equal(ms_wpa_eapol_mic(cr, 2, kck, (const uint8_t *)m2, strlen(m2), got), MS_OK);
    assert_memory_equal(got, want, 16);
    assert_int_equal(ms_wpa_eapol_mic(cr, 1, kck, msg, 16, got), MS_ERR_ARG);
}

static void test_wrap_rfc3394(void **state)
{
    (void)state;
    uint8_t kek[16], key[16], want[24], got[24], back[16];
    unhex("000102030405060708090A0B0C0D0E0F", kek, 16);
    unhex("00112233445566778899AABBCCDDEEFF", key, 16);
    unhex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", want, 24);
    assert_int_equal(ms_wpa_key_wrap(cr, kek, key, 16, got), MS_OK);
    assert_memory_equal(got, want, 24);
    assert_int_equal(ms_wpa_key_unwrap(cr, kek, want, 24, back), MS_OK);
    assert_memory_equal(back, key, 16);
    want[5] ^= 1;
    assert_int_equal(ms_wpa_key_unwrap(cr, kek, want, 24, back), MS_ERR_PROTO);
    assert_int_equal(ms_wpa_key_unwrap(cr, kek, want, 20, back), MS_ERR_ARG);
}

/* M.6.4: TK, PN 0xB5039776E70C (header bytes 0c e7 .. 76 97 03 b5), a data frame with Retry set (which
 * the additional data masks), 20 bytes of plaintext. */
static void test_ccmp_m64(void **state)
{
    (void)state;
    uint8_t tk[16], hdr[24], plain[20], want[60], got[36], out[20];
    unhex("c97c1f67ce371185514a8a19f2bdd52f", tk, 16);
    unhex("0848c32c0fd2e128a57c5030f1844408abaea5b8fcba8033", hdr, 24);
    unhex("f8ba1a55d02f85ae967bb62fb6cda8eb7e78a050", plain, 20);
    unhex("0848c32c0fd2e128a57c5030f1844408abaea5b8fcba8033"
          "0ce70020769703b5"
          "f3d0a2fe9a3dbf2342a643e43246e80c3c04d019"
          "7845ce0b16f97623",
          want, 60);
    assert_int_equal(ms_wpa_ccmp_encrypt(cr, tk, hdr, 24, 0xB5039776E70Cull, 0, plain, 20, got),
                     MS_OK);
    assert_memory_equal(got, want + 24, 36);
    assert_int_equal(ms_wpa_ccmp_decrypt(cr, tk, want, 24, want + 24, 36, out), MS_OK);
    assert_memory_equal(out, plain, 20);
    /* Retry, Power Management and More Data are not authenticated ... */
    want[1] ^= 0x08 | 0x10 | 0x20;
    assert_int_equal(ms_wpa_ccmp_decrypt(cr, tk, want, 24, want + 24, 36, out), MS_OK);
    /* ... the addresses, the ciphertext and the MIC are. */
    for (size_t at = 4; at < 60; at++) {
        if ((at >= 22 && at < 24) || at == 26 || at == 27)
            continue; /* sequence number (masked), CCMP reserved and key id bytes */
        want[at] ^= 0x01;
        assert_int_equal(ms_wpa_ccmp_decrypt(cr, tk, want, 24, want + 24, 36, out), MS_ERR_PROTO);
        want[at] ^= 0x01;
    }
    /* Too short for a header and a MIC; no Ext IV (WEP). */
    assert_int_equal(ms_wpa_ccmp_decrypt(cr, tk, want, 24, want + 24, 16, out), MS_ERR_ARG);
    want[27] &= (uint8_t)~0x20;
    assert_int_equal(ms_wpa_ccmp_decrypt(cr, tk, want, 24, want + 24, 36, out), MS_ERR_ARG);
}

/* QoS data with A-MSDU Present: the bit is masked in the additional data
 * (no SPP A-MSDU), so flipping it keeps the MIC valid; the TID is not. */
static void test_ccmp_qos_amsdu(void **state)
{
    (void)state;
    uint8_t tk[16], hdr[26], plain[40], ct[56], out[40];
    memset(tk, 0x42, 16);
    unhex("8841"
          "3a01"
          "020000000001"
          "020000000002"
          "020000000003"
          "1000"
          "8500",
          hdr, 26);
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)i;
    assert_int_equal(ms_wpa_ccmp_encrypt(cr, tk, hdr, 26, 7, 0, plain, 40, ct), MS_OK);
    assert_int_equal(ms_wpa_ccmp_decrypt(cr, tk, hdr, 26, ct, 56, out), MS_OK);
    assert_memory_equal(out, plain, 40);
    hdr[24] &= 0x7f;
    assert_int_equal(ms_wpa_ccmp_decrypt(cr, tk, hdr, 26, ct, 56, out), MS_OK);
    hdr[24] ^= 0x01;
    assert_int_equal(ms_wpa_ccmp_decrypt(cr, tk, hdr, 26, ct, 56, out), MS_ERR_PROTO);
    /* A QoS header cut short is refused. */
    assert_int_equal(ms_wpa_ccmp_decrypt(cr, tk, hdr, 25, ct, 56, out), MS_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psk_j4),       cmocka_unit_test(test_prf_j3),
        cmocka_unit_test(test_kdf_sha256),   cmocka_unit_test(test_ptk_order),
        cmocka_unit_test(test_cmac_rfc4493), cmocka_unit_test(test_wrap_rfc3394),
        cmocka_unit_test(test_ccmp_m64),     cmocka_unit_test(test_ccmp_qos_amsdu),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
