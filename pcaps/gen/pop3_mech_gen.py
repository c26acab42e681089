#!/usr/bin/python3
"""Helper for pcaps/gen/pop3_mech_capture.sh: the test accounts, and the
expected events of each finished client session.

The expected events are derived ONLY from what the clients sent and what the
server answered as the clients saw it (curl's --trace-ascii log, poplib's
replies) and from the accounts this script generated -- never from the
capture or from mailspill. Each digest the client sent is also recomputed
from the known password, so a session that did not go as planned stops the
generator instead of producing a wrong expected file. Each event is whole
(README's alert table): the client's port as its socket or curl had it, the
alert object, tls, starttls_offered as the client saw CAPA.

Subcommands:
  users USERS_FILE ACCOUNTS_JSON   deterministic random accounts (seeded):
                                   dovecot passwd-file + their description
  curl-events --trace T --account NAME --accounts J --host H --port P
         --src-port S --expected OUT [--expect-failure]
                                   the login event of one curl session (S:
                                   the port curl printed, -w '%{local_port}')
  poplib-apop --account NAME --accounts J --host H --port P --src-port S
         --expected OUT [--wrong-password]
                                   an APOP login with python's poplib, from
                                   port S
  poplib-digest --account NAME --accounts J --host H --port P --src-port S
         --expected OUT            CAPA and AUTH DIGEST-MD5 over poplib
  check-pcap ...                   pop3_gen.py's capture sanity check, with
                                   this generator's client address
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import poplib
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gencommon  # noqa: E402
import pop3_gen  # noqa: E402  (its pcap checker and CAPA reading)
from gencommon import append_events, die, read_curl_trace  # noqa: E402

CLIENT_IP = "10.44.4.5"


# Accounts --------------------------------------------------------------------

def rand_text(rng, n, alphabet):
    return "".join(rng.choice(alphabet) for _ in range(n))


def make_accounts():
    """Fixed seed: the same accounts on every run, so the expected files only
    change when the clients or the server change what crosses the wire.
    Passwords avoid ':' (the passwd-file separator) and CR/LF."""
    rng = random.Random(20261122)
    tricky = "abcXYZ019 \"\\'!#$%&()*+,-./;<=>?@[]^_`{|}~"
    utf8 = "äöüßéèçñøåæœ€✓☃日本語кирилл"
    acc = {}
    # CRAM-MD5: a user name with a space (dovecot's passwd-file does not find
    # names with a quote); spaces, quotes and
    # backslashes in the password.
    acc["cram"] = ("cram user-" + rand_text(rng, 6, "abcdefghij0123456789"),
                   "p a\"s\\s " + rand_text(rng, 20, tricky))
    # DIGEST-MD5: UTF-8 in both (curl quotes nothing, so no '"' or '\\'
    # in the user name; the password is never in the response).
    acc["digest"] = ("dïgest-" + rand_text(rng, 6, "abcdefghij"),
                     "pässwörd ✓ " + rand_text(rng, 12, utf8 + "abc \"\\"))
    # LOGIN: a password of 200+ characters mixing all of the above.
    acc["login"] = ("login.user-" + rand_text(rng, 5, "0123456789"),
                    rand_text(rng, 230, tricky + utf8))
    # APOP: plain names (APOP's argument is "name SP digest").
    acc["apop"] = ("apop_" + rand_text(rng, 6, "abcdefghij"),
                   "ap op\\\"" + rand_text(rng, 16, tricky + utf8))
    for k, (u, p) in acc.items():
        assert ":" not in u and ":" not in p, k
    return acc


def cmd_users(args):
    acc = make_accounts()
    with open(args.users_file, "w", encoding="utf-8") as f:
        for u, p in acc.values():
            f.write("%s:{PLAIN}%s::::::\n" % (u, p))
    with open(args.accounts, "w", encoding="utf-8") as f:
        json.dump({k: {"user": u, "password": p} for k, (u, p) in acc.items()},
                  f, ensure_ascii=False, indent=1)


def account(args):
    with open(args.accounts, encoding="utf-8") as f:
        acc = json.load(f)
    a = acc[args.account]
    pw = a["password"] + ("-wrong" if getattr(args, "wrong_password", False) else "")
    return a["user"], pw


# Expected events -------------------------------------------------------------

def alert(host, port, src_port, cred):
    """The whole alert event; cred["starttls_offered"] None (the client saw
    no CAPA) leaves the key out."""
    cred = dict(cred, tls=False)            # only cleartext logins are reported
    if cred.get("starttls_offered") is None:
        cred.pop("starttls_offered", None)
    return gencommon.with_alert({"event_type": "alert", "app_proto": "pop3", "src_ip": CLIENT_IP,
                                 "src_port": src_port, "dest_ip": host, "dest_port": port,
                                 "credential": cred})


def outcome(reply):
    return "success" if reply.startswith("+OK") else "failure"


def b64d(text):
    return base64.b64decode(text.strip(), validate=True)


def digest_directives(text):
    """RFC 2831 directive list -> dict (values unquoted): enough for what
    curl sends; used to check the session, the event shows the text."""
    out, i, n = {}, 0, len(text)
    while i < n:
        while i < n and text[i] in " ,":
            i += 1
        if i >= n:
            break
        j = text.index("=", i)
        name = text[i:j].strip().lower()
        i = j + 1
        if i < n and text[i] == '"':
            i += 1
            val = ""
            while text[i] != '"':
                if text[i] == "\\":
                    i += 1
                val += text[i]
                i += 1
            i += 1
        else:
            j = i
            while j < n and text[j] != ",":
                j += 1
            val = text[i:j].strip()
            i = j
        out[name] = val
    return out


def digest_md5_response(d, user, password, authzid=None):
    """RFC 2831 2.1.2.1 response-value, for checking what curl sent."""
    def H(b):
        return hashlib.md5(b).digest()

    def HEX(b):
        return hashlib.md5(b).hexdigest()
    a1 = (H(("%s:%s:%s" % (user, d.get("realm", ""), password)).encode("utf-8"))
          + (":%s:%s" % (d["nonce"], d["cnonce"])).encode())
    if authzid:
        a1 += (":" + authzid).encode()
    a2 = ("AUTHENTICATE:" + d["digest-uri"]).encode()
    if d.get("qop", "auth") != "auth":
        a2 += b":00000000000000000000000000000000"
    return HEX(("%s:%s:%s:%s:%s:%s" % (HEX(a1), d["nonce"], d["nc"], d["cnonce"],
                                        d.get("qop", "auth"), HEX(a2))).encode())


def cmd_curl_events(args):
    user, password = account(args)
    lines = read_curl_trace(args.trace)
    banner = next((t for d, t in lines if d == "<"), "")
    i = next((k for k, (d, t) in enumerate(lines)
              if d == ">" and t.split(" ")[0].upper() in ("AUTH", "APOP")), None)
    if i is None:
        die("curl sent no login (trace %s)" % args.trace)
    verb = lines[i][1].split(" ")[0].upper()
    cred = {"command": verb, "starttls_offered": pop3_gen.stls_offered(lines, i)}
    # The client's lines up to the server's final +OK/-ERR.
    k, chals, resps = i + 1, [], []
    while k < len(lines) and not (lines[k][0] == "<" and
                                  lines[k][1].startswith(("+OK", "-ERR"))):
        d, t = lines[k]
        (chals if d == "<" else resps).append(t)
        k += 1
    if k >= len(lines):
        die("no final reply to curl's %s" % verb)
    reply = lines[k][1]
    if verb == "APOP":
        name, digest = lines[i][1].split(" ", 1)[1].rsplit(" ", 1)
        ts = banner[banner.index("<"):banner.index(">", banner.index("<")) + 1]
        good = hashlib.md5((ts + password).encode("utf-8")).hexdigest()
        if name != user or (digest == good) == args.expect_failure:
            die("curl's APOP %r does not match the account" % lines[i][1])
        cred.update(mechanism="APOP", username=name, challenge=ts, response=digest,
                    hashcat="%s:%s" % (digest, ts), hashcat_mode=20)
    else:
        mech = lines[i][1].split(" ")[1].upper()
        parts = lines[i][1].split(" ")
        if len(parts) > 2:                      # initial response (SASL-IR)
            resps.insert(0, parts[2])
        cred["mechanism"] = mech
        if mech == "CRAM-MD5":
            chal = b64d(chals[0][2:]).decode("utf-8")
            name, digest = b64d(resps[0]).decode("utf-8").rsplit(" ", 1)
            good = hmac.new(password.encode("utf-8"), chal.encode("utf-8"),
                            hashlib.md5).hexdigest()
            if name != user or (digest == good) == args.expect_failure:
                die("curl's CRAM-MD5 response does not match the account")
            resp_b64 = base64.b64encode(b64d(resps[0])).decode()
            cred.update(username=name, challenge=chal, response=digest,
                        hashcat="$cram_md5$%s$%s" % (
                            base64.b64encode(chal.encode("utf-8")).decode(), resp_b64),
                        hashcat_mode=10200)
        elif mech == "DIGEST-MD5":
            chal = b64d(chals[0][2:]).decode("utf-8")
            resp = b64d(resps[0]).decode("utf-8")
            d = digest_directives(resp)
            if d["username"] != user or (
                    digest_md5_response(d, user, password) == d["response"]) == args.expect_failure:
                die("curl's DIGEST-MD5 response does not match the account")
            cred.update(username=d["username"], challenge=chal, response=resp)
            if "realm" in d:
                cred["domain"] = d["realm"]
        elif mech == "LOGIN":
            name = b64d(resps[0]).decode("utf-8")
            pw = b64d(resps[1]).decode("utf-8")
            if name != user or pw != password:
                die("curl's AUTH LOGIN sent %r / %r" % (name, pw))
            cred.update(username=name, password=pw)
        else:
            die("curl used AUTH %s: not handled here" % mech)
    cred.update(outcome=outcome(reply), server_reply=reply)
    if (cred["outcome"] == "failure") != args.expect_failure:
        die("curl's login ended %r" % reply)
    print("  curl: %s %s user %r -> %s" % (verb, cred["mechanism"], cred["username"], reply))
    append_events(args.expected, [alert(args.host, args.port, args.src_port, cred)])


def cmd_poplib_apop(args):
    user, password = account(args)
    pop = gencommon.POP3From(args.host, args.port, (CLIENT_IP, args.src_port))
    sport = gencommon.local_port(pop.sock)
    banner = pop.getwelcome().decode()
    ts = banner[banner.index("<"):banner.index(">", banner.index("<")) + 1]
    digest = hashlib.md5((ts + password).encode("utf-8")).hexdigest()
    try:
        reply = pop.apop(user, password)     # sends "APOP user digest"
    except poplib.error_proto as e:
        reply = e.args[0]
    reply = reply.decode("utf-8")
    print("  poplib: APOP %s %s -> %s" % (user, digest, reply))
    if reply.startswith("+OK") == args.wrong_password:
        die("APOP ended %r" % reply)
    pop.quit()
    append_events(args.expected, [alert(args.host, args.port, sport, {
        "command": "APOP", "mechanism": "APOP", "username": user,
        "challenge": ts, "response": digest, "hashcat": "%s:%s" % (digest, ts),
        "hashcat_mode": 20, "outcome": outcome(reply), "server_reply": reply,
        "starttls_offered": None})])


def cmd_poplib_digest(args):
    """AUTH DIGEST-MD5 with poplib carrying the lines: curl 7.88 cancels
    DIGEST-MD5 against dovecot, whose challenge quotes the algorithm
    (algorithm="md5-sess") where curl compares the bare token. The client
    side here follows RFC 2831 2.1.2 (CAPA first, as mail clients do)."""
    user, password = account(args)
    pop = gencommon.POP3From(args.host, args.port, (CLIENT_IP, args.src_port))
    sport = gencommon.local_port(pop.sock)
    caps = pop.capa()
    stls = "STLS" in caps
    pop._putcmd("AUTH DIGEST-MD5")
    line = pop._getline()[0].decode()
    if not line.startswith("+ "):
        die("no DIGEST-MD5 challenge: %r" % line)
    chal = b64d(line[2:]).decode("utf-8")
    c = digest_directives(chal)
    cnonce = base64.b64encode(hashlib.sha256(b"mailspill cnonce").digest()[:12]).decode()
    d = {"username": user, "realm": c.get("realm", ""), "nonce": c["nonce"], "cnonce": cnonce,
         "nc": "00000001", "qop": "auth", "digest-uri": "pop/" + args.host}
    d["response"] = digest_md5_response(d, user, password)
    resp = ('charset=utf-8,username="%s",realm="%s",nonce="%s",nc=%s,cnonce="%s",'
            'digest-uri="%s",response=%s,qop=%s' % (
                user.replace("\\", "\\\\").replace('"', '\\"'), d["realm"], d["nonce"],
                d["nc"], d["cnonce"], d["digest-uri"], d["response"], d["qop"]))
    pop._putcmd(base64.b64encode(resp.encode("utf-8")).decode())
    line = pop._getline()[0].decode()
    if line.startswith("+ "):                   # rspauth: acknowledge it
        pop._putcmd("")
        line = pop._getline()[0].decode()
    print("  poplib: AUTH DIGEST-MD5 user %r -> %s" % (user, line))
    if not line.startswith("+OK"):
        die("DIGEST-MD5 login refused: %r" % line)
    pop.quit()
    cred = {"command": "AUTH", "mechanism": "DIGEST-MD5", "username": user,
            "challenge": chal, "response": resp, "outcome": "success",
            "server_reply": line, "starttls_offered": stls}
    if d["realm"]:
        cred["domain"] = d["realm"]
    append_events(args.expected, [alert(args.host, args.port, sport, cred)])


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("users")
    p.add_argument("users_file")
    p.add_argument("accounts")
    p.set_defaults(func=cmd_users)
    for name, func in (("curl-events", cmd_curl_events), ("poplib-apop", cmd_poplib_apop),
                       ("poplib-digest", cmd_poplib_digest)):
        p = sub.add_parser(name)
        p.add_argument("--account", required=True)
        p.add_argument("--accounts", required=True)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--src-port", type=int, required=True,
                       help="poplib: the port to connect from; curl-events: the "
                            "one curl printed")
        p.add_argument("--expected", required=True)
        p.set_defaults(func=func)
        if name == "curl-events":
            p.add_argument("--trace", required=True)
            p.add_argument("--expect-failure", action="store_true")
        elif name == "poplib-apop":
            p.add_argument("--wrong-password", action="store_true")
    if len(sys.argv) > 1 and sys.argv[1] == "check-pcap":
        pop3_gen.CLIENT_IP = CLIENT_IP
        sys.argv[0] = "pop3_gen.py"
        pop3_gen.main()
        return
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
