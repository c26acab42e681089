/* Command keywords: each dissector names its commands in a const table and
 * looks the client's word up in it. Keywords ignore case in all three
 * protocols (RFC 1939 section 3, RFC 5321 2.4, RFC 9051 2.2.1 / 9). */
#ifndef MS_KEYWORD_H
#define MS_KEYWORD_H

#include <stddef.h>
#include <stdint.h>

struct ms_keyword {
    const char *kw; /* upper case, NUL-terminated */
    int id;         /* the dissector's enum value */
};

/* The id of the entry whose keyword equals (w, n), ignoring case; none when
 * no entry does. */
int ms_keyword_find(const struct ms_keyword *table, size_t entries, const uint8_t *w, size_t n,
                    int none);

#endif
