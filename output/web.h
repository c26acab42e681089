/* --web ADDR:PORT (README "Web view"): an embedded HTTP server (libmicrohttpd)
 * for a room's projector. It serves one page (/, /app.js, /app.css, built
 * into the binary) and a Server-Sent Events stream of the events
 * (/events: "id: N" and "data: " the EVE JSON record, secrets as its own
 * output renders them), from a bounded ring of past events that a
 * reconnecting browser resumes from (Last-Event-ID), and a "counters"
 * event kept apart from the ring, so it stays exact past it.
 *
 * Bound beyond loopback, every request needs the token printed at start
 * (?token=, then a cookie); on every address the Host header must name
 * the server by an IP literal (or localhost on loopback) and its port, so
 * a DNS name rebound to it cannot read the page; every response carries
 * Content-Security-Policy: default-src 'self' and nosniff. */
#ifndef MS_WEB_H
#define MS_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/rc.h"

#define MS_WEB_ADDR_STRLEN 64

/* "PORT", ":PORT" (address 127.0.0.1), "ADDR:PORT", "[V6ADDR]:PORT".
 * PORT 0 picks a free port. MS_ERR_ARG with err when malformed. */
enum ms_rc ms_web_parse_addr(const char *spec, char addr[MS_WEB_ADDR_STRLEN], uint16_t *port,
                             bool *v6, bool *loopback, char *err, size_t errlen);

/* Whether a Host header names the server bound to port (loopback: whether
 * that address is a loopback one): an IP literal or, on loopback,
 * "localhost", then ":port" (none only for port 80). */
bool ms_web_host_ok(const char *host, uint16_t port, bool loopback);

struct ms_web;

/* Binds and starts the server (its threads block every signal). NULL with
 * err when the address cannot be bound. pseudonymize: the names of users
 * and of a message's people are replaced by keyed pseudonyms (a random key
 * per run: stable during it), and a server's reply, hashcat lines and
 * responses, which may quote them, are left out (--pseudonymize). */
struct ms_web *ms_web_open(const char *spec, bool pseudonymize, char *err, size_t errlen);
/* The page's address (with ?token= beyond loopback), for stderr. */
const char *ms_web_url(const struct ms_web *w);
/* Whether it listens on a loopback address only (no token needed). */
bool ms_web_loopback(const struct ms_web *w);
/* Takes one JSON record (an ms_output record hook: thread-safe; copied). */
void ms_web_record(void *web, const char *rec, size_t len);
/* Ends the streams and the server. */
void ms_web_close(struct ms_web *w);

#endif
