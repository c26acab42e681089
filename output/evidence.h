/* --evidence DIR: the packets of each flow that raised an alert, as
 * captured (raw frames, capture order), in DIR/<flow_id>.pcap, as
 * Suricata's conditional pcap logging does.
 *
 * The alert (a login) comes after the flow started, so each flow's frames
 * are held in memory (as pcap records) until the flow raises an alert,
 * when they are written and the flow's later frames appended as they come,
 * or ends without one, when they are dropped. Held bytes are bounded per
 * flow (lim->evidence_flow_max) and in all (lim->evidence_max); a flow
 * that hits either keeps what it holds, holds nothing more until its alert
 * (the file then lacks those frames: counted), and appends after it.
 *
 * Files: created O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, relative to DIR
 * (created 0700 when missing, never through a symbolic link), as --extract
 * does. The file's link type is the flow's first frame's; a frame of
 * another link type cannot be in the same pcap: it is left out and
 * counted. Frames that reached the flow as IP fragments are left out too
 * (only the datagram's last fragment is at hand): counted. */
#ifndef MS_EVIDENCE_H
#define MS_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

struct ms_evidence;
struct ms_evidence_flow; /* one flow's state: a pointer the flow keeps */

struct ms_evidence_stats {
    uint64_t files;             /* files created */
    uint64_t packets;           /* frames written */
    uint64_t dropped_flow_cap;  /* frames not held: the per-flow cap */
    uint64_t dropped_memcap;    /* frames not held: the global cap, or no memory */
    uint64_t linktype_mismatch; /* frames of another link type than the file's */
    uint64_t fragmented;        /* frames that came as IP fragments */
    uint64_t write_errors;      /* files that could not be created or written */
    uint64_t memuse, memuse_peak;
};

/* NULL on failure, with a one-line reason in err. */
struct ms_evidence *ms_evidence_open(const char *dir, size_t flow_max, size_t total_max, char *err,
                                     size_t errlen);
/* A frame of the flow whose state is *slot (created at the first frame).
 * frame NULL: the packet came as IP fragments (counted, not written). */
void ms_evidence_packet(struct ms_evidence *e, struct ms_evidence_flow **slot, int linktype,
                        uint64_t ts_us, const uint8_t *frame, size_t caplen);
/* The flow raised an alert: its file is written (at the first alert) and
 * its name in DIR returned ("<flow_id>.pcap"), valid while the flow lives;
 * NULL when there is none (no frame held, or it could not be created or
 * written: counted). Nothing is allocated here: a lack of memory costs the
 * file frames (counted, dropped_memcap), never the alert its name. */
const char *ms_evidence_alert(struct ms_evidence *e, struct ms_evidence_flow **slot,
                              uint64_t flow_id);
/* The flow ended: its file is closed, or what it held dropped. */
void ms_evidence_flow_end(struct ms_evidence *e, struct ms_evidence_flow **slot);
/* --threads: e's held bytes count against with's cap (with must outlive
 * e's flows), so that N writers hold what one holds. */
void ms_evidence_share_cap(struct ms_evidence *e, struct ms_evidence *with);
void ms_evidence_get_stats(const struct ms_evidence *e, struct ms_evidence_stats *st);
void ms_evidence_close(struct ms_evidence *e); /* NULL is a no-op */

#endif
