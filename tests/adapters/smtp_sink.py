"""A real SMTP server (aiosmtpd) on a free port that keeps what it is sent, and can refuse:
a 4xx to everything for a while, a 5xx to named recipients."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.platforms import EmailConfig


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpSink:
    letters: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    busy_for: int = 0  # refuse this many letters with a 451 before taking any
    refused: set[str] = field(default_factory=set)  # answered 550 "no such user"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refused:
            return "550 5.1.1 No such user here"
        if self.busy_for > 0:
            self.busy_for -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        letter = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(letter, EmailMessage)
        self.letters.append(letter)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [letter for letter in self.letters if str(letter["To"]) == address]

    def config(self, port: int) -> EmailConfig:
        return EmailConfig(
            enabled=True,
            from_address="Tandem at Maple <tandem@maple.example>",
            reply_domain="maple.example",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            imap_host="127.0.0.1",
            imap_username="tandem",
            imap_password="x",
        )


def start_sink() -> tuple[SmtpSink, Controller, int]:
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller, port


def text_of(letter: EmailMessage) -> str:
    body = letter.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def html_of(letter: EmailMessage) -> str:
    body = letter.get_body(("html",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]
