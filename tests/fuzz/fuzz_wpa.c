/* Fuzz target for WPA2 decryption state (capture/wpa.c): beacons and
 * association requests, EAPOL-Key frames and protected data frames from a
 * few stations of two access points, in any order. The harness knows the
 * passphrase, so it can make frames that verify: an EAPOL-Key record may
 * ask for its MIC to be computed (and message 3's Key Data to be wrapped)
 * with the PTK of the last ANonce and SNonce the harness saw, and a data
 * record for its body to be encrypted under that PTK's TK or a GTK it
 * wrapped. That way the fuzzer reaches the GTK KDE parser, the key
 * unwrap and CCMP with keys installed, not only the length checks.
 *
 * Checked: no memory error (sanitizers), a decrypted body is exactly the
 * frame's body less 16 bytes and lies in no input, statuses in range.
 *
 * Byte 0: bit 0 the secret given as a passphrase (PBKDF2 each run: slow),
 * else as a PMK. Then records: r[0] kind (bits 0-1: 0 management, 1
 * EAPOL-Key, 2 data, 3 EAPOL as it is), bits 2-3 station (0, 1, 2 a group
 * address, 3 a station of the other AP), bit 4 from the AP, bit 5 QoS, bit
 * 6 four addresses, bit 7 sign (EAPOL-Key) or encrypt (data); r[1] the
 * management subtype, or for data bits 0-4 the PN, 5-6 the key id, 7 to a
 * group address under the GTK; r[2..3] body length (little endian, capped
 * by what is left), the body following. Seeds: tests/fuzz/seeds.py. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/wpa.h"
#include "../../capture/wpa_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t APS[2][6] = { { 0x02, 0, 0, 0, 0, 0x01 }, { 0x02, 0, 0, 0, 0, 0x11 } };
static const uint8_t STAS[4][6] = { { 0x02, 0, 0, 0, 0, 0x02 },
                                    { 0x02, 0, 0, 0, 0, 0x03 },
                                    { 0x01, 0, 0x5e, 0, 0, 0x01 },
                                    { 0x02, 0, 0, 0, 0, 0x12 } };
static const char SSID[] = "FuzzNet";
static const char PASS[] = "fuzzing passphrase";

struct h {
    struct ms_wpa_crypto *c;
    uint8_t pmk[32];
    uint8_t anonce[32], snonce[32];
    uint8_t ptk[48];
    uint8_t gtk[16];
};

static void build_hdr(uint8_t *hdr, size_t *hdr_len, struct ms_wifi_frame *f, uint8_t k,
                      uint8_t type, uint8_t subtype, bool prot)
{
    unsigned si = (k >> 2) & 3;
    const uint8_t *ap = APS[si == 3], *sta = STAS[si];
    bool from_ap = k & 0x10, qos = type == 2 && (k & 0x20), four = type == 2 && (k & 0x40);
    memset(hdr, 0, 40);
    hdr[0] = (uint8_t)((type << 2) | (subtype << 4));
    hdr[1] = (uint8_t)((four ? 3 : from_ap ? 2 : type == 2 ? 1 : 0) | (prot ? 0x40 : 0));
    memcpy(hdr + 4, from_ap ? sta : ap, 6);
    memcpy(hdr + 10, from_ap ? ap : sta, 6);
    memcpy(hdr + 16, ap, 6);
    size_t n = 24;
    if (four) {
        memcpy(hdr + 24, sta, 6);
        n += 6;
    }
    if (qos) {
        hdr[n] = (uint8_t)(k & 0x8f);
        n += 2;
    }
    *hdr_len = n;
    memset(f, 0, sizeof(*f));
    f->hdr = hdr;
    f->hdr_len = n;
    f->type = type;
    f->subtype = subtype;
    f->flags = hdr[1];
    f->qos = qos;
    f->ra = hdr + 4;
    f->ta = hdr + 10;
    f->bssid = four ? NULL : hdr + 16;
}

static void check(enum ms_wpa_status s)
{
    if ((unsigned)s >= MS_WPA_STATUS_COUNT)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct h H;
    if (!H.c) {
        H.c = ms_wpa_crypto_new();
        if (!H.c || ms_wpa_pmk(PASS, strlen(PASS), (const uint8_t *)SSID, strlen(SSID), H.pmk))
            abort();
    }
    memset(H.anonce, 0, 32);
    memset(H.snonce, 0, 32);
    memset(H.ptk, 0, 48);
    memset(H.gtk, 0x5a, 16);
    struct ms_wpa *w = ms_wpa_new();
    if (!w)
        abort();
    if (!size || !(data[0] & 1))
        (void)ms_wpa_add_pmk(w, H.pmk);
    else
        (void)ms_wpa_add_passphrase(w, (const uint8_t *)SSID, strlen(SSID), PASS, strlen(PASS));
    size_t off = size ? 1 : 0;
    static uint8_t body[4096 + 64], hdr[40];
    while (off + 4 <= size) {
        uint8_t k = data[off], a = data[off + 1];
        size_t len = (size_t)(data[off + 2] | data[off + 3] << 8);
        off += 4;
        if (len > size - off)
            len = size - off;
        if (len > 4096)
            len = 4096;
        const uint8_t *in = data + off;
        off += len;
        struct ms_wifi_frame f;
        size_t hl;
        struct ms_wpa_who who;
        bool first;
        unsigned kind = k & 3;
        if (kind == 0) {
            build_hdr(hdr, &hl, &f, (uint8_t)(k & ~0x10), 0, a & 0x0f, false);
            memcpy(body, in, len);
            f.body = body;
            f.body_len = len;
            ms_wpa_management(w, &f);
        } else if (kind == 1 || kind == 3) {
            build_hdr(hdr, &hl, &f, k, 2, 8, false);
            memcpy(body, in, len);
            bool from_ap = k & 0x10;
            if (kind == 1 && len >= 99) {
                uint16_t info = (uint16_t)(body[5] << 8 | body[6]);
                int ver = info & 7;
                if (from_ap && (info & 0x80) && (info & 0x08))
                    memcpy(H.anonce, body + 17, 32);
                static const uint8_t zero[32];
                if (!from_ap && (info & 0x100) && (info & 0x08) && memcmp(body + 17, zero, 32) != 0)
                    memcpy(H.snonce, body + 17, 32);
                unsigned si = (k >> 2) & 3;
                (void)ms_wpa_ptk(H.c, ver == 3, H.pmk, APS[si == 3], STAS[si], H.anonce, H.snonce,
                                 H.ptk);
                if ((k & 0x80) && (info & 0x100)) {
                    size_t n = 4 + (size_t)(body[2] << 8 | body[3]);
                    size_t kd = (size_t)(body[97] << 8 | body[98]);
                    if ((info & 0x1000) && kd >= 24 && kd % 8 == 0 && 99 + kd <= len) {
                        /* Key Data plain on the way in: wrapped here, the
                         * GTK KDE's key replaced with the harness's. */
                        uint8_t plain[4096];
                        memcpy(plain, body + 99, kd - 8);
                        for (size_t i = 0; i + 24 <= kd - 8; i++)
                            if (plain[i] == 0xdd && plain[i + 1] == 22 && plain[i + 5] == 1)
                                memcpy(plain + i + 8, H.gtk, 16);
                        (void)ms_wpa_key_wrap(H.c, H.ptk + 16, plain, kd - 8, body + 99);
                    }
                    if (n <= len && (ver == 2 || ver == 3)) {
                        memset(body + 81, 0, 16);
                        (void)ms_wpa_eapol_mic(H.c, ver, H.ptk, body, n, body + 81);
                    }
                }
            }
            check(ms_wpa_eapol(w, &f, body, len, &who, &first));
        } else {
            build_hdr(hdr, &hl, &f, k, 2, (k & 0x20) ? 8 : 0, true);
            f.amsdu = f.qos && (k & 0x80);
            if ((k & 0x80) && len > 0 && len + 16 <= sizeof(body)) {
                const uint8_t *tk = (a & 0x80) ? H.gtk : H.ptk + 32;
                if (a & 0x80)
                    memset(hdr + 4, 0xff, 6); /* a group frame, under the GTK */
                (void)ms_wpa_ccmp_encrypt(H.c, tk, hdr, hl, a & 0x1f, (a >> 5) & 3, in, len, body);
                f.body_len = len + 16;
            } else {
                memcpy(body, in, len);
                f.body_len = len;
            }
            f.body = body;
            const uint8_t *plain = NULL;
            size_t plain_len = 0;
            enum ms_wpa_status s = ms_wpa_decrypt(w, &f, &plain, &plain_len, &who, &first);
            check(s);
            if (s == MS_WPA_OK) {
                if (!plain || plain_len + 16 != f.body_len)
                    abort();
                volatile uint8_t x = 0;
                for (size_t i = 0; i < plain_len; i++)
                    x ^= plain[i];
                (void)x;
            } else if (plain) {
                abort();
            }
        }
    }
    ms_wpa_free(w);
    return 0;
}
