/* Reading the event logs the unit tests record (helper_split's one line per
 * event), and the digests they compare with: expected hashes are computed
 * here with libcrypto from the bytes sent, never taken from mailspill. */
#ifndef MS_TEST_LOG_H
#define MS_TEST_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Lines of log that start with prefix. */
size_t ms_test_count_lines(const char *log, const char *prefix);

/* n bytes as lowercase hex into out (2n + 1 bytes, NUL-terminated). */
void ms_test_hex(const uint8_t *p, size_t n, char *out);

void ms_test_sha256_hex(const void *d, size_t n, char out[65]);

/* " size=N sha256=HEX" of a message, as helper_split prints an email. */
void ms_test_want_msg(const char *msg, size_t n, char *out, size_t cap);

#endif
