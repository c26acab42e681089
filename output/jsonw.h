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

/* key: the member's name inside an object; NULL for an array's element
 * or the text's root. */
void ms_jw_open_object(struct ms_jw *w, const char *key);
void ms_jw_open_array(struct ms_jw *w, const char *key);
void ms_jw_close_object(struct ms_jw *w);
void ms_jw_close_array(struct ms_jw *w);
struct ms_jw_mark ms_jw_mark(const struct ms_jw *w);
/* The container opened last has no member yet. */
bool ms_jw_empty(const struct ms_jw *w);
/* Forgets everything written since m. */
void ms_jw_drop(struct ms_jw *w, struct ms_jw_mark m);

/* A string of len bytes, escaped and written as they are (our own text). */
void ms_jw_string(struct ms_jw *w, const char *key, const char *s, size_t len);
void ms_jw_cstring(struct ms_jw *w, const char *key, const char *s);
/* Arbitrary bytes: invalid UTF-8 becomes U+FFFD (as ms_json_bytes). */
void ms_jw_bytes(struct ms_jw *w, const char *key, struct ms_bytes b);
void ms_jw_int(struct ms_jw *w, const char *key, int64_t v);
void ms_jw_bool(struct ms_jw *w, const char *key, bool v);

#endif
