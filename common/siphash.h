/* SipHash-2-4 (Aumasson, Bernstein 2012): a keyed hash for hash tables
 * whose keys an attacker picks (flow tuples, fragment ids). With a random
 * key per table, colliding inputs cannot be chosen in advance (issue 11:
 * an unseeded hash let crafted tuples share one bucket). Output identical
 * to the reference implementation and OpenSSL's SIPHASH MAC (8 bytes). */
#ifndef MS_SIPHASH_H
#define MS_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define MS_SIPHASH_KEY_LEN 16

uint64_t ms_siphash24(const uint8_t key[MS_SIPHASH_KEY_LEN], const void *data, size_t n);

/* Fills key from the kernel's random source (getrandom); when that fails
 * (no entropy yet, seccomp), from the monotonic clock and the address of
 * key: weak (a few guessable bits), but still not a constant a flood can
 * be computed for in advance. */
void ms_siphash_random_key(uint8_t key[MS_SIPHASH_KEY_LEN]);

#endif
