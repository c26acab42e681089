"""Captures for the --web tests, made with tests/cli/pop3gen.py: POP3
logins in the clear, one by a user whose name is HTML, who then reads a
message whose subject and attachment name are HTML too; a short password
(masked whole); and, when asked, many more logins (more events than the
web server's ring keeps)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import pop3gen  # noqa: E402

T0 = 1795000000 * 1000000
HOSTILE = b"<img src=x onerror=alert(1)>"
HOSTILE_FILE = b"<b>bold</b>.pdf"
CAPA_STLS = [("c", b"CAPA\r\n"), ("s", b"+OK\r\nUSER\r\nSTLS\r\n.\r\n")]


def message(subject):
    body = (b"From: Mallory <mallory@example.net>\r\n"
            b"To: Victim <victim@example.org>\r\n"
            b"Subject: " + subject + b"\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            b"--b1\r\nContent-Type: application/pdf\r\n"
            b"Content-Disposition: attachment; filename=\"" + HOSTILE_FILE + b"\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n")
    return [("c", b"RETR 1\r\n"), ("s", b"+OK %d octets\r\n" % len(body) + body + b".\r\n")]


def write(path, filler=0, gap_us=1000):
    """Returns the clear passwords the capture holds."""
    sessions = [
        pop3gen.session("10.0.0.5", 40001, "10.0.0.1", 110, T0,
                        CAPA_STLS + pop3gen.login_lines(HOSTILE, b"Hostile#Pass2026", True,
                                                        extra=message(HOSTILE)), gap_us=gap_us),
        pop3gen.session("10.0.0.6", 40002, "10.0.0.2", 110, T0 + 300 * gap_us,
                        pop3gen.login_lines(b"bob", b"pw1234", False), gap_us=gap_us),
        pop3gen.session("10.0.0.7", 40003, "10.0.0.1", 110, T0 + 600 * gap_us,
                        pop3gen.login_lines(b"carol", b"Autumn-Leaves-77", True), gap_us=gap_us),
    ]
    passwords = [b"Hostile#Pass2026", b"pw1234", b"Autumn-Leaves-77"]
    for i in range(filler):
        pw = b"Filler%05dpw" % i
        passwords.append(pw)
        sessions.append(pop3gen.session("10.0.1.%d" % (i % 200 + 1), 20000 + i,
                                        "10.0.2.%d" % (i % 7 + 1), 110,
                                        T0 + 10**6 + i * 20 * gap_us,
                                        pop3gen.login_lines(b"user%d" % (i % 250), pw, i % 3 != 0),
                                        gap_us=gap_us))
    pop3gen.write_pcap(path, sessions)
    return passwords
