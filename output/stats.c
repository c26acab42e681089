/* The stats event, in the shape of Suricata's EVE "stats" records: one
 * object whose members nest by the dotted counter names, so that
 * "flow.evicted" becomes {"flow": {"evicted": N}}. Order follows the
 * caller's list (json-c keeps insertion order). */
#include "stats.h"

#include <string.h>

#include "json.h"

/* Finds or creates the object for the path prefix name[0..len). */
static struct json_object *section(struct json_object *root, const char *name, size_t len)
{
    struct json_object *cur = root;
    size_t at = 0;
    while (at < len) {
        const char *dot = memchr(name + at, '.', len - at);
        size_t end = dot ? (size_t)(dot - name) : len;
        char key[64];
        size_t kl = end - at < sizeof(key) - 1 ? end - at : sizeof(key) - 1;
        memcpy(key, name + at, kl);
        key[kl] = '\0';
        struct json_object *next = NULL;
        if (!json_object_object_get_ex(cur, key, &next) ||
            !json_object_is_type(next, json_type_object)) {
            next = json_object_new_object();
            if (!next)
                return NULL;
            json_object_object_add(cur, key, next);
        }
        cur = next;
        at = end + 1;
    }
    return cur;
}

struct json_object *ms_json_stats(uint64_t ts_us, const char *host, const struct ms_stat *v,
                                  size_t n)
{
    struct json_object *root = json_object_new_object();
    struct json_object *st = json_object_new_object();
    if (!root || !st) {
        json_object_put(root);
        json_object_put(st);
        return NULL;
    }
    char ts[48];
    ms_format_timestamp(ts_us, ts, sizeof(ts));
    json_object_object_add(root, "timestamp", json_object_new_string(ts));
    json_object_object_add(root, "event_type", json_object_new_string("stats"));
    if (host)
        json_object_object_add(root, "host", json_object_new_string(host));
    json_object_object_add(root, "stats", st);
    for (size_t i = 0; i < n; i++) {
        const char *dot = strrchr(v[i].name, '.');
        struct json_object *sec = dot ? section(st, v[i].name, (size_t)(dot - v[i].name)) : st;
        if (!sec) {
            json_object_put(root);
            return NULL;
        }
        /* JSON consumers lose precision above 2^53; counters never get there. */
        json_object_object_add(sec, dot ? dot + 1 : v[i].name,
                               json_object_new_int64((int64_t)(v[i].value & INT64_MAX)));
    }
    return root;
}
