/* One IEEE 802.11 frame as the decoder located it (capture/decode.h,
 * ms_decode_wifi): the MAC header and the body, past radiotap/PPI, header
 * padding and FCS. Nothing is copied: the pointers are into the frame. */
#ifndef MS_WIFI_H
#define MS_WIFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_MAC_LEN 6

struct ms_wifi_frame {
    uint64_t ts_us;
    const uint8_t *hdr; /* frame control on */
    size_t hdr_len;     /* MAC header: addresses, sequence, address 4, QoS, HT control */
    const uint8_t *body;
    size_t body_len; /* FCS excluded */
    uint8_t type;    /* 0 management, 1 control, 2 data */
    uint8_t subtype;
    uint8_t flags; /* frame control's second byte: To/From DS (0x03), Protected (0x40) */
    bool qos;      /* QoS data subtype; tid valid */
    uint8_t tid;   /* QoS control bits 0-3 */
    bool amsdu;    /* QoS control bit 7: the body is A-MSDU subframes */
    /* NULL where this frame has none. For data frames, sa/da are the
     * frame's source and destination stations (address 4 with WDS);
     * bssid is NULL on WDS links. */
    const uint8_t *ra, *ta, *bssid, *sa, *da;
};

#endif
