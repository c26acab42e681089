/* The closing table of the text view: per server and protocol, what a
 * person wants to know after a run (README "Text view"). Filled from the
 * events as they are written (session events carry most of it), by the
 * output under its lock: not thread-safe on its own. Bounded: at most
 * MS_TEXT_SUMMARY_SERVERS rows, the rest summed in one "more" row, and
 * at most MS_TEXT_SUMMARY_ACCOUNTS accounts told apart per row. */
#ifndef MS_TEXT_SUMMARY_H
#define MS_TEXT_SUMMARY_H

#include <stdio.h>
#include "output.h"

struct ms_text_summary;

/* NULL when out of memory. */
struct ms_text_summary *ms_text_summary_new(void);
void ms_text_summary_add(struct ms_text_summary *s, const struct ms_flow_meta *m,
                         const struct ms_event *ev);
/* The table, one line per row ending in '\n'; a line saying so when no
 * session was seen. Returns 0, or -1 when writing failed. */
int ms_text_summary_write(const struct ms_text_summary *s, FILE *fp);
void ms_text_summary_free(struct ms_text_summary *s);

#endif
