"""A local SMTP server on 127.0.0.1 that records what it is given (the SMTP transport's far end).

Enough of RFC 5321 for ``smtplib``: EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed),
RSET, NOOP, QUIT. It is strict where it matters to us: the envelope recipients
are recorded as given (a header injection that adds ``Bcc:`` shows up there), a
command line must end in CRLF, and addresses in ``refuse`` get 550 at RCPT.
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes


@dataclass
class SmtpSink:
    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    server: socketserver.ThreadingTCPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def start(self) -> SmtpSink:
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")
                self.wfile.flush()

            def handle(self) -> None:
                self.reply("220 sink ESMTP")
                mail_from, rcpts = "", []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    if not raw.endswith(b"\r\n"):
                        sink.errors.append(f"command without CRLF: {raw!r}")
                        self.reply("500 line must end in CRLF")
                        continue
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-sink" if verb == "EHLO" else "250 sink")
                        if verb == "EHLO":
                            self.reply("250-8BITMIME")
                            self.reply("250 SMTPUTF8")
                    elif verb == "MAIL":
                        mail_from, rcpts = line.split(":", 1)[1].split()[0].strip("<>"), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        addr = line.split(":", 1)[1].split()[0].strip("<>")
                        if addr in sink.refuse:
                            self.reply("550 no such user")
                        else:
                            rcpts.append(addr)
                            self.reply("250 ok")
                    elif verb == "DATA":
                        if not rcpts:
                            self.reply("554 no valid recipients")
                            continue
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines = []
                        while True:
                            chunk = self.rfile.readline()
                            if chunk in (b".\r\n", b""):
                                break
                            lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        sink.received.append(Received(mail_from, rcpts, b"".join(lines)))
                        mail_from, rcpts = "", []
                        self.reply("250 queued")
                    elif verb == "RSET":
                        mail_from, rcpts = "", []
                        self.reply("250 ok")
                    elif verb == "NOOP":
                        self.reply("250 ok")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="smtp-sink", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
