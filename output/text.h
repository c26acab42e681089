/* One readable line per event, for people watching a terminal. */
#ifndef MS_TEXT_H
#define MS_TEXT_H

#include <stdbool.h>
#include <stdio.h>
#include "output.h"

/* Returns 0, or -1 when writing failed. */
int ms_text_event(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                  const struct ms_output_opts *opts);
/* The same; an alert also says what --dedup suppressed before it (rep, NULL:
 * nothing) and its --evidence file (m->evidence). */
struct ms_dedup_report;
int ms_text_event_ex(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                     const struct ms_output_opts *opts, const struct ms_dedup_report *rep);

#endif
