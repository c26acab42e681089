/* Frame decoding: every link type and encapsulation decodes the same TCP
 * segment; every frame cut at every length decodes without reading past
 * the cut (each copy is an exact-size heap buffer, so ASan sees over-reads)
 * and gives TRUNCATED while a header is cut, TCP with a shorter payload
 * after; 802.11 protected/non-data/fragmented frames; TCP checksums;
 * IPv6 extension and fragment headers; nesting bounds; random input.
 * Then the captures of pcaps/capture/ through source + pipeline, checking
 * the capture-layer counters the generator recorded in counters.json, and
 * the pcapng reader on every prefix of a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../../app/pipeline.h"
#include "../../output/sink.h"
#include "../../capture/decode.h"
#include "../../capture/pcapng.h"
#include "../../capture/source.h"

/* Both made by scapy (checksums computed there, not by the code under test):
 * 10.1.2.3:40000 -> 10.4.5.6:110 and fd00::1 -> fd00::2, PA, "USER bob\r\n". */
static const char IP4_HEX[] =
    "450000320007000040065fb20a0102030a0405069c40006e00000064000000c8501820009f66"
    "00005553455220626f620d0a";
static const char IP6_HEX[] =
    "60000000001e0640fd000000000000000000000000000001fd00000000000000000000000000"
    "00029c40006e00000064000000c850182000c06f00005553455220626f620d0a";
#define PAYLOAD "USER bob\r\n"
#define TCP_HDR 20

struct frame {
    uint8_t b[512];
    size_t n;
};

static void put(struct frame *f, const void *p, size_t n)
{
    assert_true(f->n + n <= sizeof(f->b));
    memcpy(f->b + f->n, p, n);
    f->n += n;
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

static void put_hex(struct frame *f, const char *hex)
{
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
        uint8_t c = hex_byte(hex + i);
        put(f, &c, 1);
    }
}

static void put_bytes(struct frame *f, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)va_arg(ap, int);
        put(f, &c, 1);
    }
    va_end(ap);
}

static void put_be16(struct frame *f, unsigned v)
{
    put_bytes(f, 2, (v >> 8) & 0xff, v & 0xff);
}

static void put_ip(struct frame *f, bool v6)
{
    put_hex(f, v6 ? IP6_HEX : IP4_HEX);
}

static const uint8_t MAC_A[6] = { 2, 0, 0, 0, 0, 1 }, MAC_B[6] = { 2, 0, 0, 0, 0, 2 };

static void put_eth_hdr(struct frame *f, unsigned type)
{
    put(f, MAC_A, 6);
    put(f, MAC_B, 6);
    put_be16(f, type);
}

/* Each builder writes one frame around the IP packet and says its link type. */
enum kind {
    K_ETH,
    K_VLAN,
    K_QINQ,
    K_SLL,
    K_SLL2,
    K_RAW,
    K_NULL,
    K_LOOP,
    K_PPPOE,
    K_MPLS,
    K_MPLS_PW,
    K_GRE,
    K_GRE_TEB,
    K_GRE_PPTP,
    K_ERSPAN2,
    K_IPIP,
    K_6IN4,
    K_8023_SNAP,
    K_VXLAN,
    K_GENEVE,
    K_WIFI,
    K_WIFI_QOS_HTC,
    K_WIFI_WDS,
    K_RADIOTAP,
    K_RADIOTAP_PAD_FCS,
    K_PPI,
    K_MAX
};

static const char *const KIND_NAMES[K_MAX] = {
    "eth",     "vlan",         "qinq",      "sll",      "sll2",
    "raw",     "null",         "loop",      "pppoe",    "mpls",
    "mpls_pw", "gre",          "gre_teb",   "gre_pptp", "erspan2",
    "ipip",    "6in4",         "8023_snap", "vxlan",    "geneve",
    "wifi",    "wifi_qos_htc", "wifi_wds",  "radiotap", "radiotap_pad_fcs",
    "ppi",
};

static void put_outer_ipv4(struct frame *f, unsigned proto, size_t inner_len)
{
    /* Checksum left 0: decoders, like receivers in promiscuous mode, do not
     * need it. */
    size_t total = 20 + inner_len;
    put_bytes(f, 4, 0x45, 0, (int)(total >> 8), (int)(total & 0xff));
    put_bytes(f, 8, 0, 1, 0, 0, 64, (int)proto, 0, 0);
    put_bytes(f, 8, 192, 0, 2, 1, 192, 0, 2, 2);
}

static size_t ip_len(bool v6)
{
    return (v6 ? sizeof(IP6_HEX) : sizeof(IP4_HEX)) / 2;
}

static void put_80211(struct frame *f, bool qos, bool htc, bool wds, bool v6, uint8_t extra_fc1,
                      bool pad)
{
    uint8_t fc0 = (uint8_t)(((qos ? 8 : 0) << 4) | (2 << 2));
    uint8_t fc1 = (uint8_t)((wds ? 3 : 1) | (htc ? 0x80 : 0) | extra_fc1);
    put_bytes(f, 4, fc0, fc1, 0, 0);
    put(f, MAC_A, 6);
    put(f, MAC_B, 6);
    put(f, MAC_A, 6);
    put_bytes(f, 2, 0x10, 0);
    size_t h = 24;
    if (wds) {
        put(f, MAC_B, 6);
        h += 6;
    }
    if (qos) {
        put_bytes(f, 2, 0, 0);
        h += 2;
        if (htc) {
            put_bytes(f, 4, 0, 0, 0, 0);
            h += 4;
        }
    }
    while (pad && (h & 3)) {
        put_bytes(f, 1, 0xee);
        h++;
    }
    put_bytes(f, 6, 0xaa, 0xaa, 3, 0, 0, 0);
    put_be16(f, v6 ? 0x86dd : 0x0800);
}

static int build(enum kind k, bool v6, struct frame *f)
{
    memset(f, 0, sizeof(*f));
    unsigned et = v6 ? 0x86dd : 0x0800;
    switch (k) {
    case K_ETH:
        put_eth_hdr(f, et);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_VLAN:
        put_eth_hdr(f, 0x8100);
        put_be16(f, 30);
        put_be16(f, et);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_QINQ:
        put_eth_hdr(f, 0x88a8);
        put_be16(f, 100);
        put_be16(f, 0x8100);
        put_be16(f, 30);
        put_be16(f, et);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_SLL:
        put_bytes(f, 6, 0, 0, 0, 1, 0, 6);
        put(f, MAC_A, 6);
        put_bytes(f, 2, 0, 0);
        put_be16(f, et);
        put_ip(f, v6);
        return DLT_LINUX_SLL;
    case K_SLL2:
        put_be16(f, et);
        put_bytes(f, 10, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6);
        put(f, MAC_A, 6);
        put_bytes(f, 2, 0, 0);
        put_ip(f, v6);
        return 276;
    case K_RAW:
        put_ip(f, v6);
        return 101;
    case K_NULL:
        put_bytes(f, 4, v6 ? 30 : 2, 0, 0, 0);
        put_ip(f, v6);
        return DLT_NULL;
    case K_LOOP:
        put_bytes(f, 4, 0, 0, 0, v6 ? 30 : 2);
        put_ip(f, v6);
        return DLT_LOOP;
    case K_PPPOE:
        put_eth_hdr(f, 0x8864);
        put_bytes(f, 4, 0x11, 0, 0x12, 0x34);
        put_be16(f, (unsigned)ip_len(v6) + 2);
        put_be16(f, v6 ? 0x0057 : 0x0021);
        put_ip(f, v6);
        put_bytes(f, 4, 0, 0, 0, 0); /* Ethernet padding after PPPoE */
        return DLT_EN10MB;
    case K_MPLS:
        put_eth_hdr(f, 0x8847);
        put_bytes(f, 8, 0x00, 0x3e, 0x90, 64, 0x00, 0x7d, 0x21, 64);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_MPLS_PW:
        put_eth_hdr(f, 0x8847);
        put_bytes(f, 4, 0x00, 0x3e, 0x91, 64);
        put_bytes(f, 4, 0, 0, 0, 0); /* control word */
        put_eth_hdr(f, et);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_GRE:
        put_eth_hdr(f, 0x0800);
        put_outer_ipv4(f, 47, 16 + ip_len(v6));
        put_bytes(f, 4, 0xb0, 0, (int)(et >> 8), (int)(et & 0xff));
        put_bytes(f, 12, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xee, 0, 0, 0, 1);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_GRE_TEB:
        put_eth_hdr(f, 0x0800);
        put_outer_ipv4(f, 47, 4 + 14 + ip_len(v6));
        put_bytes(f, 4, 0, 0, 0x65, 0x58);
        put_eth_hdr(f, et);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_GRE_PPTP:
        put_eth_hdr(f, 0x0800);
        put_outer_ipv4(f, 47, 12 + 4 + ip_len(v6));
        put_bytes(f, 4, 0x30, 0x01, 0x88, 0x0b); /* K S, version 1 */
        put_bytes(f, 8, 0, 0, 0, 1, 0, 0, 0, 7); /* payload length, call id, seq */
        put_bytes(f, 4, 0xff, 0x03, 0, v6 ? 0x57 : 0x21);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_ERSPAN2:
        put_eth_hdr(f, 0x0800);
        put_outer_ipv4(f, 47, 8 + 8 + 14 + ip_len(v6));
        put_bytes(f, 4, 0x10, 0, 0x88, 0xbe); /* S, ERSPAN II */
        put_bytes(f, 4, 0, 0, 0, 1);
        put_bytes(f, 8, 0x10, 0, 0, 1, 0, 0, 0, 0);
        put_eth_hdr(f, et);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_IPIP:
    case K_6IN4:
        put_eth_hdr(f, 0x0800);
        put_outer_ipv4(f, v6 ? 41 : 4, ip_len(v6));
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_VXLAN:
        put_eth_hdr(f, 0x0800);
        put_outer_ipv4(f, 17, 8 + 8 + 14 + ip_len(v6));
        put_bytes(f, 4, 0xc0, 0x01, 0x12, 0xb5); /* port 49153 -> 4789 */
        put_be16(f, (unsigned)(8 + 8 + 14 + ip_len(v6)));
        put_bytes(f, 2, 0, 0);
        put_bytes(f, 8, 0x08, 0, 0, 0, 0, 0, 0x2a, 0); /* I flag, VNI 42 */
        put_eth_hdr(f, et);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_GENEVE:
        put_eth_hdr(f, 0x0800);
        put_outer_ipv4(f, 17, 8 + 16 + 14 + ip_len(v6));
        put_bytes(f, 4, 0xc0, 0x01, 0x17, 0xc1); /* -> 6081 */
        put_be16(f, (unsigned)(8 + 16 + 14 + ip_len(v6)));
        put_bytes(f, 2, 0, 0);
        put_bytes(f, 8, 0x02, 0, 0x65, 0x58, 0, 0, 0x2a, 0); /* 2 option words */
        put_bytes(f, 8, 0x01, 0x02, 0x03, 0x01, 0, 0, 0, 0); /* one 4-byte option */
        put_eth_hdr(f, et);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_8023_SNAP:
        put(f, MAC_A, 6);
        put(f, MAC_B, 6);
        put_be16(f, (unsigned)(8 + ip_len(v6)));
        put_bytes(f, 6, 0xaa, 0xaa, 3, 0, 0, 0);
        put_be16(f, et);
        put_ip(f, v6);
        return DLT_EN10MB;
    case K_WIFI:
        put_80211(f, false, false, false, v6, 0, false);
        put_ip(f, v6);
        return DLT_IEEE802_11;
    case K_WIFI_QOS_HTC:
        put_80211(f, true, true, false, v6, 0, false);
        put_ip(f, v6);
        return DLT_IEEE802_11;
    case K_WIFI_WDS:
        put_80211(f, true, false, true, v6, 0, false);
        put_ip(f, v6);
        return DLT_IEEE802_11;
    case K_RADIOTAP:
        /* present: TSFT, Flags, Rate; TSFT at 8, flags 0 */
        put_bytes(f, 8, 0, 0, 18, 0, 7, 0, 0, 0);
        put_bytes(f, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 2);
        put_80211(f, true, false, false, v6, 0, false);
        put_ip(f, v6);
        return DLT_IEEE802_11_RADIO;
    case K_RADIOTAP_PAD_FCS:
        /* Two present words (bit 31 chains), Flags = FCS at end | padding. */
        put_bytes(f, 8, 0, 0, 13, 0, 0x02, 0, 0, 0x80);
        put_bytes(f, 4, 0, 0, 0, 0);
        put_bytes(f, 1, 0x30);
        put_80211(f, true, false, false, v6, 0, true);
        put_ip(f, v6);
        put_bytes(f, 4, 0xde, 0xad, 0xbe, 0xef);
        return DLT_IEEE802_11_RADIO;
    case K_PPI:
        put_bytes(f, 8, 0, 0, 8, 0, 105, 0, 0, 0);
        put_80211(f, false, false, true, v6, 0, false);
        put_ip(f, v6);
        return DLT_PPI;
    case K_MAX:
        break;
    }
    return -1;
}

/* Decodes frame[0..n) from an exact-size heap copy. */
static enum ms_decode_status decode_copy(int lt, const uint8_t *frame, size_t n, struct ms_pkt *p)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, frame, n);
    memset(p, 0, sizeof(*p));
    enum ms_decode_status st = ms_decode_frame(lt, c, n, p);
    /* Pointers into the copy must stay inside it. */
    if (st == MS_DECODE_TCP) {
        assert_true(p->payload >= c && p->payload + p->payload_len <= c + n);
        assert_true(p->l3 >= c && p->l3 + p->l3_len <= c + n);
    }
    free(c);
    return st;
}

static void test_every_link_type(void **state)
{
    (void)state;
    for (int v6 = 0; v6 < 2; v6++) {
        for (int k = 0; k < K_MAX; k++) {
            struct frame f;
            int lt = build((enum kind)k, v6, &f);
            print_message("%s %s\n", KIND_NAMES[k], v6 ? "v6" : "v4");
            assert_true(ms_decode_linktype_supported(lt));
            struct ms_pkt p;
            memset(&p, 0, sizeof(p));
            assert_int_equal(ms_decode_frame(lt, f.b, f.n, &p), MS_DECODE_TCP);
            assert_int_equal(p.ip_version, v6 ? 6 : 4);
            assert_int_equal(p.sport, 40000);
            assert_int_equal(p.dport, 110);
            assert_int_equal(p.seq, 100);
            assert_int_equal(p.ack, 200);
            assert_int_equal(p.tcp_flags, MS_TH_PSH | MS_TH_ACK);
            assert_int_equal(p.payload_len, strlen(PAYLOAD));
            assert_memory_equal(p.payload, PAYLOAD, strlen(PAYLOAD));
            assert_true(p.tcp_csum_checked);
            assert_false(p.tcp_csum_bad);
            /* l3 is the innermost IP packet, for nDPI. */
            assert_int_equal(p.l3_len, ip_len(v6));
            assert_int_equal(p.l3[0] >> 4, v6 ? 6 : 4);
            if (!v6)
                assert_memory_equal(p.src, "\x0a\x01\x02\x03", 4);
        }
    }
}

/* Where the TCP payload starts in a frame built by build(). */
static size_t payload_offset(const struct frame *f)
{
    for (size_t i = 0; i + strlen(PAYLOAD) <= f->n; i++)
        if (memcmp(f->b + i, PAYLOAD, strlen(PAYLOAD)) == 0)
            return i;
    fail();
    return 0;
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    for (int v6 = 0; v6 < 2; v6++) {
        for (int k = 0; k < K_MAX; k++) {
            struct frame f;
            int lt = build((enum kind)k, v6, &f);
            size_t po = payload_offset(&f);
            /* With the FCS at the end, a cut loses 4 more bytes of it. */
            size_t fcs = k == K_RADIOTAP_PAD_FCS ? 4 : 0;
            for (size_t n = 0; n < f.n; n++) {
                struct ms_pkt p;
                enum ms_decode_status st = decode_copy(lt, f.b, n, &p);
                if (n < po + fcs) {
                    if (st != MS_DECODE_TRUNCATED)
                        print_error("%s v%d cut at %zu of %zu: status %d\n", KIND_NAMES[k],
                                    v6 ? 6 : 4, n, f.n, st);
                    assert_int_equal(st, MS_DECODE_TRUNCATED);
                } else {
                    /* A snaplen cut inside the data: what is there, and no
                     * checksum verdict on a partial segment. */
                    assert_int_equal(st, MS_DECODE_TCP);
                    size_t want = n - fcs - po < strlen(PAYLOAD) ? n - fcs - po : strlen(PAYLOAD);
                    assert_int_equal(p.payload_len, want);
                    if (want < strlen(PAYLOAD))
                        assert_false(p.tcp_csum_checked);
                }
            }
        }
    }
}

/* ms_decode_wifi locates the 802.11 frame behind each link type: header
 * length (QoS, HT control, address 4), body past radiotap padding and
 * without the FCS, the addresses by To/From DS; ms_decode_frame gives the
 * packet the same stations (the events' ether). */
static void test_wifi_locate(void **state)
{
    (void)state;
    static const struct {
        size_t hdr_len, body_off; /* from the 802.11 frame's start */
        enum kind k;
        bool qos, wds;
    } cases[] = {
        { 24, 24, K_WIFI, false, false },
        { 30, 30, K_WIFI_QOS_HTC, true, false },
        { 32, 32, K_WIFI_WDS, true, true },
        { 26, 26, K_RADIOTAP, true, false },
        { 26, 28, K_RADIOTAP_PAD_FCS, true, false },
        { 30, 30, K_PPI, false, true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int v6 = 0; v6 < 2; v6++) {
            struct frame f;
            int lt = build(cases[i].k, v6, &f);
            struct ms_wifi_frame w;
            assert_int_equal(ms_decode_wifi(lt, f.b, f.n, &w), MS_DECODE_TCP);
            assert_int_equal(w.type, 2);
            assert_int_equal(w.hdr_len, cases[i].hdr_len);
            assert_ptr_equal(w.body, w.hdr + cases[i].body_off);
            /* The body: LLC/SNAP and the IP packet, no FCS after it. */
            assert_int_equal(w.body_len, 8 + ip_len(v6));
            assert_true(w.body[0] == 0xaa && w.body[1] == 0xaa);
            assert_int_equal(w.qos, cases[i].qos);
            assert_false(w.amsdu);
            assert_memory_equal(w.ra, MAC_A, 6);
            assert_memory_equal(w.ta, MAC_B, 6);
            assert_memory_equal(w.sa, MAC_B, 6);
            assert_memory_equal(w.da, MAC_A, 6);
            if (cases[i].wds)
                assert_null(w.bssid);
            else
                assert_memory_equal(w.bssid, MAC_A, 6);
            struct ms_pkt p;
            memset(&p, 0, sizeof(p));
            assert_int_equal(ms_decode_frame(lt, f.b, f.n, &p), MS_DECODE_TCP);
            assert_true(p.mac.present);
            assert_memory_equal(p.mac.src, MAC_B, 6);
            assert_memory_equal(p.mac.dst, MAC_A, 6);
            assert_int_equal(p.mac.has_bssid, !cases[i].wds);
            /* Cut inside the MAC header: truncated. */
            size_t cut = f.n - w.body_len - (w.body - w.hdr) + 10;
            if (cases[i].k == K_RADIOTAP_PAD_FCS)
                cut -= 4; /* the FCS at the end */
            assert_int_equal(ms_decode_wifi(lt, f.b, cut, &w), MS_DECODE_TRUNCATED);
        }
    }
    /* From DS: the AP (address 2) sends for the server (address 3). */
    struct frame f;
    build(K_WIFI, false, &f);
    f.b[1] = 0x02;
    struct ms_wifi_frame w;
    assert_int_equal(ms_decode_wifi(DLT_IEEE802_11, f.b, f.n, &w), MS_DECODE_TCP);
    assert_ptr_equal(w.bssid, f.b + 10);
    assert_ptr_equal(w.sa, f.b + 16);
    assert_ptr_equal(w.da, f.b + 4);
    /* QoS with the A-MSDU bit: stations in the subframes, A3 the BSSID. */
    build(K_WIFI_WDS, false, &f);
    f.b[1] = 0x01;
    f.b[24] = 0x85; /* QoS control after 24 bytes now */
    assert_int_equal(ms_decode_wifi(DLT_IEEE802_11, f.b, f.n, &w), MS_DECODE_TCP);
    assert_true(w.amsdu);
    assert_int_equal(w.tid, 5);
    assert_int_equal(w.hdr_len, 26);
    /* Not 802.11. */
    build(K_ETH, false, &f);
    assert_int_equal(ms_decode_wifi(DLT_EN10MB, f.b, f.n, &w), MS_DECODE_NOT_TCP);
    /* Radiotap with a failed FCS, and a radiotap header longer than the frame. */
    build(K_RADIOTAP, false, &f);
    f.b[16] = 0x40;
    assert_int_equal(ms_decode_wifi(DLT_IEEE802_11_RADIO, f.b, f.n, &w), MS_DECODE_MALFORMED);
    build(K_RADIOTAP, false, &f);
    assert_int_equal(ms_decode_wifi(DLT_IEEE802_11_RADIO, f.b, 12, &w), MS_DECODE_TRUNCATED);
    /* PPI with an 802.11-Common field (type 2, 20 bytes; flags after the
     * TSF) whose flags say an FCS ends the frame (Kismet): the body stops
     * before it, and a failed FCS is malformed. */
    for (int bad = 0; bad < 2; bad++) {
        memset(&f, 0, sizeof(f));
        put_bytes(&f, 8, 0, 0, 32, 0, 105, 0, 0, 0);
        put_bytes(&f, 4, 2, 0, 20, 0);
        put_bytes(&f, 8, 0, 0, 0, 0, 0, 0, 0, 0);
        put_bytes(&f, 2, bad ? 0x05 : 0x01, 0);
        put_bytes(&f, 10, 0, 0, 0x85, 0x09, 0, 0, 0, 0, 0, 0);
        size_t start = f.n;
        put_80211(&f, false, false, false, false, 0, false);
        put_ip(&f, false);
        put_bytes(&f, 4, 0xde, 0xad, 0xbe, 0xef);
        enum ms_decode_status want = bad ? MS_DECODE_MALFORMED : MS_DECODE_TCP;
        assert_int_equal(ms_decode_wifi(DLT_PPI, f.b, f.n, &w), want);
        if (!bad) {
            assert_ptr_equal(w.hdr, f.b + start);
            assert_int_equal(w.body_len, 8 + ip_len(false));
        }
        struct ms_pkt p;
        memset(&p, 0, sizeof(p));
        assert_int_equal(ms_decode_frame(DLT_PPI, f.b, f.n, &p), want);
    }
    /* A beacon: management, located, addresses 1-3 DA, SA, BSSID. */
    memset(&f, 0, sizeof(f));
    put_bytes(&f, 4, 0x80, 0, 0, 0);
    put_bytes(&f, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    put(&f, MAC_B, 6);
    put(&f, MAC_A, 6);
    put_bytes(&f, 2, 0, 0);
    put_bytes(&f, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0x64, 0, 0x11, 0x04);
    put_bytes(&f, 6, 0, 4, 'C', 'a', 'f', 'e');
    assert_int_equal(ms_decode_wifi(DLT_IEEE802_11, f.b, f.n, &w), MS_DECODE_TCP);
    assert_int_equal(w.type, 0);
    assert_int_equal(w.subtype, 8);
    assert_memory_equal(w.bssid, MAC_A, 6);
    assert_memory_equal(w.sa, MAC_B, 6);
    assert_int_equal(w.body_len, 18);
    /* An ACK (control): receiver address only, no body. */
    memset(&f, 0, sizeof(f));
    put_bytes(&f, 4, 0xd4, 0, 0, 0);
    put(&f, MAC_A, 6);
    assert_int_equal(ms_decode_wifi(DLT_IEEE802_11, f.b, f.n, &w), MS_DECODE_TCP);
    assert_int_equal(w.type, 1);
    assert_memory_equal(w.ra, MAC_A, 6);
    assert_null(w.ta);
    assert_int_equal(w.body_len, 0);
    assert_int_equal(ms_decode_wifi(DLT_IEEE802_11, f.b, 9, &w), MS_DECODE_TRUNCATED);
}

/* One A-MSDU subframe: DA, SA, length (big endian), the MSDU (LLC/SNAP
 * and IP), padding to 4 unless last. */
static void put_subframe(struct frame *f, bool v6, bool last)
{
    size_t start = f->n;
    put(f, MAC_A, 6);
    put(f, MAC_B, 6);
    put_be16(f, (unsigned)(8 + ip_len(v6)));
    put_bytes(f, 6, 0xaa, 0xaa, 3, 0, 0, 0);
    put_be16(f, v6 ? 0x86dd : 0x0800);
    put_ip(f, v6);
    while (!last && ((f->n - start) & 3))
        put_bytes(f, 1, 0);
}

/* IEEE 802.11-2020 9.3.2.2.2: subframes padded to 4 but the last; each
 * MSDU decodes to the TCP segment; a cut or a length past the body stops
 * the walk and says so, never reading past it. */
static void test_amsdu_iter(void **state)
{
    (void)state;
    struct frame f;
    memset(&f, 0, sizeof(f));
    put_subframe(&f, false, false); /* 14 + 8 + 50: padded by 0 */
    put_subframe(&f, true, false);  /* 14 + 8 + 70: padded by 0 */
    put_subframe(&f, false, true);
    struct ms_amsdu_iter it;
    const uint8_t *da, *sa, *msdu;
    size_t n, count = 0;
    ms_amsdu_init(&it, f.b, f.n);
    while (ms_amsdu_next(&it, &da, &sa, &msdu, &n)) {
        assert_memory_equal(da, MAC_A, 6);
        assert_memory_equal(sa, MAC_B, 6);
        assert_int_equal(n, 8 + ip_len(count == 1));
        struct ms_pkt p;
        memset(&p, 0, sizeof(p));
        assert_int_equal(ms_decode_llc(msdu, n, &p), MS_DECODE_TCP);
        assert_int_equal(p.ip_version, count == 1 ? 6 : 4);
        assert_int_equal(p.payload_len, strlen(PAYLOAD));
        assert_memory_equal(p.payload, PAYLOAD, strlen(PAYLOAD));
        count++;
    }
    assert_int_equal(count, 3);
    assert_false(it.bad);

    /* Odd lengths: padding after the first two, none after the last. */
    memset(&f, 0, sizeof(f));
    for (int i = 0; i < 3; i++) {
        size_t start = f.n;
        put(&f, MAC_A, 6);
        put(&f, MAC_B, 6);
        put_be16(&f, 5);
        put_bytes(&f, 5, 1, 2, 3, 4, 5);
        while (i < 2 && ((f.n - start) & 3))
            put_bytes(&f, 1, 0xee);
    }
    assert_int_equal(f.n, 20 + 20 + 19);
    count = 0;
    ms_amsdu_init(&it, f.b, f.n);
    while (ms_amsdu_next(&it, &da, &sa, &msdu, &n)) {
        assert_int_equal(n, 5);
        assert_int_equal(msdu[0], 1);
        assert_int_equal(msdu[4], 5);
        count++;
    }
    assert_int_equal(count, 3);
    assert_false(it.bad);
    /* The last subframe cut by a byte: two, then bad. */
    count = 0;
    ms_amsdu_init(&it, f.b, f.n - 1);
    while (ms_amsdu_next(&it, &da, &sa, &msdu, &n))
        count++;
    assert_int_equal(count, 2);
    assert_true(it.bad);
    /* A length past the body; a header cut short; an empty body. */
    f.b[12] = 0xff;
    ms_amsdu_init(&it, f.b, f.n);
    assert_false(ms_amsdu_next(&it, &da, &sa, &msdu, &n));
    assert_true(it.bad);
    ms_amsdu_init(&it, f.b, 13);
    assert_false(ms_amsdu_next(&it, &da, &sa, &msdu, &n));
    assert_true(it.bad);
    ms_amsdu_init(&it, f.b, 0);
    assert_false(ms_amsdu_next(&it, &da, &sa, &msdu, &n));
    assert_false(it.bad);
    /* A subframe of 14 bytes (an empty MSDU) still moves on. */
    memset(&f, 0, sizeof(f));
    put(&f, MAC_A, 6);
    put(&f, MAC_B, 6);
    put_be16(&f, 0);
    put_bytes(&f, 2, 0, 0);
    put(&f, MAC_A, 6);
    put(&f, MAC_B, 6);
    put_be16(&f, 0);
    count = 0;
    ms_amsdu_init(&it, f.b, f.n);
    while (ms_amsdu_next(&it, &da, &sa, &msdu, &n))
        count += n == 0;
    assert_int_equal(count, 2);
    assert_false(it.bad);
}

/* The ethertype behind an MSDU's LLC/SNAP: EAPOL goes to the handshake
 * tracker, not to IP. */
static void test_llc_type(void **state)
{
    (void)state;
    const uint8_t eapol[] = { 0xaa, 0xaa, 3, 0, 0, 0, 0x88, 0x8e, 2, 3, 0, 0x5f };
    uint16_t type;
    const uint8_t *rest;
    size_t n;
    assert_true(ms_decode_llc_type(eapol, sizeof(eapol), &type, &rest, &n));
    assert_int_equal(type, 0x888e);
    assert_ptr_equal(rest, eapol + 8);
    assert_int_equal(n, 4);
    assert_false(ms_decode_llc_type(eapol, 7, &type, &rest, &n));
    const uint8_t stp[] = { 0x42, 0x42, 3, 0, 0, 0, 0, 0 };
    assert_false(ms_decode_llc_type(stp, sizeof(stp), &type, &rest, &n));
    struct ms_pkt p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(ms_decode_llc(eapol, sizeof(eapol), &p), MS_DECODE_NOT_TCP);
}

static void test_wifi_skips(void **state)
{
    (void)state;
    struct frame f;
    struct ms_pkt p;
    /* Protected data frame: skipped with its own status. */
    memset(&f, 0, sizeof(f));
    put_80211(&f, true, false, false, false, 0x40, false);
    put_ip(&f, false);
    assert_int_equal(ms_decode_frame(DLT_IEEE802_11, f.b, f.n, &p), MS_DECODE_PROTECTED);
    /* Beacon (management): nothing for us. */
    memset(&f, 0, sizeof(f));
    put_bytes(&f, 4, 0x80, 0, 0, 0);
    for (int i = 0; i < 20; i++)
        put_bytes(&f, 1, 0xff);
    assert_int_equal(ms_decode_frame(DLT_IEEE802_11, f.b, f.n, &p), MS_DECODE_NOT_TCP);
    /* ACK (control, 10 bytes). */
    memset(&f, 0, sizeof(f));
    put_bytes(&f, 10, 0xd4, 0, 0, 0, 2, 0, 0, 0, 0, 1);
    assert_int_equal(ms_decode_frame(DLT_IEEE802_11, f.b, f.n, &p), MS_DECODE_NOT_TCP);
    /* QoS Null (subtype 12): no body. */
    memset(&f, 0, sizeof(f));
    put_bytes(&f, 2, 0xc8, 1);
    for (int i = 0; i < 24; i++)
        put_bytes(&f, 1, 0);
    assert_int_equal(ms_decode_frame(DLT_IEEE802_11, f.b, f.n, &p), MS_DECODE_NOT_TCP);
    /* More Fragments set: 802.11 fragments are not reassembled. */
    memset(&f, 0, sizeof(f));
    put_80211(&f, false, false, false, false, 0x04, false);
    put_ip(&f, false);
    assert_int_equal(ms_decode_frame(DLT_IEEE802_11, f.b, f.n, &p), MS_DECODE_UNSUPPORTED);
    /* A-MSDU present bit in QoS control. */
    struct frame g;
    build(K_WIFI_WDS, false, &g);
    g.b[30] |= 0x80;
    assert_int_equal(ms_decode_frame(DLT_IEEE802_11, g.b, g.n, &p), MS_DECODE_UNSUPPORTED);
    /* Not SNAP (e.g. STP's LLC 42 42 03). */
    build(K_WIFI, false, &g);
    g.b[24] = g.b[25] = 0x42;
    assert_int_equal(ms_decode_frame(DLT_IEEE802_11, g.b, g.n, &p), MS_DECODE_NOT_TCP);
    /* Radiotap saying the FCS failed. */
    build(K_RADIOTAP, false, &g);
    g.b[16] = 0x40;
    assert_int_equal(ms_decode_frame(DLT_IEEE802_11_RADIO, g.b, g.n, &p), MS_DECODE_MALFORMED);
    /* PPI refuses to nest PPI. */
    build(K_PPI, false, &g);
    g.b[4] = 192;
    assert_int_equal(ms_decode_frame(DLT_PPI, g.b, g.n, &p), MS_DECODE_UNSUPPORTED);
}

static void test_checksum(void **state)
{
    (void)state;
    for (int v6 = 0; v6 < 2; v6++) {
        struct frame f;
        int lt = build(K_RAW, v6, &f);
        struct ms_pkt p;
        /* Flip one payload byte: the checksum no longer matches. */
        f.b[f.n - 3] ^= 1;
        assert_int_equal(ms_decode_frame(lt, f.b, f.n, &p), MS_DECODE_TCP);
        assert_true(p.tcp_csum_checked);
        assert_true(p.tcp_csum_bad);
        /* Bad checksums are still decoded in full (offload). */
        assert_int_equal(p.payload_len, strlen(PAYLOAD));
    }
    /* Odd length: the last byte is padded with zero (RFC 1071). */
    static const uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
    uint8_t seg[21] = { 0 };
    seg[12] = 0x50;
    seg[20] = 'x';
    uint16_t c = ms_tcp_checksum(4, a, b, seg, sizeof(seg));
    seg[16] = (uint8_t)(c >> 8);
    seg[17] = (uint8_t)c;
    assert_int_equal(ms_tcp_checksum(4, a, b, seg, sizeof(seg)), 0);
}

/* Decoding again (a --threads worker) gives the same view without a
 * checksum verdict, whatever the checksum; a first decode after it
 * verifies again. */
static void test_decode_again(void **state)
{
    (void)state;
    for (int v6 = 0; v6 < 2; v6++) {
        for (int bad = 0; bad < 2; bad++) {
            struct frame f;
            int lt = build(K_ETH, v6, &f);
            struct ms_pkt p, q;
            if (bad)
                f.b[f.n - 3] ^= 1;
            memset(&p, 0, sizeof(p));
            memset(&q, 0, sizeof(q));
            assert_int_equal(ms_decode_frame(lt, f.b, f.n, &p), MS_DECODE_TCP);
            assert_true(p.tcp_csum_checked);
            assert_int_equal(p.tcp_csum_bad, bad);
            assert_int_equal(ms_decode_frame_no_csum(lt, f.b, f.n, &q), MS_DECODE_TCP);
            assert_false(q.tcp_csum_checked);
            assert_false(q.tcp_csum_bad);
            assert_int_equal(q.sport, p.sport);
            assert_int_equal(q.dport, p.dport);
            assert_int_equal(q.seq, p.seq);
            assert_int_equal(q.ack, p.ack);
            assert_int_equal(q.tcp_flags, p.tcp_flags);
            assert_memory_equal(q.src, p.src, sizeof(p.src));
            assert_memory_equal(q.dst, p.dst, sizeof(p.dst));
            assert_ptr_equal(q.payload, p.payload);
            assert_int_equal(q.payload_len, p.payload_len);
            memset(&q, 0, sizeof(q));
            assert_int_equal(ms_decode_ip_no_csum(p.l3, p.l3_len, &q), MS_DECODE_TCP);
            assert_false(q.tcp_csum_checked);
            assert_ptr_equal(q.payload, p.payload);
            assert_int_equal(ms_decode_ip(p.l3, p.l3_len, &q), MS_DECODE_TCP);
            assert_true(q.tcp_csum_checked);
            assert_int_equal(q.tcp_csum_bad, bad);
        }
    }
}

/* RFC 1071 the plain way, a 16-bit word at a time in network order: the
 * reference for ms_tcp_checksum, which sums eight bytes at a time. */
static uint16_t ref_checksum(int v6, const uint8_t *src, const uint8_t *dst, const uint8_t *seg,
                             size_t len)
{
    static uint8_t buf[2 * 16 + 8 + 65536];
    memset(buf, 0, sizeof(buf));
    size_t alen = v6 ? 16 : 4, n = 0;
    memcpy(buf, src, alen);
    memcpy(buf + alen, dst, alen);
    n = 2 * alen;
    buf[n + 1] = 6; /* zero, protocol */
    buf[n + 2] = (uint8_t)(len >> 8);
    buf[n + 3] = (uint8_t)len;
    n += 4;
    memcpy(buf + n, seg, len);
    n += len;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i += 2)
        acc += (uint32_t)buf[i] << 8 | (i + 1 < n ? buf[i + 1] : 0);
    while (acc >> 16)
        acc = (acc & 0xffffu) + (acc >> 16);
    return (uint16_t)~acc;
}

static void test_checksum_like_reference(void **state)
{
    (void)state;
    uint32_t x = 7;
    uint8_t src[16], dst[16], buf[300 + 8];
    for (int t = 0; t < 20000; t++) {
        int v6 = t & 1;
        /* Every length, and every start modulo 8 (the segment in a frame
         * is aligned to nothing). */
        uint8_t *seg = buf + (t / 600) % 8;
        size_t len = (size_t)(t / 2) % 300;
        int fill = t % 5; /* random, zeros, all ones, or random with runs */
        for (size_t i = 0; i < sizeof(src); i++) {
            x = x * 1103515245u + 12345u;
            src[i] = (uint8_t)(x >> 16);
            dst[i] = (uint8_t)(x >> 24);
        }
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            seg[i] = fill == 1 ? 0 : fill == 2 ? 0xff : (uint8_t)(x >> 16);
        }
        if (fill == 3 && len > 0)
            memset(seg, 0xff, len / 2);
        assert_int_equal(ms_tcp_checksum(v6 ? 6 : 4, src, dst, seg, len),
                         ref_checksum(v6, src, dst, seg, len));
    }
    /* Full-size segments (the sums of 32-bit halves run many steps), all
     * ones (the most carry) and random, at every start modulo 16. */
    static uint8_t big[65536 + 16];
    for (int t = 0; t < 64; t++) {
        uint8_t *seg = big + t % 16;
        size_t len = t < 32 ? 65535 - (size_t)(t % 3) : 1500 + (size_t)t;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            seg[i] = t < 16 ? 0xff : (uint8_t)(x >> 16);
        }
        assert_int_equal(ms_tcp_checksum(t & 1 ? 6 : 4, src, dst, seg, len),
                         ref_checksum(t & 1, src, dst, seg, len));
    }
}

static void test_ipv6_headers(void **state)
{
    (void)state;
    struct frame f;
    struct ms_pkt p;
    /* Hop-by-hop (8) + AH (16) + destination options (8) before TCP. */
    memset(&f, 0, sizeof(f));
    struct frame ip;
    build(K_RAW, true, &ip);
    size_t tcp_len = ip.n - 40;
    put(&f, ip.b, 40);
    f.b[6] = 0;
    put_bytes(&f, 8, 51, 0, 1, 4, 0, 0, 0, 0); /* HBH -> AH */
    put_bytes(&f, 8, 60, 2, 0, 0, 0, 0, 0, 1); /* AH -> DST, 16 bytes */
    put_bytes(&f, 8, 0, 0, 0, 0, 0, 0, 0, 0);
    put_bytes(&f, 8, 6, 0, 1, 4, 0, 0, 0, 0); /* DST -> TCP */
    put(&f, ip.b + 40, tcp_len);
    f.b[4] = (uint8_t)((f.n - 40) >> 8);
    f.b[5] = (uint8_t)(f.n - 40);
    assert_int_equal(ms_decode_frame(101, f.b, f.n, &p), MS_DECODE_TCP);
    assert_int_equal(p.payload_len, strlen(PAYLOAD));
    assert_false(p.tcp_csum_bad);
    /* A routing header with segments left: no checksum verdict. */
    struct frame r;
    memset(&r, 0, sizeof(r));
    put(&r, f.b, 40);
    r.b[6] = 43;
    put_bytes(&r, 8, 6, 0, 0, 1, 0, 0, 0, 0);
    put(&r, ip.b + 40, tcp_len);
    r.b[5] = (uint8_t)(r.n - 40);
    assert_int_equal(ms_decode_frame(101, r.b, r.n, &p), MS_DECODE_TCP);
    assert_false(p.tcp_csum_checked);
    /* Fragment header: a fragment; the same with offset 0 and M 0 is an
     * atomic fragment (RFC 6946), decoded in place. */
    memset(&f, 0, sizeof(f));
    put(&f, ip.b, 40);
    f.b[6] = 44;
    put_bytes(&f, 8, 6, 0, 0, 1, 0, 0, 0, 9);
    put(&f, ip.b + 40, tcp_len);
    f.b[5] = (uint8_t)(f.n - 40);
    assert_int_equal(ms_decode_frame(101, f.b, f.n, &p), MS_DECODE_FRAGMENT);
    assert_ptr_equal(p.l3, f.b);
    assert_int_equal(p.l3_len, f.n);
    f.b[43] = 0;
    assert_int_equal(ms_decode_frame(101, f.b, f.n, &p), MS_DECODE_TCP);
    assert_int_equal(p.payload_len, strlen(PAYLOAD));
    /* ESP: encrypted, nothing for us; a chain of 17 headers: malformed. */
    f.b[40] = 50;
    assert_int_equal(ms_decode_frame(101, f.b, f.n, &p), MS_DECODE_NOT_TCP);
    memset(&f, 0, sizeof(f));
    put(&f, ip.b, 40);
    f.b[6] = 60;
    for (int i = 0; i < 17; i++)
        put_bytes(&f, 8, 60, 0, 1, 4, 0, 0, 0, 0);
    f.b[5] = (uint8_t)(f.n - 40);
    assert_int_equal(ms_decode_frame(101, f.b, f.n, &p), MS_DECODE_MALFORMED);
}

static void test_ipv4_fragment_and_padding(void **state)
{
    (void)state;
    struct frame f;
    struct ms_pkt p;
    int lt = build(K_ETH, false, &f);
    /* Ethernet padding after the IP packet is not payload. */
    put_bytes(&f, 6, 0, 0, 0, 0, 0, 0);
    assert_int_equal(ms_decode_frame(lt, f.b, f.n, &p), MS_DECODE_TCP);
    assert_int_equal(p.payload_len, strlen(PAYLOAD));
    assert_int_equal(p.l3_len, ip_len(false));
    assert_true(p.tcp_csum_checked);
    assert_false(p.tcp_csum_bad);
    /* MF set: a fragment, l3 trimmed to the IP length. */
    f.b[14 + 6] = 0x20;
    assert_int_equal(ms_decode_frame(lt, f.b, f.n, &p), MS_DECODE_FRAGMENT);
    assert_ptr_equal(p.l3, f.b + 14);
    assert_int_equal(p.l3_len, ip_len(false));
    /* IHL below 5, total below IHL: malformed. */
    build(K_RAW, false, &f);
    f.b[0] = 0x44;
    assert_int_equal(ms_decode_frame(101, f.b, f.n, &p), MS_DECODE_MALFORMED);
    build(K_RAW, false, &f);
    f.b[3] = 10;
    assert_int_equal(ms_decode_frame(101, f.b, f.n, &p), MS_DECODE_MALFORMED);
    /* Total length 0: a segment captured before TCP segmentation offload;
     * the frame is the whole datagram (corpus: chrissanders 76k). */
    build(K_RAW, false, &f);
    f.b[2] = 0;
    f.b[3] = 0;
    assert_int_equal(ms_decode_frame(101, f.b, f.n, &p), MS_DECODE_TCP);
    assert_int_equal(p.payload_len, strlen(PAYLOAD));
    /* IP-in-IP with a mismatched inner version. */
    build(K_IPIP, false, &f);
    f.b[14 + 9] = 41;
    assert_int_equal(ms_decode_frame(DLT_EN10MB, f.b, f.n, &p), MS_DECODE_MALFORMED);
    /* Unknown link type. */
    assert_false(ms_decode_linktype_supported(9999));
    assert_int_equal(ms_decode_frame(9999, f.b, f.n, &p), MS_DECODE_UNSUPPORTED);
}

/* Tunnels nest a bounded number of times: a packet of 40 IP-in-IP
 * headers is refused, not recursed into. */
static void test_nesting_bound(void **state)
{
    (void)state;
    enum { N = 40 };
    uint8_t *b = calloc(1, (size_t)N * 20 + 64);
    assert_non_null(b);
    size_t total = (size_t)N * 20 + ip_len(false);
    struct frame inner;
    build(K_RAW, false, &inner);
    for (size_t i = 0; i < N; i++) {
        uint8_t *h = b + i * 20;
        size_t t = total - i * 20;
        h[0] = 0x45;
        h[2] = (uint8_t)(t >> 8);
        h[3] = (uint8_t)t;
        h[8] = 64;
        h[9] = 4;
    }
    memcpy(b + (size_t)N * 20, inner.b, inner.n);
    struct ms_pkt p;
    assert_int_equal(ms_decode_frame(101, b, total, &p), MS_DECODE_UNSUPPORTED);
    free(b);
    /* A long MPLS stack without bottom of stack: malformed, bounded. */
    struct frame f;
    memset(&f, 0, sizeof(f));
    put_eth_hdr(&f, 0x8847);
    for (int i = 0; i < 20; i++)
        put_bytes(&f, 4, 0, 0x10, 0, 64);
    put_ip(&f, false);
    assert_int_equal(ms_decode_frame(DLT_EN10MB, f.b, f.n, &p), MS_DECODE_MALFORMED);
}

/* Random bytes and random mutations of every valid frame, on every link
 * type: any status, no crash, pointers inside the input. */
static void test_random_input(void **state)
{
    (void)state;
    uint32_t x = 12345;
    for (int round = 0; round < 20000; round++) {
        struct frame f;
        int k = round % K_MAX;
        int lt = build((enum kind)k, round & 1, &f);
        int flips = 1 + (int)((x >> 7) % 4);
        for (int i = 0; i < flips; i++) {
            x = x * 1103515245u + 12345u;
            f.b[(x >> 8) % f.n] = (uint8_t)(x >> 16);
        }
        x = x * 1103515245u + 12345u;
        size_t n = (x >> 8) % (f.n + 1);
        struct ms_pkt p;
        decode_copy(lt, f.b, n, &p);
    }
}

/* ---- captures through the pipeline ----------------------------------- */

static void capture_dir(char *out, size_t n)
{
    /* __FILE__ is <root>/tests/unit/test_decode.c in the CMake build. */
    const char *tail = "tests/unit/test_decode.c";
    size_t fl = strlen(__FILE__), tl = strlen(tail);
    assert_true(fl >= tl);
    snprintf(out, n, "%.*spcaps/capture", (int)(fl - tl), __FILE__);
}

struct counter {
    const char *name;
    size_t off;
};

#define C(f)                                      \
    {                                             \
#f, offsetof(struct ms_pipeline_stats, f) \
    }
static const struct counter COUNTERS[] = {
    C(packets),      C(truncated), C(malformed),        C(unsupported),   C(wifi_protected),
    C(tcp_bad_csum), C(fragments), C(frag_reassembled), C(frag_overlaps), C(frag_dropped),
};
#undef C

static void run_capture(const char *path, struct ms_pipeline_stats *st)
{
    char err[512];
    struct ms_source *src = ms_source_open_file(path, NULL, NULL, err, sizeof(err));
    if (!src)
        fail_msg("%s", err);
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    struct ms_output_opts oo;
    memset(&oo, 0, sizeof(oo));
    struct ms_sinks_opts so = { 0 };
    struct ms_sinks *sinks = ms_sinks_new(&so);
    assert_non_null(sinks);
    assert_int_equal(ms_sinks_add_stream(sinks, devnull, "/dev/null"), MS_OK);
    assert_int_equal(ms_sinks_start(sinks, err, sizeof(err)), MS_OK);
    struct ms_output *out = ms_output_new(sinks, &oo);
    assert_non_null(out);
    struct ms_limits lim = ms_limits_default();
    struct ms_pipeline *pl = ms_pipeline_new(&lim, out);
    assert_non_null(pl);
    uint64_t ts;
    const uint8_t *data;
    size_t caplen;
    int lt;
    enum ms_next r;
    while ((r = ms_source_next(src, &ts, &data, &caplen, &lt)) == MS_NEXT_PACKET)
        ms_pipeline_frame(pl, lt, ts, data, caplen);
    assert_int_equal(r, MS_NEXT_END);
    ms_pipeline_finish(pl);
    ms_pipeline_get_stats(pl, st);
    ms_pipeline_free(pl);
    ms_output_free(out);
    ms_sinks_free(sinks);
    assert_int_equal(fclose(devnull), 0);
    ms_source_close(src);
}

static void test_capture_counters(void **state)
{
    (void)state;
    char dir[1024], path[1200];
    capture_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/counters.json", dir);
    struct json_object *all = json_object_from_file(path);
    if (!all)
        fail_msg("cannot read %s", path);
    size_t files = 0;
    json_object_object_foreach(all, fname, want)
    {
        snprintf(path, sizeof(path), "%s/%s", dir, fname);
        struct ms_pipeline_stats st;
        run_capture(path, &st);
        for (size_t i = 0; i < sizeof(COUNTERS) / sizeof(COUNTERS[0]); i++) {
            struct json_object *v;
            if (!json_object_object_get_ex(want, COUNTERS[i].name, &v))
                continue;
            uint64_t got;
            memcpy(&got, (const char *)&st + COUNTERS[i].off, sizeof(got));
            if (got != (uint64_t)json_object_get_int64(v))
                fail_msg("%s: %s is %llu, expected %lld", fname, COUNTERS[i].name,
                         (unsigned long long)got, (long long)json_object_get_int64(v));
        }
        files++;
    }
    assert_true(files >= 20);
    json_object_put(all);
}

/* Every prefix of a pcapng file (and a few damaged copies): the reader
 * ends with a packet count up to the full one, then end or error. */
static void test_pcapng_prefixes(void **state)
{
    (void)state;
    char dir[1024], path[1200];
    capture_dir(dir, sizeof(dir));
    static const char *const names[] = { "pcapng-eth-sll.pcapng",
                                         "pcapng-bigendian-raw-sll2.pcapng" };
    for (size_t k = 0; k < 2; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        static uint8_t file[65536];
        size_t flen = fread(file, 1, sizeof(file), fp);
        assert_false(ferror(fp));
        assert_int_equal(fclose(fp), 0);
        assert_true(flen > 100);
        size_t full = 0;
        for (size_t cut = flen + 1; cut-- > 0;) {
            for (int damage = 0; damage < 2; damage++) {
                uint8_t *copy = malloc(cut ? cut : 1);
                assert_non_null(copy);
                memcpy(copy, file, cut);
                if (damage && cut > 40)
                    copy[(cut * 7919) % cut] ^= 0xa5;
                FILE *m = fmemopen(copy, cut ? cut : 1, "rb");
                assert_non_null(m);
                if (!cut)
                    fgetc(m); /* an empty stream */
                char err[256];
                struct ms_pcapng *r = ms_pcapng_open(m, false, NULL, err, sizeof(err));
                assert_non_null(r);
                uint64_t ts;
                const uint8_t *d;
                size_t cl;
                int lt;
                size_t npkt = 0;
                enum ms_next rc;
                while ((rc = ms_pcapng_next(r, &ts, &d, &cl, &lt)) == MS_NEXT_PACKET) {
                    assert_true(lt == 1 || lt == 113 || lt == 101 || lt == 276 || damage);
                    npkt++;
                }
                if (cut == flen && !damage) {
                    assert_int_equal(rc, MS_NEXT_END);
                    full = npkt;
                    assert_int_equal(full, 26);
                } else if (!damage) {
                    assert_true(npkt < full || (npkt == full && rc == MS_NEXT_ERROR));
                }
                ms_pcapng_close(r);
                free(copy);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_link_type),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_wifi_skips),
        cmocka_unit_test(test_wifi_locate),
        cmocka_unit_test(test_amsdu_iter),
        cmocka_unit_test(test_llc_type),
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_decode_again), /* --threads' workers */
        cmocka_unit_test(test_checksum_like_reference),
        cmocka_unit_test(test_ipv6_headers),
        cmocka_unit_test(test_ipv4_fragment_and_padding),
        cmocka_unit_test(test_nesting_bound),
        cmocka_unit_test(test_random_input),
        cmocka_unit_test(test_capture_counters),
        cmocka_unit_test(test_pcapng_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
