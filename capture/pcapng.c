/* pcapng reader: see pcapng.h. Block layout (pcapng draft section 3.1):
 * type (4), total length (4), body, total length again (4); lengths are
 * multiples of 4. The Section Header Block's byte-order magic 0x1A2B3C4D
 * tells the byte order of everything in its section (4.1). Interface
 * Description Blocks (4.2) number the interfaces of a section from 0;
 * Enhanced Packet Blocks (4.3) name one, Simple Packet Blocks (4.4) use
 * interface 0 and carry no time, the obsolete Packet Block (appendix)
 * names one with 16 bits. Other blocks (name resolution, statistics,
 * custom, ...) are skipped. */
#include "pcapng.h"

#include "decode.h"

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/bytes.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_PB 2u
#define BT_SPB 3u
#define BT_EPB 6u
#define BOM 0x1A2B3C4Du

#define OPT_ENDOFOPT 0
#define OPT_IF_TSRESOL 9
#define OPT_IF_TSOFFSET 14

struct iface {
    int linktype;
    uint32_t snaplen;
    uint8_t tsresol;  /* raw option value; default 6 (microseconds) */
    int64_t tsoffset; /* seconds added to every timestamp */
    struct bpf_program prog;
    bool have_prog;
    bool reject_all; /* the filter cannot apply to this link type */
};

struct ms_pcapng {
    FILE *fp;
    bool pre_read;   /* the first 4 bytes (SHB type) are consumed */
    bool big_endian; /* byte order of the current section */
    bool in_section;
    char *filter;
    uint8_t *buf;
    size_t cap;
    struct iface *ifs;
    size_t nifs, ifcap;
    /* Interfaces over all sections, and those the decoder cannot read:
     * their numbers in the file and link types, for the caller to say. */
    size_t ifs_total, ifs_unsupported;
    size_t unsup_number[MS_PCAPNG_NOTED_IFACES];
    int unsup_linktype[MS_PCAPNG_NOTED_IFACES];
    uint64_t last_ts; /* for Simple Packet Blocks, which have none */
    char err[PCAP_ERRBUF_SIZE + 128];
};

static uint16_t rd16(const struct ms_pcapng *r, const uint8_t *p)
{
    return r->big_endian ? ms_be16(p) : ms_le16(p);
}

static uint32_t rd32(const struct ms_pcapng *r, const uint8_t *p)
{
    return r->big_endian ? ms_be32(p) : ms_le32(p);
}

static void clear_ifaces(struct ms_pcapng *r)
{
    for (size_t i = 0; i < r->nifs; i++)
        if (r->ifs[i].have_prog)
            pcap_freecode(&r->ifs[i].prog);
    r->nifs = 0;
}

/* Checks the filter's syntax against one link type. */
static enum ms_rc compile(const char *filter, int linktype, uint32_t snaplen,
                          struct bpf_program *prog, char *err, size_t errlen)
{
    pcap_t *dead = pcap_open_dead(linktype,
                                  snaplen
                                      ? (int)(snaplen > MS_SNAPLEN_MAX ? MS_SNAPLEN_MAX : snaplen)
                                      : MS_SNAPLEN_MAX);
    if (!dead) {
        snprintf(err, errlen, "out of memory");
        return MS_ERR_NOMEM;
    }
    int rc = pcap_compile(dead, prog, filter, 1, PCAP_NETMASK_UNKNOWN);
    if (rc < 0)
        snprintf(err, errlen, "invalid filter \"%s\" for link type %d: %s", filter, linktype,
                 pcap_geterr(dead));
    pcap_close(dead);
    return rc < 0 ? MS_ERR_ARG : MS_OK;
}

struct ms_pcapng *ms_pcapng_open(FILE *fp, bool pre_read, const char *filter, char *err,
                                 size_t errlen)
{
    struct ms_pcapng *r = ms_calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        (void)fclose(fp); /* a capture opened for reading: no data to lose */
        return NULL;
    }
    r->fp = fp;
    r->pre_read = pre_read;
    if (filter && *filter) {
        struct bpf_program prog;
        r->filter = ms_strdup(filter);
        if (!r->filter || compile(filter, DLT_EN10MB, 0, &prog, err, errlen) != MS_OK) {
            if (!r->filter)
                snprintf(err, errlen, "out of memory");
            ms_pcapng_close(r);
            return NULL;
        }
        pcap_freecode(&prog);
    }
    return r;
}

const char *ms_pcapng_error(const struct ms_pcapng *r)
{
    return r->err;
}

int ms_pcapng_first_linktype(const struct ms_pcapng *r)
{
    return r->nifs ? r->ifs[0].linktype : -1;
}

size_t ms_pcapng_interfaces(const struct ms_pcapng *r, size_t *unsupported)
{
    *unsupported = r->ifs_unsupported;
    return r->ifs_total;
}

bool ms_pcapng_unsupported_iface(const struct ms_pcapng *r, size_t k, size_t *number, int *linktype)
{
    if (k >= r->ifs_unsupported || k >= MS_PCAPNG_NOTED_IFACES)
        return false;
    *number = r->unsup_number[k];
    *linktype = r->unsup_linktype[k];
    return true;
}

/* Reads exactly n bytes: MS_NEXT_PACKET (read), MS_NEXT_END (clean end of
 * file before any byte) or MS_NEXT_ERROR (an error, or the end of file in
 * the middle; r->err says which). */
static enum ms_next read_exact(struct ms_pcapng *r, uint8_t *p, size_t n)
{
    size_t got = fread(p, 1, n, r->fp);
    if (got == n)
        return MS_NEXT_PACKET;
    if (got == 0 && feof(r->fp))
        return MS_NEXT_END;
    snprintf(r->err, sizeof(r->err), "%s", ferror(r->fp) ? "read error" : "truncated pcapng block");
    return MS_NEXT_ERROR;
}

static enum ms_rc grow(struct ms_pcapng *r, size_t n)
{
    if (n <= r->cap)
        return MS_OK;
    uint8_t *nb = ms_realloc(r->buf, n);
    if (!nb) {
        snprintf(r->err, sizeof(r->err), "out of memory");
        return MS_ERR_NOMEM;
    }
    r->buf = nb;
    r->cap = n;
    return MS_OK;
}

/* IDB (4.2): link type (2), reserved (2), snaplen (4), options. */
static enum ms_rc on_idb(struct ms_pcapng *r, const uint8_t *b, size_t n)
{
    if (n < 8) {
        snprintf(r->err, sizeof(r->err), "interface description block too short");
        return MS_ERR_PROTO;
    }
    if (r->nifs == r->ifcap) {
        size_t nc = r->ifcap ? r->ifcap * 2 : 4;
        if (nc > MS_PCAPNG_MAX_IFACES) {
            snprintf(r->err, sizeof(r->err), "too many interfaces");
            return MS_ERR_LIMIT;
        }
        struct iface *ni = ms_realloc(r->ifs, nc * sizeof(*ni));
        if (!ni) {
            snprintf(r->err, sizeof(r->err), "out of memory");
            return MS_ERR_NOMEM;
        }
        r->ifs = ni;
        r->ifcap = nc;
    }
    struct iface *i = &r->ifs[r->nifs];
    memset(i, 0, sizeof(*i));
    i->linktype = rd16(r, b);
    i->snaplen = rd32(r, b + 4);
    i->tsresol = 6;
    /* Options (3.5): code (2), length (2), value padded to 4 bytes. */
    size_t off = 8;
    while (n - off >= 4) {
        uint16_t code = rd16(r, b + off), olen = rd16(r, b + off + 2);
        off += 4;
        if (code == OPT_ENDOFOPT || n - off < olen)
            break;
        if (code == OPT_IF_TSRESOL && olen >= 1)
            i->tsresol = b[off];
        else if (code == OPT_IF_TSOFFSET && olen == 8) {
            uint64_t v = r->big_endian ? ((uint64_t)rd32(r, b + off) << 32) | rd32(r, b + off + 4)
                                       : ((uint64_t)rd32(r, b + off + 4) << 32) | rd32(r, b + off);
            i->tsoffset = (int64_t)v;
        }
        size_t padded = ((size_t)olen + 3) & ~(size_t)3;
        if (n - off < padded)
            break;
        off += padded;
    }
    if (r->filter) {
        /* A filter that names another link layer's fields ("ether host")
         * matches nothing on this interface; only when it fits no
         * interface at all is it an error, as libpcap would say. */
        enum ms_rc rc = compile(r->filter, i->linktype, i->snaplen, &i->prog, r->err,
                                sizeof(r->err));
        if (rc != MS_OK) {
            if (r->nifs == 0)
                return rc;
            i->reject_all = true;
            r->err[0] = '\0';
        } else {
            i->have_prog = true;
        }
    }
    if (!ms_decode_linktype_supported(i->linktype)) {
        if (r->ifs_unsupported < MS_PCAPNG_NOTED_IFACES) {
            r->unsup_number[r->ifs_unsupported] = r->ifs_total;
            r->unsup_linktype[r->ifs_unsupported] = i->linktype;
        }
        r->ifs_unsupported++;
    }
    r->ifs_total++;
    r->nifs++;
    return MS_OK;
}

/* Timestamp units to microseconds (4.2 if_tsresol: top bit clear, 10^-v
 * seconds; set, 2^-v seconds), then the interface's offset in seconds. */
static uint64_t to_us(const struct iface *i, uint64_t ts)
{
    uint64_t us;
    unsigned v = i->tsresol & 0x7fu;
    if (i->tsresol & 0x80u) {
        us = (uint64_t)(((unsigned __int128)ts * 1000000u) >> v);
    } else if (v <= 6) {
        uint64_t mul = 1;
        for (unsigned k = v; k < 6; k++)
            mul *= 10;
        us = ts * mul;
    } else {
        uint64_t div = 1;
        for (unsigned k = 6; k < v && k < 26; k++)
            div = div > UINT64_MAX / 10 ? UINT64_MAX : div * 10;
        us = ts / div;
    }
    if (i->tsoffset)
        us += (uint64_t)i->tsoffset * 1000000u; /* wraps like the file asks */
    return us;
}

static const struct iface *iface_of(struct ms_pcapng *r, uint32_t id)
{
    if (id >= r->nifs) {
        snprintf(r->err, sizeof(r->err), "packet for undefined interface %u", id);
        return NULL;
    }
    return &r->ifs[id];
}

enum ms_next ms_pcapng_next(struct ms_pcapng *r, uint64_t *ts_us, const uint8_t **data,
                            size_t *caplen, int *linktype)
{
    for (;;) {
        uint8_t h[12];
        uint32_t type;
        enum ms_next rc;
        if (r->pre_read) {
            /* The SHB type was consumed by format sniffing. */
            r->pre_read = false;
            memcpy(h, "\x0a\x0d\x0d\x0a", 4);
            rc = read_exact(r, h + 4, 8);
            if (rc == MS_NEXT_END) {
                snprintf(r->err, sizeof(r->err), "truncated pcapng block");
                rc = MS_NEXT_ERROR;
            }
        } else {
            rc = read_exact(r, h, 8);
            if (rc == MS_NEXT_PACKET && memcmp(h, "\x0a\x0d\x0d\x0a", 4) == 0) {
                rc = read_exact(r, h + 8, 4);
                if (rc == MS_NEXT_END) {
                    snprintf(r->err, sizeof(r->err), "truncated pcapng block");
                    rc = MS_NEXT_ERROR;
                }
            }
        }
        if (rc != MS_NEXT_PACKET)
            return rc;
        size_t done; /* header bytes already read */
        if (memcmp(h, "\x0a\x0d\x0d\x0a", 4) == 0) {
            /* A new section: its byte-order magic decides how to read even
             * its own length. */
            if (memcmp(h + 8, "\x1a\x2b\x3c\x4d", 4) == 0)
                r->big_endian = true;
            else if (memcmp(h + 8, "\x4d\x3c\x2b\x1a", 4) == 0)
                r->big_endian = false;
            else {
                snprintf(r->err, sizeof(r->err), "bad pcapng byte-order magic");
                return MS_NEXT_ERROR;
            }
            type = BT_SHB;
            done = 12;
            clear_ifaces(r);
            r->in_section = true;
        } else {
            if (!r->in_section) {
                snprintf(r->err, sizeof(r->err), "not a pcapng file");
                return MS_NEXT_ERROR;
            }
            type = rd32(r, h);
            done = 8;
        }
        uint32_t total = rd32(r, h + 4);
        if (total < 12 || (total & 3u) || total > MS_PCAPNG_MAX_BLOCK || total < done + 4) {
            snprintf(r->err, sizeof(r->err), "bad pcapng block length %u", total);
            return MS_NEXT_ERROR;
        }
        if (type == BT_SHB && total < 28) {
            snprintf(r->err, sizeof(r->err), "section header block too short");
            return MS_NEXT_ERROR;
        }
        size_t rest = total - done;
        if (grow(r, rest) != MS_OK)
            return MS_NEXT_ERROR;
        rc = read_exact(r, r->buf, rest);
        if (rc != MS_NEXT_PACKET) {
            if (rc == MS_NEXT_END)
                snprintf(r->err, sizeof(r->err), "truncated pcapng block");
            return MS_NEXT_ERROR;
        }
        if (rd32(r, r->buf + rest - 4) != total) {
            snprintf(r->err, sizeof(r->err), "pcapng block lengths disagree");
            return MS_NEXT_ERROR;
        }
        const uint8_t *b = r->buf; /* body, after type and length */
        size_t n = total - 12;     /* body length */
        if (type == BT_SHB) {
            b = r->buf; /* from the major version on */
            if (rd16(r, b) != 1) {
                snprintf(r->err, sizeof(r->err), "unsupported pcapng version %u", rd16(r, b));
                return MS_NEXT_ERROR;
            }
            continue;
        }
        const struct iface *i;
        const uint8_t *pkt;
        size_t cl;
        uint64_t ts;
        switch (type) {
        case BT_IDB:
            if (on_idb(r, b, n) != MS_OK)
                return MS_NEXT_ERROR;
            continue;
        case BT_EPB:
        case BT_PB: {
            /* EPB: interface (4), ts high, ts low, captured, original, data.
             * PB: interface (2), drops (2), then the same. */
            if (n < 20) {
                snprintf(r->err, sizeof(r->err), "packet block too short");
                return MS_NEXT_ERROR;
            }
            uint32_t id = type == BT_EPB ? rd32(r, b) : rd16(r, b);
            if (!(i = iface_of(r, id)))
                return MS_NEXT_ERROR;
            ts = ((uint64_t)rd32(r, b + 4) << 32) | rd32(r, b + 8);
            cl = rd32(r, b + 12);
            if (cl > n - 20) {
                snprintf(r->err, sizeof(r->err), "packet longer than its block");
                return MS_NEXT_ERROR;
            }
            pkt = b + 20;
            ts = to_us(i, ts);
            r->last_ts = ts;
            break;
        }
        case BT_SPB: {
            /* SPB: original length (4), data; captured = min(original,
             * what the block holds, the interface's snaplen). */
            if (n < 4) {
                snprintf(r->err, sizeof(r->err), "simple packet block too short");
                return MS_NEXT_ERROR;
            }
            if (!(i = iface_of(r, 0)))
                return MS_NEXT_ERROR;
            cl = rd32(r, b);
            if (cl > n - 4)
                cl = n - 4;
            if (i->snaplen && cl > i->snaplen)
                cl = i->snaplen;
            pkt = b + 4;
            ts = r->last_ts;
            break;
        }
        default:
            continue;
        }
        if (i->reject_all)
            continue;
        if (i->have_prog) {
            struct pcap_pkthdr ph;
            memset(&ph, 0, sizeof(ph));
            ph.caplen = (bpf_u_int32)cl;
            ph.len = (bpf_u_int32)cl;
            if (!pcap_offline_filter(&i->prog, &ph, pkt))
                continue;
        }
        *ts_us = ts;
        *data = pkt;
        *caplen = cl;
        *linktype = i->linktype;
        return MS_NEXT_PACKET;
    }
}

void ms_pcapng_close(struct ms_pcapng *r)
{
    if (!r)
        return;
    clear_ifaces(r);
    ms_free(r->ifs);
    ms_free(r->buf);
    ms_free(r->filter);
    if (r->fp)
        (void)fclose(r->fp); /* opened for reading: no data to lose */
    ms_free(r);
}
