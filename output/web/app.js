/* The --web page: cards from the /events stream (README "Web view").
 * Everything that came off the wire is put in the page as text
 * (textContent), never as HTML. The counters come from the server, which
 * counts every event, also those that left its ring. */
"use strict";

const MAX_CARDS = 200; /* per column: the page stays light on a long run */
const flows = new Map(); /* flow key -> {stripped, tls} from alerts and sessions */

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function flowKey(ev) {
  return [ev.src_ip, ev.src_port, ev.dest_ip, ev.dest_port].join("|");
}

function hostPort(ip, port) {
  return (String(ip).includes(":") ? "[" + ip + "]" : ip) + ":" + port;
}

function when(ts) {
  if (!ts) return "";
  const d = new Date(String(ts).replace(/([+-]\d\d)(\d\d)$/, "$1:$2"));
  return isNaN(d) ? String(ts) : d.toLocaleString();
}

/* What the secrets policy left of a password or token. */
function secretText(c, key) {
  if (typeof c[key] === "string") return c[key];
  if (typeof c[key + "_masked"] === "string") {
    const m = c[key + "_masked"];
    return m + " (" + Array.from(m).length + ")";
  }
  if (typeof c[key + "_hmac"] === "string") return "hmac " + c[key + "_hmac"].slice(0, 16) + "…";
  if (c[key + "_redacted"]) return "hidden (" + c[key + "_length"] + " bytes)";
  return null;
}

function secretOf(c) {
  const p = secretText(c, "password");
  if (p !== null) return p;
  const t = secretText(c, "token");
  if (t !== null) return "token " + t;
  if (typeof c.hashcat === "string") return "hashcat -m " + c.hashcat_mode + ": " + c.hashcat;
  if (c.hashcat_mode) return "challenge/response (hashcat -m " + c.hashcat_mode + ")";
  return "no secret";
}

function posture(c, f) {
  if (c.tls) return "logged in over TLS";
  if (f && f.stripped)
    return "the server's STARTTLS offer was stripped on the way; the client logged in without it";
  if (c.starttls_offered === true) return "server offered STARTTLS; the client logged in without it";
  if (c.starttls_offered === false) return "server did not offer STARTTLS; the login crossed in the clear";
  return "no TLS: the login crossed in the clear";
}

function outcomeWord(o) {
  return o === "success" ? "accepted" : o === "failure" ? "rejected" : "unknown";
}

function push(column, card) {
  column.prepend(card);
  while (column.childElementCount > MAX_CARDS) column.lastElementChild.remove();
}

function loginCard(id, ev) {
  const c = ev.credential;
  const oc = c.outcome === "success" || c.outcome === "failure" ? c.outcome : "unknown";
  const card = el("article", "card login " + oc);
  card.dataset.id = id;
  card.dataset.flow = flowKey(ev);
  const top = el("div", "top");
  top.append(el("span", "time", when(ev.timestamp)),
             el("span", "proto", String(ev.app_proto || "").toUpperCase() + " " + c.mechanism));
  card.append(top);
  card.append(el("div", "line route",
                 hostPort(ev.src_ip, ev.src_port) + " → " + hostPort(ev.dest_ip, ev.dest_port)));
  card.append(el("div", "user", c.username !== undefined ? c.username : "(no user name)"));
  card.append(el("div", "secret", secretOf(c)));
  const out = el("div", "line");
  out.append(el("span", "outcome " + oc, outcomeWord(c.outcome)));
  card.append(out);
  card.append(el("div", "posture", posture(c, flows.get(flowKey(ev)))));
  card.credential = c;
  push(document.getElementById("logins"), card);
}

function list(v) {
  return Array.isArray(v) ? v.join(", ") : v ? String(v) : "";
}

function messageCard(id, ev) {
  const m = ev.email || {};
  const card = el("article", "card message");
  card.dataset.id = id;
  const top = el("div", "top");
  top.append(el("span", "time", when(ev.timestamp)),
             el("span", "proto", String(ev.app_proto || "").toUpperCase() + " " + (m.command || "")));
  card.append(top);
  card.append(el("div", "subject", m.subject !== undefined ? m.subject : "(no subject)"));
  card.append(el("div", "line from", "From: " + (m.from || "-")));
  card.append(el("div", "line to", "To: " + (list(m.to) || "-")));
  const att = Array.isArray(m.attachments) ? m.attachments : [];
  if (att.length)
    card.append(el("div", "line attachments",
                   "Attachments: " + att.map((a) => (a.filename || "(unnamed)") + " (" + a.size + " bytes)").join(", ")));
  if (m.truncated) card.append(el("div", "line", "only part of this message was seen"));
  push(document.getElementById("messages"), card);
}

/* A stripped STARTTLS offer: said on the cards of its flow, now and later. */
function stripped(ev) {
  const k = flowKey(ev);
  const f = flows.get(k) || {};
  f.stripped = true;
  flows.set(k, f);
  for (const card of document.querySelectorAll("#logins .card")) {
    if (card.dataset.flow === k) card.querySelector(".posture").textContent = posture(card.credential, f);
  }
}

function onEvent(id, ev) {
  if (ev.event_type === "alert" && ev.credential) loginCard(id, ev);
  else if (ev.event_type === "alert" && ev.starttls_stripped) stripped(ev);
  else if (ev.event_type === "email") messageCard(id, ev);
}

function onCounters(c) {
  const set = (id, v, capped) => {
    document.getElementById(id).textContent = (capped ? "≥ " : "") + v;
  };
  set("c-logins", c.logins);
  set("c-accounts", c.accounts, c.accounts_capped);
  set("c-accepted", c.accepted);
  set("c-messages", c.messages);
  set("c-servers", c.servers_no_tls, c.servers_capped);
  document.body.dataset.lastId = c.last_id;
}

function start() {
  const status = document.getElementById("status");
  /* EventSource reconnects by itself, sending Last-Event-ID: the server
   * resumes after the last event this page has. */
  const es = new EventSource("/events");
  es.onopen = () => { status.textContent = "live"; };
  es.onerror = () => { status.textContent = "reconnecting…"; };
  es.onmessage = (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    onEvent(String(e.lastEventId).split("-").pop(), ev); /* "RUN-N": the card keeps N */
  };
  /* The server is another run than the one this page saw (ids of a run
   * mean nothing to the next): it sends everything again, so start over. */
  es.addEventListener("reset", () => {
    for (const id of ["logins", "messages"]) document.getElementById(id).replaceChildren();
    flows.clear();
    for (const id of ["c-logins", "c-accounts", "c-accepted", "c-messages", "c-servers"])
      document.getElementById(id).textContent = "0";
  });
  es.addEventListener("counters", (e) => {
    try { onCounters(JSON.parse(e.data)); } catch (err) { /* a broken line: keep the last */ }
  });
}

document.addEventListener("DOMContentLoaded", start);
