/* WPA2-Personal decryption of passive 802.11 captures (IEEE 802.11-2020
 * 12.7: passphrase -> PMK (PBKDF2-HMAC-SHA1, 4096 rounds) -> per-client
 * PTK from its EAPOL 4-way handshake, GTK from message 3; 12.5.3 CCMP).
 * Link-layer state of one reader: every 802.11 frame goes through it in
 * capture order, before IP reassembly and before packets are sharded to
 * worker threads. Bounded (common/limits.h: MS_WPA_*); the least recently
 * seen client is forgotten past its cap. Secrets never leave this module
 * except as decrypted frames. */
#ifndef MS_WPA_H
#define MS_WPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/rc.h"
#include "wifi.h"

#define MS_WPA_PMK_LEN 32
#define MS_WPA_SSID_MAX 32

struct ms_wpa;

/* Why a frame was or was not read; a frame of a client is reported with
 * one of these. */
enum ms_wpa_status {
    MS_WPA_OK = 0,         /* decrypted (ms_wpa_decrypt); nothing to say (ms_wpa_eapol) */
    MS_WPA_NO_HANDSHAKE,   /* no usable 4-way handshake of this client was captured */
    MS_WPA_WRONG_SECRET,   /* its handshake's MIC matches no passphrase or PSK given */
    MS_WPA_NO_SECRET,      /* no passphrase given for this network's SSID */
    MS_WPA_SAE,            /* WPA3-SAE (AKM 8/24): the PMK is not derivable from a passphrase */
    MS_WPA_ENTERPRISE,     /* 802.1X (AKM 1/3/5/...): the PMK comes from EAP */
    MS_WPA_UNSUPPORTED,    /* WEP, TKIP, GCMP, or another AKM or cipher */
    MS_WPA_DECRYPT_FAILED, /* CCMP's MIC did not verify (damaged, or keys of another handshake) */
    MS_WPA_MALFORMED,      /* too short, bad CCMP header, ... */
    MS_WPA_STATUS_COUNT
};

/* "no_handshake", "wrong_passphrase", ...: stats and anomaly wording. */
const char *ms_wpa_status_name(enum ms_wpa_status s);

/* The client and network a status is about. For a group-addressed frame
 * (address 1 multicast, read with the BSSID's GTK), client is that group
 * address. */
struct ms_wpa_who {
    uint8_t bssid[MS_MAC_LEN];
    uint8_t client[MS_MAC_LEN];
    uint8_t ssid[MS_WPA_SSID_MAX];
    size_t ssid_len; /* 0: not learned (no beacon, probe response or association seen) */
};

struct ms_wpa_stats {
    uint64_t handshakes;   /* PTKs installed (M1+M2 with a verified MIC; re-keys too) */
    uint64_t group_keys;   /* GTKs installed from message 3 (and group-key handshakes) */
    uint64_t wrong_secret; /* message 2s whose MIC matched no PMK */
    uint64_t clients;      /* clients being followed now (a gauge) */
    uint64_t clients_evicted;
};

/* NULL when out of memory. */
struct ms_wpa *ms_wpa_new(void);
void ms_wpa_free(struct ms_wpa *w);

/* ssid 1-32 bytes, passphrase 8-63 printable ASCII (IEEE 802.11-2020
 * J.4.1); the PMK is derived now. MS_ERR_ARG when out of those bounds. */
enum ms_rc ms_wpa_add_passphrase(struct ms_wpa *w, const uint8_t *ssid, size_t ssid_len,
                                 const char *pass, size_t pass_len);
/* A PMK given as such (--wpa-psk): tried on every network. */
enum ms_rc ms_wpa_add_pmk(struct ms_wpa *w, const uint8_t pmk[MS_WPA_PMK_LEN]);
/* Whether any passphrase or PMK was given. */
bool ms_wpa_has_secrets(const struct ms_wpa *w);

/* A management frame: SSIDs of BSSIDs (beacon, probe response), each
 * client's AKM and cipher ((re)association request RSN element). */
void ms_wpa_management(struct ms_wpa *w, const struct ms_wifi_frame *f);

/* An EAPOL frame (LLC/SNAP ethertype 0x888e) carried by data frame f,
 * whether it came in the clear or out of ms_wpa_decrypt (re-keying).
 * eapol: from the EAPOL header (version, type, length) on. Returns a status
 * worth telling (MS_WPA_WRONG_SECRET, MS_WPA_NO_SECRET, ...) or MS_WPA_OK;
 * *first: the first time this client gets this status. */
enum ms_wpa_status ms_wpa_eapol(struct ms_wpa *w, const struct ms_wifi_frame *f,
                                const uint8_t *eapol, size_t len, struct ms_wpa_who *who,
                                bool *first);

/* A protected data frame (f->flags & 0x40). MS_WPA_OK: *plain, *plain_len is
 * the decrypted body (LLC/SNAP first, or A-MSDU subframes when f->amsdu) in
 * a buffer of w, valid until the next call on w. Otherwise why not, the
 * client and network in *who, and *first as for ms_wpa_eapol. */
enum ms_wpa_status ms_wpa_decrypt(struct ms_wpa *w, const struct ms_wifi_frame *f,
                                  const uint8_t **plain, size_t *plain_len, struct ms_wpa_who *who,
                                  bool *first);

void ms_wpa_get_stats(const struct ms_wpa *w, struct ms_wpa_stats *st);

#endif
