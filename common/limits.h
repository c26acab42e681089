/* Every cap in one place. A struct, never a global, so two pipelines can run
 * side by side with different limits (tests do). Defaults come from the RFCs
 * and from what Suricata/Zeek use in production. */
#ifndef MS_LIMITS_H
#define MS_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct ms_limits {
    size_t max_line;          /* command/response line (Suricata: 4096) */
    size_t max_pending_cmds;  /* pipelined commands awaiting a reply */
    size_t max_secret;        /* username/password bytes kept */
    size_t mime_max_header;   /* one unfolded header field */
    size_t mime_max_depth;    /* nested multiparts */
    size_t mime_max_parts;    /* attachments reported per message */
    size_t mime_max_addrs;    /* addresses kept per To/Cc */
    size_t mime_max_boundary; /* RFC 2046 says 70; stay tolerant */
    uint64_t max_message;     /* bytes of one message parsed/hashed */
    size_t reasm_max_flow;    /* out-of-order bytes buffered per direction */
    size_t reasm_max_total;   /* out-of-order bytes buffered overall */
    size_t max_flows;         /* flow table size; LRU eviction past it */
    uint64_t flow_timeout_us; /* idle time (capture clock) before a flow ends */
    size_t classify_buf;      /* bytes held per direction until a protocol is known */
    unsigned classify_pkts;   /* payload packets given to nDPI before giving up */
    /* IP fragment reassembly (capture/defrag.c). Linux keeps fragments 30 s
     * (ipfrag_time) and Suricata 60 s; Suricata caps at 65535 trackers and
     * 32 MiB. Datagrams are at most 65535 bytes (RFC 791, RFC 8200 4.5). */
    size_t frag_max_datagrams;    /* datagrams in progress; the oldest is evicted past it */
    size_t frag_max_bytes;        /* fragment bytes held overall; oldest evicted past it */
    size_t frag_max_per_datagram; /* fragments held for one datagram; past it it is dropped */
    uint64_t frag_timeout_us;     /* capture time from a datagram's first fragment */
    /* MIME extras and --extract (dissectors/mime.c, output/extract.c). */
    size_t body_excerpt;        /* bytes of the first text part reported (--body-bytes); 0: none */
    size_t mime_max_urls;       /* distinct URLs reported per message */
    size_t mime_max_url_len;    /* bytes kept of one URL (longer ones are cut) */
    uint64_t extract_max_bytes; /* bytes --extract writes in one run, all files together */
    size_t smtp_max_rcpt;       /* SMTP RCPT TO kept per transaction (RFC 5321 4.5.3.1.8: 100) */
    /* Streams (capture/tcp_reasm.c, app/pipeline.c). */
    size_t reasm_window; /* delivered bytes kept per direction to compare
                                 * retransmissions with (overlap anomaly); 0: off */
    /* The wait window (capture/tcp_session.c): how long a hole, or a segment
     * held for the peer's bytes its ACK covers, waits before the missing
     * bytes are declared a gap. Counted from the moment delivery stalls (or
     * last moved while stalled); bytes held are bounded by reasm_max_flow. */
    uint64_t reasm_wait_pkts; /* packets of the connection */
    uint64_t reasm_wait_us;   /* capture clock; in live capture the wall clock too */
    size_t closed_flows_max;  /* recently ended flows remembered, so that their late
                                 * segments open no new flow (kept flow_timeout_us) */
    size_t flow_memcap;       /* memory for per-flow state overall (table entry,
                                 * classification, nDPI, dissector estimate); LRU
                                 * flows are ended past it (Suricata flow.memcap) */
    /* --evidence (output/evidence.c): a flow's packets are held until it
     * raises an alert or ends. */
    size_t evidence_flow_max; /* bytes held for one flow (pcap records) */
    size_t evidence_max;      /* bytes held for all flows together */
};

/* clang-format off: one aligned column of defaults */
#define MS_LIMITS_DEFAULT_INIT                                                                     \
    {                                                                                              \
        .max_line = 4096, .max_pending_cmds = 64, .max_secret = 1024, .mime_max_header = 8192,     \
        .mime_max_depth = 8, .mime_max_parts = 64, .mime_max_addrs = 64, .mime_max_boundary = 254, \
        .max_message = 64ull * 1024 * 1024, .reasm_max_flow = (size_t)1024 * 1024,                 \
        .reasm_max_total = (size_t)256 * 1024 * 1024, .max_flows = 65536,                          \
        .flow_timeout_us = 600ull * 1000000, .classify_buf = 4096, .classify_pkts = 16,            \
        .frag_max_datagrams = 4096, .frag_max_bytes = (size_t)16 * 1024 * 1024,                    \
        .frag_max_per_datagram = 256, .frag_timeout_us = 60ull * 1000000, .body_excerpt = 0,       \
        .mime_max_urls = 64, .mime_max_url_len = 2048, .extract_max_bytes = 4ull << 30,            \
        .smtp_max_rcpt = 100, .reasm_window = 2048, .reasm_wait_pkts = 2048,                       \
        .reasm_wait_us = 10ull * 1000000, .closed_flows_max = 65536,                               \
        .flow_memcap = (size_t)256 * 1024 * 1024, .evidence_flow_max = (size_t)1024 * 1024,        \
        .evidence_max = (size_t)64 * 1024 * 1024,                                                  \
    }
/* clang-format on */

/* Protocol caps that are no run-time settings: bounds on what one command
 * or one parser keeps, fixed by the RFCs or by what real peers send. */
/* Bytes of one direction a dissector's probe looks at for a first whole
 * line before it says no (POP3, IMAP, SMTP). */
#define MS_PROBE_WINDOW 512
/* IMAP tag bytes kept to match a tagged reply (RFC 9051 2.2.1: no bound). */
#define MS_IMAP_MAX_TAG 64
/* POP3 logins (PASS, APOP) awaiting their reply, each holding its secrets:
 * a real client has one in flight; the cap is min(this, max_pending_cmds). */
#define MS_POP3_MAX_PENDING_LOGINS 16
/* An APOP digest is 32 hex digits (RFC 1939 7); a longer one is kept up to
 * this many bytes to show, never attacked. */
#define MS_POP3_APOP_DIGEST_MAX 64
/* SMTP BDAT chunk sizes above this are not something a client sends (RFC
 * 3030 says nothing; 1 TiB is far beyond any mail system's size limit). */
#define MS_SMTP_BDAT_MAX_CHUNK (1ull << 40)
/* DIGEST-MD5 directives parsed from one challenge or response (RFC 2831). */
#define MS_SASL_MAX_DIRECTIVES 32
/* Bytes of a MIME charset name kept (RFC 2978 names are at most 40). */
#define MS_MIME_CHARSET_MAX 64

static inline struct ms_limits ms_limits_default(void)
{
    struct ms_limits l = MS_LIMITS_DEFAULT_INIT;
    return l;
}

/* Fixed caps of capture/, app/, output/ and common/: bounds on structures
 * and inputs that are no run-time settings. */
/* Dissectors a pipeline counts (stats app_layer.flow.<name>). */
#define MS_MAX_DISSECTORS 16
/* Snapshot length: the default live capture's, and the largest accepted
 * (libpcap's MAXIMUM_SNAPLEN). */
#define MS_SNAPLEN_MAX 262144
/* stdio's buffer for a capture file on disk (capture/source.c): glibc's
 * default, the file system's block (4 KiB), made one read(2) per 4 KiB,
 * 6% of a 2-thread run's CPU on the mixed benchmark in the kernel's
 * read path alone. */
#define MS_SOURCE_READ_BUFFER ((size_t)256 << 10)
/* A classic pcap file's records are read into a block of this many bytes
 * (capture/pcap_records.c): at least a record of MS_SNAPLEN_MAX. */
#define MS_PCAP_BLOCK_BYTES ((size_t)1 << 20)
/* ... this many at a time, unless a record needs more, so that the bytes
 * read are likely still in the core's cache (2 MiB of L2 on the Xeon
 * measured) when their records are decoded. Mixed-full, 30 runs of each
 * in turns: CPU 0.963 of 1 MiB reads' (paired median; quartiles 0.914
 * and 0.993). (On an AMD VM with 512 KiB of L2, 32-256 KiB reads made no
 * difference.) */
#define MS_PCAP_READ_BYTES ((size_t)128 << 10)
/* Encapsulations (VLAN, MPLS, GRE, VXLAN, ...) decoded inside each other. */
#define MS_DECODE_MAX_DEPTH 8
/* An IP datagram is at most this long (RFC 791 total length; RFC 8200
 * payload length after reassembly). */
#define MS_IP_MAX_DATAGRAM 65535
/* Hash buckets of IP reassembly and of the flow table, at most. */
#define MS_DEFRAG_MAX_BUCKETS (1u << 20)
#define MS_FLOW_MAX_BUCKETS ((size_t)1 << 24)
/* A flow table's buckets at first (capture/flow.c doubles them as flows
 * come, up to max_flows rounded up to a power of two). */
#define MS_FLOW_MIN_BUCKETS ((size_t)1024)
/* Least recently used flows looked at to choose an eviction victim
 * (capture/flow.h, Eviction). */
#define MS_FLOW_EVICT_SCAN 32
/* WPA2 decryption (capture/wpa.c): clients (BSSID, station) and networks
 * (BSSID) followed, least recently seen forgotten first; passphrases and
 * PMKs given; the ANonces of one client kept outstanding (retransmitted
 * message 1s each bring a new one); the longest EAPOL-Key frame read; the
 * largest protected MPDU body (an 802.11ac A-MSDU, 11454 bytes, with room
 * for a mesh or HT control header's worth of slack). */
#define MS_WPA_CLIENTS_MAX 16384
#define MS_WPA_NETWORKS_MAX 4096
#define MS_WPA_SECRETS_MAX 1024
#define MS_WPA_ANONCES 4
#define MS_WPA_EAPOL_MAX 2048
#define MS_WPA_FRAME_MAX 11520
/* A message 2 answers a message 1 of its replay counter only this soon
 * after it (hostapd retries message 1 after 1 s, 4 times): a new
 * association restarts the counter, and an abandoned handshake's message 1
 * long before must not make a right passphrase look wrong. */
#define MS_WPA_M1_M2_MAX_US ((uint64_t)5 * 1000 * 1000)
/* pcapng: blocks larger than this are refused as damage; interfaces per
 * section. */
#define MS_PCAPNG_MAX_BLOCK (16u * 1024 * 1024)
#define MS_PCAPNG_MAX_IFACES 65536
/* pcapng interfaces of an unsupported link type named one by one in the
 * warnings (the rest are counted). */
#define MS_PCAPNG_NOTED_IFACES 8
/* Compressed captures (capture/instream.c): the largest window (zstd) or
 * dictionary (xz) a stream may need, 2^27 bytes: zstd's own default limit
 * (ZSTD_WINDOWLOG_LIMIT_DEFAULT), twice xz -9's dictionary. gzip's window
 * is always 32 KiB. A stream that asks for more is refused as damage, so
 * decompressing stays within about this much memory. */
#define MS_DECOMP_WINDOW_LOG_MAX 27
#define MS_DECOMP_WINDOW_MAX ((uint64_t)1 << MS_DECOMP_WINDOW_LOG_MAX)
/* How far back a mid-stream TCP start may move (capture/tcp_reasm.c). */
#define MS_REASM_REWIND_MAX (256u * 1024)
/* An ACK this far past what was delivered from the peer is not evidence of
 * bytes in flight (a forged or broken ACK): it is not turned into a gap. */
#define MS_ACK_GAP_MAX (1u << 30)
/* --extract file names: bytes of the sender's name kept, and of its
 * extension. */
#define MS_EXTRACT_NAME_MAX 64
#define MS_EXTRACT_EXT_MAX 16
/* Quoted-printable: blanks held back to see whether they end a line. A
 * longer run cannot be trailing in any sane encoder's output. */
#define MS_QP_WS_MAX 64
/* --body-bytes, at most. */
#define MS_BODY_EXCERPT_MAX (1u << 20)
/* --hash-key: the HMAC-SHA256 key's bytes. RFC 2104 section 3 strongly
 * discourages keys shorter than the hash's output (32 bytes); longer than
 * a block (64) they are hashed first, so more than this adds nothing. */
#define MS_HMAC_KEY_MIN 32
#define MS_HMAC_KEY_MAX 4096
/* --wpa-passphrase, --wpa-passphrase-file, --wpa-psk (app/wpa_opts.c):
 * secrets given in all (each costs a PBKDF2 of 4096 rounds at start), the
 * file's size, and one line of it (an SSID escaped in full, a colon, a
 * passphrase of 63: far less). */
#define MS_WPA_OPT_SECRETS_MAX 256
#define MS_WPA_OPT_FILE_MAX (1u << 20)
#define MS_WPA_OPT_LINE_MAX 512
/* --dedup: credentials remembered at once (least recently seen forgotten
 * first; about 100 bytes each). */
#define MS_DEDUP_MAX_ENTRIES 65536
/* --dedup SECONDS, at most (30 days). */
#define MS_DEDUP_PERIOD_MAX (30ull * 86400)
/* --stats-interval SECONDS, at most (one day). */
#define MS_STATS_INTERVAL_MAX 86400
/* --evidence: files kept open at once for alerted flows still running;
 * past it a file is opened for each packet appended (file descriptors
 * are a process-wide resource). */
#define MS_EVIDENCE_OPEN_MAX 256

/* Sinks (output/sink.c, README "Sinks"). */
/* -o given at most this many times. */
#define MS_SINKS_MAX 16
/* Each sink's queue: bytes (--sink-queue; at least the minimum) and
 * records. Live capture drops what does not fit; reading files waits. */
#define MS_SINK_QUEUE_BYTES_DEFAULT ((size_t)16 << 20)
#define MS_SINK_QUEUE_BYTES_MIN ((size_t)4096)
#define MS_SINK_QUEUE_RECORDS 65536
/* Records a writer takes from its queue at a time (reading files, it is
 * woken when a batch waits: 64 on the mail-heavy benchmark's 540k records
 * made half of the context switches of a --threads 2 run). At most
 * IOV_MAX / 2 (output/sink_file.c writes 2 iovecs a record). */
#define MS_SINK_BATCH 256
/* A sink's ring goes back to its start once records reach this far and
 * the start is free (output/sink_queue.c): the memory it touches. */
#define MS_SINK_RING_HOT ((size_t)1 << 20)
/* How often a wait for a queue checks the stop flag (SIGINT, SIGTERM). */
#define MS_SINK_POLL_MS 50
/* Reconnecting: the first wait, doubled after each failure up to the
 * last. Connects, sends and redis replies time out after MS_SINK_IO_MS. */
#define MS_SINK_BACKOFF_MIN_MS 100
#define MS_SINK_BACKOFF_MAX_MS 5000
#define MS_SINK_IO_MS 5000
/* At the end of a live run (or of a run stopped by a signal), how long the
 * queues may take to drain before what is left is counted as dropped. */
#define MS_SINK_DRAIN_MS 2000
/* After that, how long a writer that was told to stop may take to end
 * before it is left behind (a write to a pipe nobody reads cannot be
 * interrupted). A sink's first connection, tried before capture starts,
 * times out sooner than the later ones: 16 dead sinks must not hold the
 * start for 16 * MS_SINK_IO_MS. */
#define MS_SINK_JOIN_MS 500
#define MS_SINK_FIRST_CONNECT_MS 1000
/* -o unixgram: one record per datagram, at most this long (a reader's
 * buffer of 64 KiB takes any). -o syslog: the whole datagram, header
 * included, at most rsyslog's default maxMessageSize (8k); journald and
 * syslog-ng take more. Larger records are dropped and counted, never cut. */
#define MS_SINK_DGRAM_MAX 65536
#define MS_SINK_SYSLOG_MAX 8192
/* --text: one rendered line at most (output.c renders into it). */
#define MS_TEXT_RECORD_MAX ((size_t)64 << 10)
/* A JSON record (output/jsonw.c writes it into one buffer, kept between
 * records): far above any event the other caps allow, so that it never
 * cuts one; and the nesting of an event's objects and lists. */
#define MS_JSON_RECORD_MAX ((size_t)64 << 20)
/* Its memory taken at start (a record larger grows it): with it, an
 * ordinary run never allocates for its records. */
#define MS_JSON_RECORD_START ((size_t)64 << 10)
#define MS_JSON_SCRATCH_START ((size_t)4096) /* a masked secret (--passwords mask) */
/* Community ids the JSON writer remembers (recent flows'); a power of 2. */
#define MS_JSON_CID_MEMO 64
#define MS_JSON_DEPTH_MAX 8
/* --text's closing table (output/text_summary.c): servers (address, port,
 * protocol) listed, the rest summed in one row that says how many; user
 * names told apart per server (past it the count reads "256+"). */
#define MS_TEXT_SUMMARY_SERVERS 32
#define MS_TEXT_SUMMARY_ACCOUNTS 256
/* --realtime (app/main.c): --speed from a hundredth to a thousand times
 * the capture's pace; --max-gap up to a day; the replay sleeps in steps of
 * at most MS_REPLAY_STEP_MS, so that Ctrl-C and the progress line are
 * served while it waits. */
#define MS_REPLAY_SPEED_MIN 0.01
#define MS_REPLAY_SPEED_MAX 1000.0
#define MS_REPLAY_GAP_MAX 86400.0
#define MS_REPLAY_STEP_MS 100u
/* The progress line on a terminal (output/progress.c): at most this long
 * (it stays on one line of an 80-column terminal), redrawn at most every
 * MS_PROGRESS_EVERY_MS. */
#define MS_PROGRESS_LINE_MAX 80
#define MS_PROGRESS_EVERY_MS 200u
/* Reading a regular file at full speed, a reopen or stats request and dead
 * sinks are looked for every this many frames (a stop at every frame; live,
 * pipes and --realtime at every frame: app/main.c's run_source). */
#define MS_SIGNAL_CHECK_FRAMES 64u

/* Session events (app/app_session.c): AUTH mechanisms kept from the clear
 * listings (real servers advertise fewer than 10), logins listed by user
 * and mechanism (the counts cover all of them), bytes of each user name
 * listed, distinct anomaly codes listed. */
#define MS_SESSION_MAX_MECHS 16
#define MS_SESSION_MAX_LOGINS 8
#define MS_SESSION_USER_MAX 64
#define MS_SESSION_MAX_CODES 8
/* STARTTLS stripping (app/tls_memo.c): servers (address, port, protocol)
 * remembered as having offered STARTTLS; the least recently seen is
 * forgotten past it (a server forgotten raises no stripping alert). */
#define MS_TLS_MEMO_MAX 4096
/* nDPI's module, built at the first flow that needs it (20 ms): after a
 * build that ran out of memory, flows are not classified (dropped, with an
 * anomaly) and the build is not tried again for this long of capture
 * time (app/app_session.c's ms_app_classifier). */
#define MS_CLASSIFIER_RETRY_US 1000000u

/* --threads (app/engine.c, app/workq.c, README "Threads"). */
/* Worker threads at most (--threads N, or auto: the cores). */
#define MS_THREADS_MAX 64
/* Reading files, worker 0 runs in the reader's thread (app/engine.c),
 * which also decodes and dispatches every frame: it takes
 * MS_READER_WORKER_WEIGHT of the servers' endpoints (and of the caps)
 * where each other worker takes MS_WORKER_WEIGHT. Where the two threads
 * of --threads 2 balance depends on the traffic (perf samples per
 * thread): at 50, mail-full's reader thread took 42% and the other worker
 * 56%; at 70, 46-48% and 51-53%. On mixed-full, mostly decoding, the
 * reader's thread is the bound either way (60% at 50, 55-56% at 70).
 * Measured at 2 threads on 2 cores only. */
#define MS_WORKER_WEIGHT 100u
#define MS_READER_WORKER_WEIGHT 70u
/* The workers' queues of packets from the reader. Live, a packet that
 * does not fit is dropped and counted: the bytes below shared out, room
 * for bursts (a power of two each, rounded down, at least the minimum).
 * Reading files, the reader waits for room, and each queue is the minimum,
 * which a frame of MS_SNAPLEN_MAX fits in a quarter of: a longer one only
 * lets one worker run further ahead of another (a memo wait,
 * MS_MEMO_GATE_SLOTS, lasts that long) for more memory: 4 -> 2 MiB a
 * worker at 2 threads took peak RSS on mail-full 62 -> 58 MiB; medians of
 * 5 runs 3.87 s against 3.70 s with 4 MiB, within this VM's noise. */
#define MS_WORKER_QUEUES_BYTES_LIVE ((size_t)8 << 20)
#define MS_WORKER_QUEUE_MIN ((size_t)2 << 20)
/* JSON writers of the output (output/output.c): one per thread that may
 * render at once, the workers and the reader. */
#define MS_OUTPUT_JSON_WRITERS (MS_THREADS_MAX + 1)
/* Reading files, a worker's records are held by its port of the output
 * (output.h's ms_output_port_new) and handed to the sinks this many bytes
 * at a time: one lock a batch, not two or three an event, which the two
 * workers of --threads 2 and the sink's writer contended for (12k context
 * switches a run of mail-full, most of them a futex wait on a lock). */
#define MS_OUTPUT_BATCH_BYTES ((size_t)256 << 10)
/* Live: the wall clock is passed on to the workers at most this often. */
#define MS_WORKER_WALL_TICK_US 100000u
/* A session waiting for the other workers before it uses the STARTTLS
 * memo (app/engine.c) yields MS_WORKQ_SPINS times, then sleeps this long
 * between looks. */
#define MS_MEMO_WAIT_SLEEP_NS 20000
/* --threads: the STARTTLS memo's gate (app/engine.c) tells servers apart
 * by a keyed hash of their endpoint into a slot of each of WAYS tables of
 * SLOTS per worker (at most 2 tables of at most 2^16, a power of two); two
 * endpoints only wait for each other when they share their slot in every
 * table. On the mail-heavy benchmark with 2 threads, one table of 16k made
 * 3.2% of the memo's checks of another worker wait (4,500 of 140k, for a
 * made-up match: mostly other endpoints in the server's slot), two tables
 * of 16k 0.12% (170); one of 256k (8x the memory) about as few. Such a
 * wait lasts until the other worker catches up, up to its queue's worth
 * of packets (ms), while this one idles: two tables of 16k still slept
 * 5-10k times a run on mail-full (48-78 waits until the other worker
 * reached the session's frame, counted by an instrumented build), two of
 * 64k (12 bytes a slot: 1.5 MiB a worker, 96 MiB at MS_THREADS_MAX) 4-6
 * and ~1.3k sleeps; with the file queues below, 2 threads' median wall
 * 4.20 -> 3.97 s. */
#define MS_MEMO_GATE_WAYS 2u
#define MS_MEMO_GATE_SLOTS 65536u
/* --threads: the reader's cache of endpoint hashes (2^bits entries of 32
 * bytes: 512 KiB; the mail-heavy benchmark has 2,100 flows at once). */
#define MS_EP_CACHE_BITS 14
#define MS_EP_CACHE_ENTRIES (1u << MS_EP_CACHE_BITS)
/* Live: a worker sleeping with packets queued is woken at least this
 * often (MS_WORKQ_WAKE_ITEMS would hold a slow link's packets back). */
#define MS_WORKER_FLUSH_US 1000u
/* Waiting on a queue: yields before sleeping, and commits between two
 * wake-ups of a sleeping worker (the reader wakes it at once before it
 * may wait itself: for room, live at each read timeout and at least every
 * MS_WORKER_FLUSH_US, from a pipe or with --realtime after every frame).
 * Where the reader's thread is the bound (mixed-full), the other worker
 * ran dry and was woken per 64 items: 1024 took its --threads 2 CPU from
 * 0.83 to 0.68 s (medians of 6). */
#define MS_WORKQ_SPINS 16
#define MS_WORKQ_WAKE_ITEMS 1024

/* --web (output/web.c, README "Web view"). Past events kept for a browser
 * that (re)connects: at most this many, and this many bytes of JSON; the
 * counters are kept apart and stay exact past the ring. */
#define MS_WEB_RING_EVENTS 4096
#define MS_WEB_RING_BYTES ((size_t)16 << 20)
/* Browsers served at once (a thread each: an SSE stream blocks). */
#define MS_WEB_CONNECTIONS_MAX 16
/* Distinct (server, user) accounts and servers counted exactly; past it
 * the page says "at least". */
#define MS_WEB_DISTINCT_MAX 65536
/* How long an idle SSE stream waits before a keep-alive comment (which
 * also finds a browser that went away). */
#define MS_WEB_KEEPALIVE_MS 15000
/* A connection that sends or takes nothing this long is closed (a client
 * holding a thread idle); SSE streams send a keep-alive before it. */
#define MS_WEB_IDLE_S 60
/* Beyond loopback: connections one address may hold (browsers open up to
 * 6 to one server), so that a few idle sockets from one host cannot take
 * all MS_WEB_CONNECTIONS_MAX from the room. */
#define MS_WEB_PER_IP_MAX 6
/* A connection that has not sent a whole request by then is closed; once
 * it has, MS_WEB_IDLE_S applies. */
#define MS_WEB_REQUEST_S 10

#endif
