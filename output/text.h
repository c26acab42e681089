/* One readable line per event, for people watching a terminal. */
#ifndef MS_TEXT_H
#define MS_TEXT_H

#include <stdbool.h>
#include <stdio.h>
#include "output.h"

/* Returns 0, or -1 when writing failed. */
int ms_text_event(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                  const struct ms_output_opts *opts);

#endif
