/* Event -> json-c object in the EVE layout (see README "Output"). */
#ifndef MS_JSON_H
#define MS_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include "output.h"

/* A new object owned by the caller (json_object_put), NULL on ENOMEM. */
struct json_object *ms_json_event(const struct ms_flow_meta *m, const struct ms_event *ev,
                                  const struct ms_output_opts *opts);
/* The fileinfo event of attachment index of an email event (Suricata's
 * file record); same ownership. */
struct json_object *ms_json_fileinfo(const struct ms_flow_meta *m, const struct ms_event *ev,
                                     size_t index, const struct ms_output_opts *opts);

/* A JSON string of arbitrary bytes: invalid UTF-8 becomes U+FFFD, since
 * json-c passes bytes through unchecked and consumers reject bad UTF-8. */
struct json_object *ms_json_bytes(struct ms_bytes b);

/* "2026-11-22T15:29:56.123456+0000" (UTC, as Suricata writes it). */
void ms_format_timestamp(uint64_t ts_us, char *out, size_t outlen);

#endif
