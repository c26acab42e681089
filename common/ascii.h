/* Locale-independent ASCII helpers for protocol keywords. */
#ifndef MS_ASCII_H
#define MS_ASCII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint8_t ms_ascii_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* True when the n bytes at a equal the NUL-terminated keyword, ignoring case. */
static inline bool ms_ascii_eq(const uint8_t *a, size_t n, const char *kw)
{
    size_t i = 0;
    for (; i < n; i++) {
        if (kw[i] == '\0' || ms_ascii_lower(a[i]) != ms_ascii_lower((uint8_t)kw[i]))
            return false;
    }
    return kw[i] == '\0';
}

/* True when a starts with the keyword, ignoring case. */
static inline bool ms_ascii_prefix(const uint8_t *a, size_t n, const char *kw)
{
    size_t i = 0;
    for (; kw[i] != '\0'; i++) {
        if (i >= n || ms_ascii_lower(a[i]) != ms_ascii_lower((uint8_t)kw[i]))
            return false;
    }
    return true;
}

static inline bool ms_ascii_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Value of a hex digit of either case, or -1. */
static inline int ms_ascii_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = ms_ascii_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static inline bool ms_ascii_space(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* out (n > 0 bytes) takes the NUL-terminated parts one after another,
 * cut to fit and always terminated, as snprintf("%s%s...") would write
 * them (a tenth of its instructions: no format to parse). parts ends at a
 * NULL. Returns the length written. */
static inline size_t ms_ascii_join(char *out, size_t n, const char *const *parts)
{
    size_t len = 0;
    for (; *parts && len + 1 < n; parts++) {
        for (const char *c = *parts; *c && len + 1 < n; c++)
            out[len++] = *c;
    }
    out[len] = '\0';
    return len;
}

#endif
