#include "wpa_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

#include "../common/alloc.h"

struct ms_wpa_crypto {
    EVP_MAC *hmac, *cmac;
    EVP_MAC_CTX *sha1, *sha256, *aes_cmac;
    EVP_CIPHER *ccm, *wrap;
    EVP_CIPHER_CTX *cipher;
};

static EVP_MAC_CTX *mac_ctx(EVP_MAC *mac, const char *name, const char *value)
{
    EVP_MAC_CTX *m = EVP_MAC_CTX_new(mac);
    if (!m)
        return NULL;
    OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string(name, (char *)value, 0),
                       OSSL_PARAM_construct_end() };
    if (EVP_MAC_CTX_set_params(m, p) != 1) {
        EVP_MAC_CTX_free(m);
        return NULL;
    }
    return m;
}

struct ms_wpa_crypto *ms_wpa_crypto_new(void)
{
    struct ms_wpa_crypto *c = ms_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    c->cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    c->ccm = EVP_CIPHER_fetch(NULL, "AES-128-CCM", NULL);
    c->wrap = EVP_CIPHER_fetch(NULL, "AES-128-WRAP", NULL);
    c->cipher = EVP_CIPHER_CTX_new();
    if (c->hmac && c->cmac) {
        c->sha1 = mac_ctx(c->hmac, OSSL_MAC_PARAM_DIGEST, "SHA1");
        c->sha256 = mac_ctx(c->hmac, OSSL_MAC_PARAM_DIGEST, "SHA256");
        c->aes_cmac = mac_ctx(c->cmac, OSSL_MAC_PARAM_CIPHER, "AES-128-CBC");
    }
    if (!c->sha1 || !c->sha256 || !c->aes_cmac || !c->ccm || !c->wrap || !c->cipher) {
        ms_wpa_crypto_free(c);
        return NULL;
    }
    return c;
}

void ms_wpa_crypto_free(struct ms_wpa_crypto *c)
{
    if (!c)
        return;
    EVP_MAC_CTX_free(c->sha1);
    EVP_MAC_CTX_free(c->sha256);
    EVP_MAC_CTX_free(c->aes_cmac);
    EVP_MAC_free(c->hmac);
    EVP_MAC_free(c->cmac);
    EVP_CIPHER_CTX_free(c->cipher);
    EVP_CIPHER_free(c->ccm);
    EVP_CIPHER_free(c->wrap);
    ms_free(c);
}

enum ms_rc ms_wpa_pmk(const char *pass, size_t pass_len, const uint8_t *ssid, size_t ssid_len,
                      uint8_t pmk[32])
{
    if (pass_len > 63 || ssid_len > 32)
        return MS_ERR_ARG;
    return PKCS5_PBKDF2_HMAC_SHA1(pass, (int)pass_len, ssid, (int)ssid_len, 4096, 32, pmk) == 1
               ? MS_OK
               : MS_ERR_NOMEM;
}

/* One MAC over up to four pieces (NULL pieces skipped). */
static enum ms_rc mac4(EVP_MAC_CTX *m, const uint8_t *key, size_t key_len, const void *p1,
                       size_t n1, const void *p2, size_t n2, const void *p3, size_t n3,
                       const void *p4, size_t n4, uint8_t *out, size_t out_max)
{
    size_t got = 0;
    if (EVP_MAC_init(m, key, key_len, NULL) != 1)
        return MS_ERR_NOMEM;
    if ((n1 && EVP_MAC_update(m, p1, n1) != 1) || (n2 && EVP_MAC_update(m, p2, n2) != 1) ||
        (n3 && EVP_MAC_update(m, p3, n3) != 1) || (n4 && EVP_MAC_update(m, p4, n4) != 1) ||
        EVP_MAC_final(m, out, &got, out_max) != 1)
        return MS_ERR_NOMEM;
    return MS_OK;
}

enum ms_rc ms_wpa_prf_sha1(struct ms_wpa_crypto *c, const uint8_t *key, size_t key_len,
                           const char *label, const uint8_t *data, size_t data_len, uint8_t *out,
                           size_t out_len)
{
    uint8_t h[20];
    const uint8_t zero = 0;
    for (size_t pos = 0, i = 0; pos < out_len; i++) {
        uint8_t ctr = (uint8_t)i;
        enum ms_rc rc = mac4(c->sha1, key, key_len, label, strlen(label), &zero, 1, data, data_len,
                             &ctr, 1, h, sizeof(h));
        if (rc != MS_OK) {
            OPENSSL_cleanse(h, sizeof(h)); /* the last block, key material */
            return rc;
        }
        size_t n = out_len - pos < sizeof(h) ? out_len - pos : sizeof(h);
        memcpy(out + pos, h, n);
        pos += n;
    }
    OPENSSL_cleanse(h, sizeof(h));
    return MS_OK;
}

enum ms_rc ms_wpa_kdf_sha256(struct ms_wpa_crypto *c, const uint8_t *key, size_t key_len,
                             const char *label, const uint8_t *data, size_t data_len, uint8_t *out,
                             size_t out_len)
{
    uint8_t h[32];
    size_t bits = out_len * 8;
    if (bits > 0xffff)
        return MS_ERR_ARG;
    uint8_t len_le[2] = { (uint8_t)bits, (uint8_t)(bits >> 8) };
    for (size_t pos = 0, i = 1; pos < out_len; i++) {
        uint8_t i_le[2] = { (uint8_t)i, (uint8_t)(i >> 8) };
        enum ms_rc rc = mac4(c->sha256, key, key_len, i_le, 2, label, strlen(label), data, data_len,
                             len_le, 2, h, sizeof(h));
        if (rc != MS_OK) {
            OPENSSL_cleanse(h, sizeof(h)); /* the last block, key material */
            return rc;
        }
        size_t n = out_len - pos < sizeof(h) ? out_len - pos : sizeof(h);
        memcpy(out + pos, h, n);
        pos += n;
    }
    OPENSSL_cleanse(h, sizeof(h));
    return MS_OK;
}

enum ms_rc ms_wpa_ptk(struct ms_wpa_crypto *c, bool sha256, const uint8_t pmk[32],
                      const uint8_t aa[6], const uint8_t spa[6], const uint8_t anonce[32],
                      const uint8_t snonce[32], uint8_t ptk[MS_WPA_PTK_LEN])
{
    /* Min(AA, SPA) || Max(AA, SPA) || Min(ANonce, SNonce) || Max(ANonce, SNonce) */
    uint8_t d[6 + 6 + 32 + 32];
    bool a_low = memcmp(aa, spa, 6) < 0;
    memcpy(d, a_low ? aa : spa, 6);
    memcpy(d + 6, a_low ? spa : aa, 6);
    bool an_low = memcmp(anonce, snonce, 32) < 0;
    memcpy(d + 12, an_low ? anonce : snonce, 32);
    memcpy(d + 44, an_low ? snonce : anonce, 32);
    const char *label = "Pairwise key expansion";
    return sha256 ? ms_wpa_kdf_sha256(c, pmk, 32, label, d, sizeof(d), ptk, MS_WPA_PTK_LEN)
                  : ms_wpa_prf_sha1(c, pmk, 32, label, d, sizeof(d), ptk, MS_WPA_PTK_LEN);
}

enum ms_rc ms_wpa_eapol_mic(struct ms_wpa_crypto *c, int version, const uint8_t *kck,
                            const uint8_t *frame, size_t len, uint8_t mic[MS_WPA_MIC_LEN])
{
    uint8_t h[20];
    enum ms_rc rc;
    if (version == 2)
        rc = mac4(c->sha1, kck, MS_WPA_KCK_LEN, frame, len, NULL, 0, NULL, 0, NULL, 0, h,
                  sizeof(h));
    else if (version == 3)
        rc = mac4(c->aes_cmac, kck, MS_WPA_KCK_LEN, frame, len, NULL, 0, NULL, 0, NULL, 0, h,
                  sizeof(h));
    else
        return MS_ERR_ARG;
    if (rc == MS_OK)
        memcpy(mic, h, MS_WPA_MIC_LEN);
    return rc;
}

static enum ms_rc wrap_op(struct ms_wpa_crypto *c, int enc, const uint8_t kek[16],
                          const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
    int n = 0, fin = 0;
    if (EVP_CipherInit_ex2(c->cipher, c->wrap, kek, NULL, enc, NULL) != 1)
        return MS_ERR_NOMEM;
    if (EVP_CipherUpdate(c->cipher, out, &n, in, (int)in_len) != 1 || (size_t)n != out_len ||
        EVP_CipherFinal_ex(c->cipher, out + n, &fin) != 1)
        return MS_ERR_PROTO;
    return MS_OK;
}

enum ms_rc ms_wpa_key_unwrap(struct ms_wpa_crypto *c, const uint8_t kek[16], const uint8_t *in,
                             size_t in_len, uint8_t *out)
{
    if (in_len < 24 || in_len % 8 || in_len > 0x10000)
        return MS_ERR_ARG;
    return wrap_op(c, 0, kek, in, in_len, out, in_len - 8);
}

enum ms_rc ms_wpa_key_wrap(struct ms_wpa_crypto *c, const uint8_t kek[16], const uint8_t *in,
                           size_t in_len, uint8_t *out)
{
    if (in_len < 16 || in_len % 8 || in_len > 0x10000)
        return MS_ERR_ARG;
    return wrap_op(c, 1, kek, in, in_len, out, in_len + 8);
}

/* The CCM nonce and additional authentication data of 12.5.3.3.3-4. */
static bool ccmp_nonce_aad(const uint8_t *hdr, size_t hdr_len, const uint8_t *ccmp,
                           uint8_t nonce[13], uint8_t aad[32], size_t *aad_len)
{
    if (hdr_len < 24)
        return false;
    uint8_t type = (hdr[0] >> 2) & 3;
    bool four = (hdr[1] & 3) == 3;
    bool qos = type == 2 && (hdr[0] & 0x80);
    size_t need = 24 + (four ? 6 : 0) + (qos ? 2 : 0);
    if (hdr_len < need)
        return false;
    /* Frame Control: the subtype bits 4-6 of data frames, Retry, Power
     * Management and More Data masked, Protected set; Order masked in QoS
     * data frames (HT Control is not covered). */
    aad[0] = type == 2 ? hdr[0] & 0x8f : hdr[0];
    aad[1] = (uint8_t)((hdr[1] & ~(0x08 | 0x10 | 0x20)) | 0x40);
    if (qos)
        aad[1] &= 0x7f;
    memcpy(aad + 2, hdr + 4, 18); /* A1, A2, A3 */
    aad[20] = hdr[22] & 0x0f;     /* Sequence Control: the fragment number only */
    aad[21] = 0;
    size_t n = 22;
    if (four) {
        memcpy(aad + n, hdr + 24, 6);
        n += 6;
    }
    uint8_t prio = 0;
    if (qos) {
        const uint8_t *qc = hdr + (four ? 30 : 24);
        /* TID only: the A-MSDU Present bit (7) counts only between SPP
         * A-MSDU capable stations (12.5.3.3.3), which this module does not
         * follow; without SPP it is masked like the rest. */
        aad[n++] = qc[0] & 0x0f;
        aad[n++] = 0;
        prio = qc[0] & 0x0f;
    }
    *aad_len = n;
    /* Nonce: flags (priority; bit 4 for management frames), A2, PN5..PN0. */
    nonce[0] = (uint8_t)(prio | (type == 0 ? 0x10 : 0));
    memcpy(nonce + 1, hdr + 10, 6);
    const uint8_t pn[6] = { ccmp[0], ccmp[1], ccmp[4], ccmp[5], ccmp[6], ccmp[7] };
    for (int i = 0; i < 6; i++)
        nonce[7 + i] = pn[5 - i];
    return true;
}

enum ms_rc ms_wpa_ccmp_decrypt(struct ms_wpa_crypto *c, const uint8_t tk[16], const uint8_t *hdr,
                               size_t hdr_len, const uint8_t *body, size_t body_len, uint8_t *out)
{
    uint8_t nonce[13], aad[32];
    size_t aad_len = 0;
    if (body_len <= MS_CCMP_HDR_LEN + MS_CCMP_MIC_LEN || !(body[3] & 0x20) || body_len > 0x10000 ||
        !ccmp_nonce_aad(hdr, hdr_len, body, nonce, aad, &aad_len))
        return MS_ERR_ARG;
    const uint8_t *ct = body + MS_CCMP_HDR_LEN;
    int ct_len = (int)(body_len - MS_CCMP_HDR_LEN - MS_CCMP_MIC_LEN);
    int n = 0;
    EVP_CIPHER_CTX *x = c->cipher;
    if (EVP_DecryptInit_ex2(x, c->ccm, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 13, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, MS_CCMP_MIC_LEN, (void *)(ct + ct_len)) !=
            1 ||
        EVP_DecryptInit_ex2(x, NULL, tk, nonce, NULL) != 1 ||
        EVP_DecryptUpdate(x, NULL, &n, NULL, ct_len) != 1 ||
        EVP_DecryptUpdate(x, NULL, &n, aad, (int)aad_len) != 1)
        return MS_ERR_NOMEM;
    if (EVP_DecryptUpdate(x, out, &n, ct, ct_len) <= 0) {
        OPENSSL_cleanse(out, (size_t)ct_len);
        return MS_ERR_PROTO;
    }
    return MS_OK;
}

enum ms_rc ms_wpa_ccmp_encrypt(struct ms_wpa_crypto *c, const uint8_t tk[16], const uint8_t *hdr,
                               size_t hdr_len, uint64_t pn, int key_id, const uint8_t *plain,
                               size_t plain_len, uint8_t *out)
{
    uint8_t nonce[13], aad[32];
    size_t aad_len = 0;
    if (plain_len == 0 || plain_len > 0x10000)
        return MS_ERR_ARG;
    out[0] = (uint8_t)pn;
    out[1] = (uint8_t)(pn >> 8);
    out[2] = 0;
    out[3] = (uint8_t)(0x20 | ((key_id & 3) << 6));
    for (int i = 0; i < 4; i++)
        out[4 + i] = (uint8_t)(pn >> (16 + 8 * i));
    if (!ccmp_nonce_aad(hdr, hdr_len, out, nonce, aad, &aad_len))
        return MS_ERR_ARG;
    EVP_CIPHER_CTX *x = c->cipher;
    int n = 0;
    if (EVP_EncryptInit_ex2(x, c->ccm, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 13, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, MS_CCMP_MIC_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex2(x, NULL, tk, nonce, NULL) != 1 ||
        EVP_EncryptUpdate(x, NULL, &n, NULL, (int)plain_len) != 1 ||
        EVP_EncryptUpdate(x, NULL, &n, aad, (int)aad_len) != 1 ||
        EVP_EncryptUpdate(x, out + MS_CCMP_HDR_LEN, &n, plain, (int)plain_len) != 1 ||
        EVP_EncryptFinal_ex(x, out + MS_CCMP_HDR_LEN + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, MS_CCMP_MIC_LEN,
                            out + MS_CCMP_HDR_LEN + plain_len) != 1)
        return MS_ERR_NOMEM;
    return MS_OK;
}
