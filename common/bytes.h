/* Integers of a given byte order read from bytes at any alignment: the
 * loaders every decoder needs (network headers, 802.11 and EAPOL, NTLM,
 * SipHash's words), in one place. The compiler makes each one load (and a
 * byte swap where the orders differ). */
#ifndef MS_BYTES_H
#define MS_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t ms_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t ms_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t ms_be64(const uint8_t *p)
{
    return (uint64_t)ms_be32(p) << 32 | ms_be32(p + 4);
}

static inline uint16_t ms_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t ms_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* One load on a little-endian host (the byte loop GCC did not merge cost
 * the flow table's lookups a third of their time in SipHash). */
static inline uint64_t ms_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

#endif
