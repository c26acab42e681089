/* Command keyword lookup (keyword.h). */
#include "keyword.h"

#include "../common/ascii.h"

int ms_keyword_find(const struct ms_keyword *table, size_t entries, const uint8_t *w, size_t n,
                    int none)
{
    for (size_t i = 0; i < entries; i++) {
        if (ms_ascii_eq(w, n, table[i].kw))
            return table[i].id;
    }
    return none;
}
