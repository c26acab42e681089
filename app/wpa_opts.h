/* The WPA2-Personal secrets of the command line (--wpa-passphrase
 * SSID:PASSPHRASE, --wpa-passphrase-file FILE, --wpa-psk HEX), checked
 * and held until they are given to the decryption state (capture/wpa.h).
 * No message ever repeats a passphrase, a PSK or a line of the file. */
#ifndef MS_WPA_OPTS_H
#define MS_WPA_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../capture/wpa.h"
#include "../common/rc.h"

struct ms_wpa_secret {
    bool is_pmk; /* --wpa-psk: pmk; else ssid and pass */
    uint8_t ssid[MS_WPA_SSID_MAX];
    size_t ssid_len;
    char pass[64];
    size_t pass_len;
    uint8_t pmk[MS_WPA_PMK_LEN];
};

struct ms_wpa_secrets {
    struct ms_wpa_secret *v;
    size_t n, cap;
};

/* SSID:PASSPHRASE: split at the first colon not escaped by a backslash
 * ("\:" a colon, "\\" a backslash in the SSID); the passphrase is the
 * rest as is. SSID 1-32 bytes, passphrase 8-63 printable ASCII
 * characters. MS_ERR_ARG with the reason in err. */
enum ms_rc ms_wpa_secrets_add(struct ms_wpa_secrets *s, const char *arg, size_t len, char *err,
                              size_t errlen);
/* 64 hexadecimal digits: a PMK. */
enum ms_rc ms_wpa_secrets_add_psk(struct ms_wpa_secrets *s, const char *hex, char *err,
                                  size_t errlen);
/* One SSID:PASSPHRASE a line; empty lines and lines starting with # are
 * skipped; errors name the line by its number. *exposed: the file can be
 * read by others than its owner. MS_ERR_IO (cannot be read) or
 * MS_ERR_ARG (a line is wrong, or no secret in it). */
enum ms_rc ms_wpa_secrets_read_file(struct ms_wpa_secrets *s, const char *path, bool *exposed,
                                    char *err, size_t errlen);
/* Every secret into w (PMKs derived now). */
enum ms_rc ms_wpa_secrets_apply(const struct ms_wpa_secrets *s, struct ms_wpa *w, char *err,
                                size_t errlen);
/* Wiped and freed; s is empty again. */
void ms_wpa_secrets_clear(struct ms_wpa_secrets *s);
/* A command-line argument that held a secret, once copied: wiped in
 * place (argv), so that ps and /proc/PID/cmdline stop showing it. */
void ms_wpa_wipe_arg(char *arg);

#endif
