/* The key hierarchy and ciphers of WPA2-Personal (IEEE 802.11-2020):
 * PBKDF2 passphrase -> PMK (J.4), PRF-SHA1 (12.7.1.2) and KDF-SHA256
 * (12.7.1.7.2) PTK, EAPOL-Key MICs (HMAC-SHA1-128, AES-128-CMAC), RFC 3394
 * key unwrap of message 3's Key Data, and CCMP-128 (12.5.3). All on
 * libcrypto; the contexts are made once (ms_wpa_crypto_new) and reused for
 * every frame. */
#ifndef MS_WPA_CRYPTO_H
#define MS_WPA_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/rc.h"

#define MS_WPA_KCK_LEN 16
#define MS_WPA_KEK_LEN 16
#define MS_WPA_TK_LEN 16
#define MS_WPA_PTK_LEN 48 /* KCK || KEK || TK of CCMP-128 */
#define MS_WPA_NONCE_LEN 32
#define MS_WPA_MIC_LEN 16
#define MS_CCMP_HDR_LEN 8
#define MS_CCMP_MIC_LEN 8

struct ms_wpa_crypto;

struct ms_wpa_crypto *ms_wpa_crypto_new(void);
void ms_wpa_crypto_free(struct ms_wpa_crypto *c);

/* PMK = PBKDF2-HMAC-SHA1(passphrase, SSID, 4096, 256 bits). */
enum ms_rc ms_wpa_pmk(const char *pass, size_t pass_len, const uint8_t *ssid, size_t ssid_len,
                      uint8_t pmk[32]);

/* PRF-n of 12.7.1.2: HMAC-SHA1(K, label || 0 || data || i), i = 0, 1, ... */
enum ms_rc ms_wpa_prf_sha1(struct ms_wpa_crypto *c, const uint8_t *key, size_t key_len,
                           const char *label, const uint8_t *data, size_t data_len, uint8_t *out,
                           size_t out_len);
/* KDF-SHA256-n of 12.7.1.7.2: HMAC-SHA256(K, i || label || context || n),
 * i = 1, 2, ... and n in bits, both 16-bit little-endian. */
enum ms_rc ms_wpa_kdf_sha256(struct ms_wpa_crypto *c, const uint8_t *key, size_t key_len,
                             const char *label, const uint8_t *data, size_t data_len, uint8_t *out,
                             size_t out_len);

/* PTK of CCMP-128 from the PMK, the addresses and nonces (12.7.1.3):
 * sha256 false for AKM 2 (PRF-384), true for AKM 6 (KDF-SHA256-384). */
enum ms_rc ms_wpa_ptk(struct ms_wpa_crypto *c, bool sha256, const uint8_t pmk[32],
                      const uint8_t aa[6], const uint8_t spa[6], const uint8_t anonce[32],
                      const uint8_t snonce[32], uint8_t ptk[MS_WPA_PTK_LEN]);

/* The EAPOL-Key MIC of frame (from the EAPOL header on, its MIC field
 * zeroed) under kck: descriptor version 2 HMAC-SHA1-128, 3 AES-128-CMAC.
 * MS_ERR_ARG for another version. */
enum ms_rc ms_wpa_eapol_mic(struct ms_wpa_crypto *c, int version, const uint8_t *kck,
                            const uint8_t *frame, size_t len, uint8_t mic[MS_WPA_MIC_LEN]);

/* RFC 3394 unwrap (AES-128): in_len a multiple of 8, at least 24; out gets
 * in_len - 8 bytes. MS_ERR_PROTO when the integrity check fails. */
enum ms_rc ms_wpa_key_unwrap(struct ms_wpa_crypto *c, const uint8_t kek[16], const uint8_t *in,
                             size_t in_len, uint8_t *out);
/* RFC 3394 wrap, the other way (tests build message 3 with it). */
enum ms_rc ms_wpa_key_wrap(struct ms_wpa_crypto *c, const uint8_t kek[16], const uint8_t *in,
                           size_t in_len, uint8_t *out);

/* CCMP-128 on an MPDU: hdr the MAC header (hdr_len bytes: 24, 26 QoS, 30
 * four addresses, 32 both, + 4 HT Control when QoS and Order), body from
 * the CCMP header on. The nonce and additional data are built from hdr as
 * 12.5.3.3.3-4 say. out gets body_len - 16 bytes. MS_ERR_PROTO: the MIC
 * did not verify; MS_ERR_ARG: too short or not a CCMP header (Ext IV). */
enum ms_rc ms_wpa_ccmp_decrypt(struct ms_wpa_crypto *c, const uint8_t tk[16], const uint8_t *hdr,
                               size_t hdr_len, const uint8_t *body, size_t body_len, uint8_t *out);
/* The sender's side (tests): out gets the CCMP header for pn and key_id,
 * the ciphertext and the MIC, plain_len + 16 bytes. */
enum ms_rc ms_wpa_ccmp_encrypt(struct ms_wpa_crypto *c, const uint8_t tk[16], const uint8_t *hdr,
                               size_t hdr_len, uint64_t pn, int key_id, const uint8_t *plain,
                               size_t plain_len, uint8_t *out);

#endif
