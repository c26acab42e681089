/* UTF-8 validation shared by the JSON and text renderers (RFC 3629): one
 * rule for what is a character, so that both views agree on it. */
#ifndef MS_UTF8_H
#define MS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p (n > 0 bytes left), its
 * code point in *cp; 0 for an invalid one: a stray continuation byte, an
 * overlong form, a surrogate (U+D800-U+DFFF), a code point above U+10FFFF
 * or a sequence cut short. */
size_t ms_utf8_seq(const uint8_t *p, size_t n, uint32_t *cp);

#endif
