/* IP fragment reassembly: IPv4 (RFC 791 3.2 "Fragmentation and
 * Reassembly", RFC 815) and IPv6 (RFC 8200 4.5).
 *
 * Key: IP version, source, destination, identification, and for IPv4 the
 * protocol (RFC 791); RFC 8200 keys IPv6 on source, destination and the
 * 32-bit identification only.
 *
 * Overlap policy: FIRST ARRIVAL WINS. Bytes already held are never replaced;
 * a later fragment only fills what is still missing. Why: the policy a given
 * receiver applies depends on its OS and version (Novak's target-based
 * reassembly; Suricata's bsd/linux/windows/... policies), which a passive
 * tool cannot know, and modern stacks drop the whole datagram on any overlap
 * (RFC 5722 for IPv6, Linux since 4.19 for IPv4) so no "right" answer exists.
 * First-wins is deterministic and cannot be steered by a late fragment; in
 * every case where the choice could matter (overlapping bytes differ) we say
 * so with MS_DEFRAG_EV_OVERLAP_DIFF so the analyst knows the content is
 * ambiguous. Identical overlaps (duplicates, retransmissions) are silent.
 *
 * IP ID reuse (Suricata CVE-2024-37151, where a finished tracker swallowed
 * later fragments with the same ID): a datagram is removed the moment it
 * completes, so a later fragment with the same ID starts a new datagram.
 * Stale incomplete datagrams end by timeout (capture clock, from the first
 * fragment, as Linux's ipfrag_time), eviction of the oldest when the count
 * or byte caps are reached, or the per-datagram fragment cap.
 *
 * Bounds: the reassembled datagram is at most 65535 bytes (IPv4 total
 * length; IPv6 payload length), non-final fragments must carry a multiple of
 * 8 bytes, and a fragment shorter than its IP length (snaplen) is refused
 * since it would leave a hole we would wrongly think filled. */
#include "defrag.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/bytes.h"
#include "../common/lru.h"
#include "../common/siphash.h"

struct frag {
    struct frag *next; /* sorted by off; pieces never overlap */
    uint32_t off, len;
    uint8_t data[];
};

struct dgram {
    struct dgram *hnext;    /* hash chain */
    struct ms_lru_node age; /* age list, by first fragment */
    uint8_t version, proto;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint64_t first_ts;
    struct frag *frags;
    size_t npieces;
    size_t bytes; /* data held, header included */
    uint8_t *hdr; /* unfragmentable part, from offset 0 */
    size_t hdr_len;
    size_t hdr_nh_off;   /* IPv6: byte that said "44" */
    uint8_t next_header; /* IPv6: from the offset-0 fragment header */
    uint32_t end;        /* fragmentable length, once known */
    bool have_last;
    bool overlap_reported;
};

struct ms_defrag {
    struct ms_limits lim;
    struct dgram **buckets;
    size_t nbuckets;   /* power of two */
    struct ms_lru age; /* oldest first; its count: datagrams held */
    size_t bytes;
    uint8_t *outbuf; /* the last datagram handed out */
    struct ms_defrag_stats st;
    uint8_t hash_key[MS_SIPHASH_KEY_LEN]; /* random: ids and addresses are the sender's */
};

/* One fragment, parsed. */
struct fragview {
    uint8_t version, proto;
    const uint8_t *src, *dst;
    uint32_t id;
    uint32_t off; /* bytes */
    bool more;
    const uint8_t *hdr; /* unfragmentable part */
    size_t hdr_len, hdr_nh_off;
    uint8_t next_header;
    const uint8_t *data;
    uint32_t len;
};

enum ms_anomaly ms_defrag_event_anomaly(unsigned ev)
{
    switch (ev) {
    case MS_DEFRAG_EV_OVERLAP_DIFF:
        return MS_ANOM_FRAG_OVERLAP_DIFFERENT_DATA;
    case MS_DEFRAG_EV_TOO_LARGE:
        return MS_ANOM_FRAG_TOO_LARGE;
    case MS_DEFRAG_EV_NOMEM:
        return MS_ANOM_OUT_OF_MEMORY;
    default:
        return MS_ANOM_FRAG_INVALID;
    }
}

/* Returns false when this is not a fragment we can use. */
static bool parse_v4(const uint8_t *p, size_t len, struct fragview *v)
{
    if (len < 20)
        return false;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    size_t total = ms_be16(p + 2);
    if (ihl < 20 || total < ihl || len < total)
        return false;
    uint16_t fo = ms_be16(p + 6);
    v->version = 4;
    v->proto = p[9];
    v->src = p + 12;
    v->dst = p + 16;
    v->id = ms_be16(p + 4);
    v->off = (uint32_t)(fo & 0x1fffu) * 8;
    v->more = (fo & 0x2000u) != 0;
    v->hdr = p;
    v->hdr_len = ihl;
    v->hdr_nh_off = 0;
    v->next_header = 0;
    v->data = p + ihl;
    v->len = (uint32_t)(total - ihl);
    return true;
}

/* RFC 8200 4.5: unfragmentable part (IPv6 header plus hop-by-hop, routing
 * and destination options headers before the fragment header), fragment
 * header (next header, reserved, offset 13 bits + 2 reserved + M, id),
 * fragmentable part. */
static bool parse_v6(const uint8_t *p, size_t len, struct fragview *v)
{
    if (len < 40)
        return false;
    size_t total = 40 + (size_t)ms_be16(p + 4);
    if (len < total)
        return false;
    len = total;
    size_t nh_off = 6, off = 40;
    uint8_t nh = p[6];
    for (int i = 0; i < 16 && nh != 44; i++) {
        if (nh != 0 && nh != 43 && nh != 60)
            return false;
        if (len - off < 8)
            return false;
        size_t ext = ((size_t)p[off + 1] + 1) * 8;
        if (len - off < ext)
            return false;
        nh_off = off;
        nh = p[off];
        off += ext;
    }
    if (nh != 44 || len - off < 8)
        return false;
    uint16_t fo = ms_be16(p + off + 2);
    v->version = 6;
    v->proto = 0;
    v->src = p + 8;
    v->dst = p + 24;
    v->id = ms_be32(p + off + 4);
    v->off = fo & 0xfff8u;
    v->more = (fo & 1u) != 0;
    v->hdr = p;
    v->hdr_len = off;
    v->hdr_nh_off = nh_off;
    v->next_header = p[off];
    v->data = p + off + 8;
    v->len = (uint32_t)(len - off - 8);
    return true;
}

/* SipHash of the datagram key under the table's random key: a sender
 * picks ids and addresses, and must not be able to pile them into one
 * bucket. */
static size_t bucket_of(const struct ms_defrag *d, const struct fragview *v)
{
    uint8_t buf[2 + 32 + 4];
    size_t alen = v->version == 4 ? 4 : 16;
    buf[0] = v->version;
    buf[1] = v->proto;
    memcpy(buf + 2, v->src, alen);
    memcpy(buf + 2 + alen, v->dst, alen);
    memcpy(buf + 2 + 2 * alen, &v->id, 4);
    return ms_siphash24(d->hash_key, buf, 6 + 2 * alen) & (d->nbuckets - 1);
}

static bool same_key(const struct dgram *g, const struct fragview *v)
{
    size_t alen = v->version == 4 ? 4 : 16;
    return g->version == v->version && g->proto == v->proto && g->id == v->id &&
           memcmp(g->src, v->src, alen) == 0 && memcmp(g->dst, v->dst, alen) == 0;
}

struct ms_defrag *ms_defrag_new(const struct ms_limits *lim)
{
    struct ms_defrag *d = ms_calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->lim = *lim;
    ms_siphash_random_key(d->hash_key);
    ms_lru_init(&d->age);
    size_t want = lim->frag_max_datagrams < 16 ? 16 : lim->frag_max_datagrams;
    if (want > MS_DEFRAG_MAX_BUCKETS)
        want = MS_DEFRAG_MAX_BUCKETS;
    d->nbuckets = 16;
    while (d->nbuckets < want)
        d->nbuckets <<= 1;
    /* sizeof(*buckets) is meant: buckets is an array of pointers, each element a
     * pointer (the check expects an array of the structs themselves). */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): see above */
    d->buckets = ms_calloc(d->nbuckets, sizeof(*d->buckets));
    if (!d->buckets) {
        ms_free(d);
        return NULL;
    }
    return d;
}

static void dgram_remove(struct ms_defrag *d, struct dgram *g, size_t bucket)
{
    for (struct dgram **pp = &d->buckets[bucket]; *pp; pp = &(*pp)->hnext) {
        if (*pp == g) {
            *pp = g->hnext;
            break;
        }
    }
    ms_lru_remove(&d->age, &g->age);
    for (struct frag *f = g->frags; f;) {
        struct frag *n = f->next;
        ms_free(f);
        f = n;
    }
    ms_free(g->hdr);
    d->bytes -= g->bytes;
    ms_free(g);
}

static size_t bucket_of_dgram(const struct ms_defrag *d, const struct dgram *g)
{
    struct fragview v = {
        .version = g->version, .proto = g->proto, .src = g->src, .dst = g->dst, .id = g->id
    };
    return bucket_of(d, &v);
}

static struct dgram *oldest(const struct ms_defrag *d)
{
    struct ms_lru_node *n = ms_lru_oldest(&d->age);
    return n ? MS_LRU_ENTRY(n, struct dgram, age) : NULL;
}

static void evict_oldest(struct ms_defrag *d, const struct dgram *keep)
{
    struct dgram *g = oldest(d);
    if (g == keep) {
        struct ms_lru_node *n = ms_lru_newer(&g->age);
        g = n ? MS_LRU_ENTRY(n, struct dgram, age) : NULL;
    }
    if (!g)
        return;
    d->st.evicted++;
    dgram_remove(d, g, bucket_of_dgram(d, g));
}

void ms_defrag_expire(struct ms_defrag *d, uint64_t now_us)
{
    /* The age list is in arrival order of first fragments; a capture clock
     * that steps back (several files) only delays expiry. */
    struct dgram *g;
    while ((g = oldest(d)) && now_us > g->first_ts &&
           now_us - g->first_ts > d->lim.frag_timeout_us) {
        d->st.timeouts++;
        dgram_remove(d, g, bucket_of_dgram(d, g));
    }
}

static struct frag *piece_new(const uint8_t *data, uint32_t off, uint32_t len)
{
    struct frag *f = ms_malloc(sizeof(*f) + len);
    if (!f)
        return NULL;
    f->next = NULL;
    f->off = off;
    f->len = len;
    memcpy(f->data, data, len);
    return f;
}

/* First-wins insertion of [o, o+n). Pass one (store false) only measures:
 * new bytes, new pieces, and whether held bytes differ; pass two stores.
 * Returns false when out of memory (pass two; what was stored stays). */
static bool insert(struct dgram *g, uint32_t o, const uint8_t *data, uint32_t n, bool store,
                   size_t *new_bytes, size_t *new_pieces, bool *differs)
{
    uint32_t e = o + n, cur = o;
    struct frag **pp = &g->frags;
    *new_bytes = 0;
    *new_pieces = 0;
    *differs = false;
    while (cur < e) {
        struct frag *f = *pp;
        uint32_t piece_end = e;
        if (f && f->off < e) {
            uint32_t fend = f->off + f->len;
            if (fend <= cur) {
                pp = &f->next;
                continue;
            }
            if (f->off <= cur) {
                /* Held bytes cover cur..: they win; compare them. */
                uint32_t oe = fend < e ? fend : e;
                if (memcmp(f->data + (cur - f->off), data + (cur - o), oe - cur) != 0)
                    *differs = true;
                cur = oe;
                pp = &f->next;
                continue;
            }
            piece_end = f->off; /* a hole before f */
        }
        *new_bytes += piece_end - cur;
        (*new_pieces)++;
        if (store) {
            struct frag *nf = piece_new(data + (cur - o), cur, piece_end - cur);
            if (!nf)
                return false;
            nf->next = *pp;
            *pp = nf;
            pp = &nf->next;
        }
        cur = piece_end;
    }
    return true;
}

/* One past the last byte held. */
static uint32_t held_end(const struct dgram *g)
{
    uint32_t mx = 0;
    for (const struct frag *f = g->frags; f; f = f->next)
        if (f->off + f->len > mx)
            mx = f->off + f->len;
    return mx;
}

static bool complete(const struct dgram *g)
{
    if (!g->have_last || !g->hdr)
        return false;
    uint32_t cur = 0;
    for (const struct frag *f = g->frags; f; f = f->next) {
        if (f->off != cur)
            return false;
        cur = f->off + f->len;
    }
    return cur == g->end;
}

/* RFC 1071 checksum of an IPv4 header (its checksum field zeroed first). */
static void ipv4_header_checksum(uint8_t *h, size_t len)
{
    h[10] = h[11] = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        acc += ms_be16(h + i);
    while (acc >> 16)
        acc = (acc & 0xffffu) + (acc >> 16);
    acc = ~acc & 0xffffu;
    h[10] = (uint8_t)(acc >> 8);
    h[11] = (uint8_t)acc;
}

/* Builds the datagram as if it had never been fragmented: IPv4 with its
 * total length set and MF/offset cleared; IPv6 without the fragment
 * header, the preceding next-header byte pointing past it. */
static uint8_t *build(const struct dgram *g, size_t *out_len)
{
    /* complete() is true only with the first fragment's header held; the
     * check keeps build() from a memcpy from NULL on its own. */
    if (!g->hdr)
        return NULL;
    size_t n = g->hdr_len + g->end;
    uint8_t *b = ms_malloc(n);
    if (!b)
        return NULL;
    memcpy(b, g->hdr, g->hdr_len);
    for (const struct frag *f = g->frags; f; f = f->next)
        memcpy(b + g->hdr_len + f->off, f->data, f->len);
    if (g->version == 4) {
        b[2] = (uint8_t)(n >> 8);
        b[3] = (uint8_t)n;
        b[6] &= 0x40; /* keep DF, clear MF and the offset */
        b[7] = 0;
        ipv4_header_checksum(b, g->hdr_len);
    } else {
        size_t plen = n - 40;
        b[4] = (uint8_t)(plen >> 8);
        b[5] = (uint8_t)plen;
        b[g->hdr_nh_off] = g->next_header;
    }
    *out_len = n;
    return b;
}

enum ms_defrag_status ms_defrag_packet(struct ms_defrag *d, uint64_t ts_us, const uint8_t *ip,
                                       size_t len, const uint8_t **out, size_t *out_len,
                                       unsigned *events)
{
    *out = NULL;
    *out_len = 0;
    *events = 0;
    ms_defrag_expire(d, ts_us);

    struct fragview v;
    bool ok = len >= 1 && ((ip[0] >> 4) == 4   ? parse_v4(ip, len, &v)
                           : (ip[0] >> 4) == 6 ? parse_v6(ip, len, &v)
                                               : false);
    if (!ok || v.len == 0) {
        d->st.dropped++;
        return MS_DEFRAG_DROPPED;
    }
    /* RFC 8200 4.5 (and RFC 791's 8-byte units): only the last fragment
     * may have a length that is not a multiple of 8. */
    if (v.more && (v.len & 7u) != 0) {
        d->st.dropped++;
        *events |= MS_DEFRAG_EV_INVALID;
        return MS_DEFRAG_DROPPED;
    }
    size_t b = bucket_of(d, &v);
    struct dgram *g = d->buckets[b];
    while (g && !same_key(g, &v))
        g = g->hnext;

    /* 65535: IPv4 total length, IPv6 payload length after reassembly. */
    size_t fixed = v.version == 4 ? v.hdr_len : v.hdr_len - 40;
    uint32_t e = v.off + v.len;
    if (fixed + e > MS_IP_MAX_DATAGRAM) {
        d->st.dropped++;
        *events |= MS_DEFRAG_EV_TOO_LARGE;
        if (g)
            dgram_remove(d, g, b);
        return MS_DEFRAG_DROPPED;
    }

    if (!g) {
        if (d->lim.frag_max_datagrams == 0) {
            d->st.dropped++;
            return MS_DEFRAG_DROPPED;
        }
        while (ms_lru_count(&d->age) >= d->lim.frag_max_datagrams)
            evict_oldest(d, NULL);
        g = ms_calloc(1, sizeof(*g));
        if (!g) {
            d->st.dropped++;
            *events |= MS_DEFRAG_EV_NOMEM;
            return MS_DEFRAG_DROPPED;
        }
        g->version = v.version;
        g->proto = v.proto;
        memcpy(g->src, v.src, v.version == 4 ? 4 : 16);
        memcpy(g->dst, v.dst, v.version == 4 ? 4 : 16);
        g->id = v.id;
        g->first_ts = ts_us;
        g->hnext = d->buckets[b];
        d->buckets[b] = g;
        ms_lru_push(&d->age, &g->age);
    }

    /* The end of the datagram is set once, by the first last fragment;
     * data past it, or a second last fragment disagreeing, is refused. */
    if ((g->have_last && (e > g->end || (!v.more && e != g->end))) ||
        (!v.more && !g->have_last && held_end(g) > e)) {
        d->st.dropped++;
        *events |= MS_DEFRAG_EV_INVALID;
        return MS_DEFRAG_HELD;
    }

    size_t new_bytes, new_pieces;
    bool differs;
    insert(g, v.off, v.data, v.len, false, &new_bytes, &new_pieces, &differs);
    if (differs) {
        d->st.overlaps++;
        if (!g->overlap_reported) {
            g->overlap_reported = true;
            *events |= MS_DEFRAG_EV_OVERLAP_DIFF;
        }
    }
    size_t hdr_new = (v.off == 0 && !g->hdr) ? v.hdr_len : 0;
    if (g->npieces + new_pieces > d->lim.frag_max_per_datagram ||
        g->bytes + new_bytes + hdr_new > d->lim.frag_max_bytes) {
        d->st.dropped++;
        dgram_remove(d, g, b);
        return MS_DEFRAG_DROPPED;
    }
    while (d->bytes + new_bytes + hdr_new > d->lim.frag_max_bytes && ms_lru_count(&d->age) > 1)
        evict_oldest(d, g);
    if (hdr_new) {
        g->hdr = ms_malloc(v.hdr_len);
        if (!g->hdr) {
            d->st.dropped++;
            *events |= MS_DEFRAG_EV_NOMEM;
            dgram_remove(d, g, b);
            return MS_DEFRAG_DROPPED;
        }
        memcpy(g->hdr, v.hdr, v.hdr_len);
        g->hdr_len = v.hdr_len;
        g->hdr_nh_off = v.hdr_nh_off;
        g->next_header = v.next_header;
    }
    size_t nb, np;
    bool df;
    if (!insert(g, v.off, v.data, v.len, true, &nb, &np, &df)) {
        d->st.dropped++;
        *events |= MS_DEFRAG_EV_NOMEM;
        dgram_remove(d, g, b); /* its accounting below never happened */
        return MS_DEFRAG_DROPPED;
    }
    g->npieces += np;
    g->bytes += nb + hdr_new;
    d->bytes += nb + hdr_new;
    if (!v.more) {
        g->have_last = true;
        g->end = e;
    }
    if (!complete(g))
        return MS_DEFRAG_HELD;
    /* The check above used each fragment's own header; the datagram gets
     * the first fragment's, which may carry more options. */
    if ((g->version == 4 ? g->hdr_len : g->hdr_len - 40) + g->end > MS_IP_MAX_DATAGRAM) {
        d->st.dropped++;
        *events |= MS_DEFRAG_EV_TOO_LARGE;
        dgram_remove(d, g, b);
        return MS_DEFRAG_DROPPED;
    }

    size_t n;
    uint8_t *buf = build(g, &n);
    dgram_remove(d, g, b);
    if (!buf) {
        d->st.dropped++;
        *events |= MS_DEFRAG_EV_NOMEM;
        return MS_DEFRAG_DROPPED;
    }
    /* Only now: the input may have pointed into the previous output. */
    ms_free(d->outbuf);
    d->outbuf = buf;
    d->st.reassembled++;
    *out = buf;
    *out_len = n;
    return MS_DEFRAG_DONE;
}

void ms_defrag_get_stats(const struct ms_defrag *d, struct ms_defrag_stats *st)
{
    *st = d->st;
}

size_t ms_defrag_datagrams(const struct ms_defrag *d)
{
    return ms_lru_count(&d->age);
}

size_t ms_defrag_bytes(const struct ms_defrag *d)
{
    return d->bytes;
}

void ms_defrag_free(struct ms_defrag *d)
{
    if (!d)
        return;
    struct dgram *g;
    while ((g = oldest(d)))
        dgram_remove(d, g, bucket_of_dgram(d, g));
    ms_free(d->buckets);
    ms_free(d->outbuf);
    ms_free(d);
}
