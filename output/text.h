/* One readable line per event, for people watching a terminal (README
 * "Text view"): local time, the date and zone on the first line and when
 * the day changes; user names and secrets quoted; colours when asked. */
#ifndef MS_TEXT_H
#define MS_TEXT_H

#include <stdbool.h>
#include <stdio.h>
#include "output.h"

/* What one line needs of the lines before it. */
struct ms_text_view {
    bool color;
    int year, yday; /* the day of the last line; year -1: no line yet */
};
void ms_text_view_init(struct ms_text_view *tv, bool color);

/* Whether a code point steers a terminal or a reader without showing
 * (C1 controls, bidi marks and overrides, line separators, invisible
 * characters): what the view escapes besides C0 controls and DEL. The
 * progress line (output/progress.c) applies the same rule to file names. */
bool ms_text_steers(uint32_t cp);

/* One event's line (with its '\n'). An alert also says what --dedup
 * suppressed before it (rep, NULL: nothing) and its --evidence file
 * (m->evidence). Returns 0, or -1 when writing failed. */
struct ms_dedup_report;
int ms_text_line(FILE *fp, struct ms_text_view *tv, const struct ms_flow_meta *m,
                 const struct ms_event *ev, const struct ms_output_opts *opts,
                 const struct ms_dedup_report *rep);
/* The same, as the first line of a view without colours (tests). */
int ms_text_event(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                  const struct ms_output_opts *opts);
int ms_text_event_ex(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                     const struct ms_output_opts *opts, const struct ms_dedup_report *rep);

#endif
