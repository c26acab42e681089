/* Event -> one JSON record in the EVE layout (see README "Output"). */
#ifndef MS_JSON_H
#define MS_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include "dedup.h"
#include "jsonw.h"
#include "output.h"

/* Renders ev as one record into w (reset first): MS_OK, or the writer's
 * failure (nothing to write then). rep: the alert's --dedup report, and
 * its flow's --evidence file, written after the credential; NULL: none. */
enum ms_rc ms_json_render_event(struct ms_jw *w, const struct ms_flow_meta *m,
                                const struct ms_event *ev, const struct ms_output_opts *opts,
                                const struct ms_dedup_report *rep);
/* The fileinfo record of attachment index of an email event (Suricata's
 * file record). */
enum ms_rc ms_json_render_fileinfo(struct ms_jw *w, const struct ms_flow_meta *m,
                                   const struct ms_event *ev, size_t index,
                                   const struct ms_output_opts *opts);

/* The same records parsed back into json-c objects, for the tests: new
 * objects owned by the caller (json_object_put), NULL on ENOMEM. */
struct json_object *ms_json_event(const struct ms_flow_meta *m, const struct ms_event *ev,
                                  const struct ms_output_opts *opts);
struct json_object *ms_json_fileinfo(const struct ms_flow_meta *m, const struct ms_event *ev,
                                     size_t index, const struct ms_output_opts *opts);

/* A JSON string of arbitrary bytes: invalid UTF-8 becomes U+FFFD, since
 * json-c passes bytes through unchecked and consumers reject bad UTF-8. */
struct json_object *ms_json_bytes(struct ms_bytes b);

/* "2026-11-22T15:29:56.123456+0000" (UTC, as Suricata writes it). */
void ms_format_timestamp(uint64_t ts_us, char *out, size_t outlen);

#endif
