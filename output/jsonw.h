/* A JSON text written straight into one buffer, byte for byte as json-c
 * writes it (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE): no
 * tree of objects, no allocation per value. Members are written in the
 * order of the calls; a container that may stay empty is dropped with a
 * mark taken before it. An append that fails (the record over
 * MS_JSON_RECORD_MAX, out of memory) makes the whole text fail: rc. */
#ifndef MS_JSONW_H
#define MS_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/event.h"
#include "../common/limits.h"
#include "../common/rc.h"

struct ms_jw {
    struct ms_buf b;
    struct ms_buf scratch;            /* a value built before it is written (a mask) */
    enum ms_rc rc;                    /* the first failure; MS_OK */
    unsigned depth;                   /* open containers */
    bool more[MS_JSON_DEPTH_MAX + 1]; /* the container at a depth has a member */
    /* output/json.c's memo of recent flows' community_id (a SHA-1 per
     * record otherwise; the records of a flow come close together), by a
     * hash of the tuple in one order, and of the last second's timestamp
     * text. */
    struct {
        bool ok;
        uint8_t key[2 * 16 + 5];
        char cid[32];
    } cid[MS_JSON_CID_MEMO];
    struct {
        bool ok;
        uint64_t secs;
        char base[32];
    } ts;
};

/* Where a container began: ms_jw_drop goes back to it. */
struct ms_jw_mark {
    size_t len;
    unsigned depth;
    bool more;
};

void ms_jw_init(struct ms_jw *w);
/* Takes the memory of a record of n bytes now: MS_ERR_NOMEM. */
enum ms_rc ms_jw_reserve(struct ms_jw *w, size_t n);
void ms_jw_free(struct ms_jw *w);
/* Starts a new text (keeps the memory). */
void ms_jw_reset(struct ms_jw *w);

/* key: the member's name inside an object, written as it is: ours, ASCII
 * with nothing to escape (debug builds assert it); NULL for an array's
 * element or the text's root. The functions below pass its length to the _k ones
 * from strlen where the compiler sees the text (our names are literals:
 * no call, and member() was 1.6M calls of strlen on mail-quick). */
void ms_jw_open_object_k(struct ms_jw *w, const char *key, size_t klen);
void ms_jw_open_array_k(struct ms_jw *w, const char *key, size_t klen);
void ms_jw_close_object(struct ms_jw *w);
void ms_jw_close_array(struct ms_jw *w);
struct ms_jw_mark ms_jw_mark(const struct ms_jw *w);
/* The container opened last has no member yet. */
bool ms_jw_empty(const struct ms_jw *w);
/* Forgets everything written since m. */
void ms_jw_drop(struct ms_jw *w, struct ms_jw_mark m);

/* A string of len bytes, escaped and written as they are (our own text). */
void ms_jw_string_k(struct ms_jw *w, const char *key, size_t klen, const char *s, size_t len);
/* A string we formatted ourselves from nothing a peer sent (a name of
 * ours, an address, a time): ASCII with nothing to escape, written as it
 * is, without the scan for escapes (debug builds assert it), as member
 * names are. */
void ms_jw_ascii_k(struct ms_jw *w, const char *key, size_t klen, const char *s, size_t len);
/* Arbitrary bytes: invalid UTF-8 becomes U+FFFD (as ms_json_bytes). */
void ms_jw_bytes_k(struct ms_jw *w, const char *key, size_t klen, struct ms_bytes b);
void ms_jw_int_k(struct ms_jw *w, const char *key, size_t klen, int64_t v);
void ms_jw_bool_k(struct ms_jw *w, const char *key, size_t klen, bool v);

static inline size_t ms_jw_klen(const char *key)
{
    return key ? strlen(key) : 0;
}

static inline void ms_jw_open_object(struct ms_jw *w, const char *key)
{
    ms_jw_open_object_k(w, key, ms_jw_klen(key));
}

static inline void ms_jw_open_array(struct ms_jw *w, const char *key)
{
    ms_jw_open_array_k(w, key, ms_jw_klen(key));
}

static inline void ms_jw_string(struct ms_jw *w, const char *key, const char *s, size_t len)
{
    ms_jw_string_k(w, key, ms_jw_klen(key), s, len);
}

static inline void ms_jw_cstring(struct ms_jw *w, const char *key, const char *s)
{
    ms_jw_string_k(w, key, ms_jw_klen(key), s, strlen(s));
}

static inline void ms_jw_ascii(struct ms_jw *w, const char *key, const char *s)
{
    ms_jw_ascii_k(w, key, ms_jw_klen(key), s, strlen(s));
}

static inline void ms_jw_bytes(struct ms_jw *w, const char *key, struct ms_bytes b)
{
    ms_jw_bytes_k(w, key, ms_jw_klen(key), b);
}

static inline void ms_jw_int(struct ms_jw *w, const char *key, int64_t v)
{
    ms_jw_int_k(w, key, ms_jw_klen(key), v);
}

static inline void ms_jw_bool(struct ms_jw *w, const char *key, bool v)
{
    ms_jw_bool_k(w, key, ms_jw_klen(key), v);
}

#endif
