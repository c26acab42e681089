/* The progress line on a terminal (README "Text view"): one line on
 * standard error, rewritten in place by the reader loop, taken away and
 * put back by whoever writes a record to a terminal (output/sink_file.c),
 * so that a --text line never lands in the middle of it. Thread-safe:
 * sink writers and the main thread share it. */
#ifndef MS_PROGRESS_H
#define MS_PROGRESS_H

struct ms_progress;

/* Draws on fd (a terminal). NULL when out of memory. */
struct ms_progress *ms_progress_new(int fd);
/* Replaces the line (cut to MS_PROGRESS_LINE_MAX); skipped while a record
 * is being written. */
void ms_progress_set(struct ms_progress *p, const char *line);
/* Takes the line away for good (the end of a run); set draws it again. */
void ms_progress_clear(struct ms_progress *p);
/* Around a write to the terminal: pause takes the line away and holds the
 * lock, resume draws it back and lets go. p may be NULL (nothing). */
void ms_progress_pause(struct ms_progress *p);
void ms_progress_resume(struct ms_progress *p);
/* A warning on standard error (printf-style, the line ending given) with
 * the line taken away first and drawn back after it on the next line, so
 * that the warning starts at column 0. p may be NULL (just the warning). */
__attribute__((format(printf, 2, 3))) void ms_progress_warn(struct ms_progress *p, const char *fmt,
                                                            ...);
void ms_progress_free(struct ms_progress *p);

#endif
