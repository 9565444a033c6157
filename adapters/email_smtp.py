"""Letters out through the school's SMTP server: a few kept connections, reopened when dropped,
and what the server's refusals mean to the kit."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import aiosmtplib

from adapters.email_config import EmailConfig
from adapters.kit import Failure, Verdict

# Connections kept open to the server; each sends one letter at a time.
CONNECTIONS = 4
TIMEOUT_SECONDS = 30.0


class Unreachable(Exception):
    """The address was refused for good before: nothing is sent to it again."""


class CannotEdit(Exception):
    """A letter sent cannot be changed: the kit sends the new words as a new letter."""


class SmtpPool:
    """Up to CONNECTIONS open SMTP sessions, each sending one letter at a time."""

    def __init__(self, config: EmailConfig, size: int = CONNECTIONS) -> None:
        self._config = config
        self._tls = config.smtp_tls() if config.smtp_security != "none" else None
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(self._client())

    def _client(self) -> aiosmtplib.SMTP:
        config = self._config
        return aiosmtplib.SMTP(
            hostname=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username or None,
            password=config.smtp_password or None,
            use_tls=config.smtp_security == "tls",
            start_tls=config.smtp_security == "starttls",
            tls_context=self._tls,
            timeout=TIMEOUT_SECONDS,
        )

    async def send(self, letter: EmailMessage, recipient: str) -> None:
        """Send one letter from the configured address to `recipient`."""
        client = await self._idle.get()
        try:
            if not client.is_connected:
                await client.connect()
            await client.send_message(
                letter, sender=self._config.sender_address, recipients=[recipient]
            )
        except BaseException:
            client.close()  # a half-spoken session is not used again
            client = self._client()
            raise
        finally:
            self._idle.put_nowait(client)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                try:
                    await client.quit()
                except aiosmtplib.SMTPException:
                    client.close()


def classify(error: Exception) -> Verdict | None:
    """4xx and lost connections: None (the outbox retries later); 5xx for the recipient: GONE;
    5xx for the letter itself: REFUSED."""
    if isinstance(error, Unreachable):
        return Verdict(Failure.GONE, reason="unreachable")
    if isinstance(error, CannotEdit):
        return Verdict(Failure.STALE)
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in error.recipients]
        if codes and all(code >= 500 for code in codes):
            return Verdict(Failure.GONE, reason=f"smtp {codes[0]}")
        return None
    if isinstance(error, aiosmtplib.SMTPRecipientRefused):
        return Verdict(Failure.GONE, reason=f"smtp {error.code}") if error.code >= 500 else None
    if isinstance(error, aiosmtplib.SMTPDataError) and error.code >= 500:
        return Verdict(Failure.REFUSED, reason=f"smtp {error.code}")
    return None
