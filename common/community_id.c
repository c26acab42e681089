/* Community ID v1, following the spec's reference implementations
 * (community-id.py in corelight/community-id-spec, corelight/pycommunityid)
 * byte for byte, since any deviation silently breaks joins with other tools. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA1_*: see ms_community_id_v1 */
#include "community_id.h"

#include <stdbool.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

enum {
    CID_PROTO_ICMP = 1,
    CID_PROTO_TCP = 6,
    CID_PROTO_UDP = 17,
    CID_PROTO_ICMP6 = 58,
    CID_PROTO_SCTP = 132,
    CID_SHA1_LEN = 20,
    CID_B64_LEN = 28,                            /* 4 * ceil(20 / 3) */
    CID_STR_LEN = 2 + CID_B64_LEN,               /* "1:" + base64 */
    CID_INPUT_MAX = 2 + 16 + 16 + 1 + 1 + 2 + 2, /* IPv6 with ports */
};

_Static_assert(MS_COMMUNITY_ID_LEN > CID_STR_LEN, "room for the NUL");

/* Zeek's request/reply pairs (ICMP4_counterpart / ICMP6_counterpart in
 * ICMP.cc, copied by the spec): both directions of an exchange map to the
 * same "port" pair so that they hash alike. */
static const uint8_t icmp4_pairs[][2] = {
    { 8, 0 },   /* echo / echo reply */
    { 13, 14 }, /* timestamp / reply */
    { 15, 16 }, /* information request / reply */
    { 10, 9 },  /* router solicitation / advertisement */
    { 17, 18 }, /* address mask request / reply */
};

static const uint8_t icmp6_pairs[][2] = {
    { 128, 129 }, /* echo request / reply */
    { 133, 134 }, /* router solicitation / advertisement */
    { 135, 136 }, /* neighbor solicitation / advertisement */
    { 130, 131 }, /* MLD listener query / report */
    { 139, 140 }, /* node information (who-are-you) query / reply */
    { 144, 145 }, /* home agent address discovery request / reply */
};

/* Maps an ICMP type/code to the spec's port equivalents. Returns true when
 * the type has no counterpart: such messages are one-way and must keep their
 * direction, or unrelated messages from both sides would share an id. */
static bool icmp_ports(const uint8_t (*pairs)[2], size_t npairs, uint16_t type, uint16_t code,
                       uint16_t *sport, uint16_t *dport)
{
    *sport = type;
    for (size_t i = 0; i < npairs; i++) {
        for (int side = 0; side < 2; side++) {
            if (pairs[i][side] == type) {
                *dport = pairs[i][!side];
                return false;
            }
        }
    }
    *dport = code;
    return true;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

enum ms_rc ms_community_id_v1(uint16_t seed, uint8_t ip_version, const uint8_t *saddr,
                              const uint8_t *daddr, uint8_t proto, uint16_t sport, uint16_t dport,
                              char *out, size_t outlen)
{
    uint8_t in[CID_INPUT_MAX];
    uint8_t md[SHA_DIGEST_LENGTH];
    unsigned char b64[CID_B64_LEN + 1]; /* EVP_EncodeBlock NUL-terminates */
    size_t alen, n = 0;
    bool has_ports = true, one_way = false;

    if (out && outlen > 0)
        out[0] = '\0';
    if (!saddr || !daddr || !out)
        return MS_ERR_ARG;
    if (ip_version == 4)
        alen = 4;
    else if (ip_version == 6)
        alen = 16;
    else
        return MS_ERR_ARG;
    if (outlen < CID_STR_LEN + 1)
        return MS_ERR_LIMIT;

    switch (proto) {
    case CID_PROTO_TCP:
    case CID_PROTO_UDP:
    case CID_PROTO_SCTP:
        break;
    /* The table follows proto, not ip_version, as pycommunityid does. */
    case CID_PROTO_ICMP:
        one_way = icmp_ports(icmp4_pairs, sizeof icmp4_pairs / sizeof icmp4_pairs[0], sport, dport,
                             &sport, &dport);
        break;
    case CID_PROTO_ICMP6:
        one_way = icmp_ports(icmp6_pairs, sizeof icmp6_pairs / sizeof icmp6_pairs[0], sport, dport,
                             &sport, &dport);
        break;
    default:
        /* The spec hashes other protocols without ports, not with zeros. */
        has_ports = false;
        sport = dport = 0;
        break;
    }

    /* Canonical order (bytewise, network order, as the reference compares
     * packed addresses), but for one-way ICMP messages. */
    if (!one_way)
        ms_endpoint_order(alen, &saddr, &sport, &daddr, &dport);

    put16(in + n, seed);
    n += 2;
    memcpy(in + n, saddr, alen);
    n += alen;
    memcpy(in + n, daddr, alen);
    n += alen;
    in[n++] = proto;
    in[n++] = 0; /* padding keeps the input 32-bit aligned */
    if (has_ports) {
        put16(in + n, sport);
        n += 2;
        put16(in + n, dport);
        n += 2;
    }

    /* The low-level functions (see common/sha256.c): EVP_Digest made two
     * allocations a record, and OpenSSL 3's SHA1() fetches the algorithm
     * by name at each call. */
    SHA_CTX c;
    SHA1_Init(&c);
    SHA1_Update(&c, in, n);
    SHA1_Final(md, &c);
    if (EVP_EncodeBlock(b64, md, CID_SHA1_LEN) != CID_B64_LEN)
        return MS_ERR_ARG; /* cannot be: 20 bytes always make 28 */

    out[0] = '1';
    out[1] = ':';
    memcpy(out + 2, b64, CID_B64_LEN + 1);
    return MS_OK;
}
