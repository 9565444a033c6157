"""The school's mailbox, read by IMAP: every new letter handed over once, none lost.

IMAPClient in a worker thread rather than aioimaplib: it is the mature, widely used client
(IDLE with a timeout, STARTTLS, UIDPLUS responses parsed), and a blocking call that fails just
raises, so reconnecting is a plain retry loop around a fresh connection; each call runs in a
thread so the event loop never waits on the network.

The inbox remembers, per folder and UIDVALIDITY, the highest UID it handed over; a UID is
remembered only after the handler returned, so a crash or a server restart at any moment means
the letter is handed over again, never skipped (the caller dedupes by Message-ID). A new
UIDVALIDITY (the folder was rebuilt) starts over from the first letter. Letters are never
deleted; handled ones are marked \\Seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import LoginError

from adapters.email_parse import DEFAULT_MAX_MESSAGE_BYTES, oversize_stub

__all__ = [
    "RECONNECT_DELAYS",
    "ImapInbox",
    "ImapSettings",
    "MailHandler",
    "Security",
    "Sleeper",
    "UidMemory",
]

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "none"]
MailHandler = Callable[[int, bytes], Awaitable[None]]
Sleeper = Callable[[float], Awaitable[None]]
# Seconds between reconnection attempts: quick at first, then once a minute.
RECONNECT_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# A server that says nothing for this long is taken for gone (IDLE waits set their own).
READ_TIMEOUT_SECONDS = 120.0
CONNECT_TIMEOUT_SECONDS = 20.0
# Servers may end an IDLE after 30 minutes (RFC 2177): start a fresh one well before that.
MAX_IDLE_SECONDS = 25 * 60.0
# Connection-level failures: the server went away, refused us, or spoke nonsense.
IMAP_FAILURES = (imaplib.IMAP4.error, OSError, EOFError)


@dataclass(frozen=True)
class ImapSettings:
    """Where the school's mailbox is and how to log in (from the [email] config section)."""

    host: str
    port: int
    security: Security
    username: str
    password: str
    folder: str = "INBOX"
    poll_seconds: float = 30.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        # A typo must not mean a password sent in the clear.
        if self.security not in ("tls", "starttls", "none"):
            raise ValueError(f"imap_security must be tls, starttls or none, not {self.security!r}")
        if self.poll_seconds <= 0:
            raise ValueError("poll_seconds must be more than 0")


class UidMemory(Protocol):
    """Where the inbox keeps the highest UID handled, per folder and UIDVALIDITY."""

    async def last_uid(self, folder: str, uidvalidity: int) -> int: ...

    async def remember(self, folder: str, uidvalidity: int, uid: int) -> None: ...


class ImapInbox:
    """Hands each new letter in one IMAP folder to a handler, once, in UID order."""

    def __init__(
        self,
        settings: ImapSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        sleep: Sleeper = asyncio.sleep,
        reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
        prefer_idle: bool = True,
    ) -> None:
        self.settings = settings
        # None verifies the server against the system's CAs, as any mail client does.
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._sleep = sleep
        self._delays = tuple(reconnect_delays)
        self._prefer_idle = prefer_idle
        self._connected = False

    async def fetch_once(self, handler: MailHandler, memory: UidMemory) -> int:
        """Connect, hand over every letter not yet handled, disconnect; returns how many."""
        client, uidvalidity = await asyncio.to_thread(self._connect)
        try:
            return await self._fetch_new(client, uidvalidity, handler, memory)
        finally:
            await asyncio.to_thread(_close, client)

    @property
    def connected(self) -> bool:
        """Logged in to the mailbox right now (not pausing after a failure)."""
        return self._connected

    async def run(self, handler: MailHandler, memory: UidMemory, stop: asyncio.Event) -> None:
        """Hand over new letters until `stop` is set, reconnecting with backoff on failures.

        Waits with IDLE where the server has it (re-issued every poll_seconds), else polls every
        poll_seconds. A handler (or memory) that raises is logged and its letter handed over
        again after the same pause as a lost connection: the inbox itself never stops.
        """
        failures = 0
        while not stop.is_set():
            self._connected = False
            try:
                await self._session(handler, memory, stop)
                failures = 0
            except LoginError as error:
                log.error("IMAP login to %s refused: %s", self.settings.host, _reason(error))
                failures += 1
            except IMAP_FAILURES as error:
                log.warning("IMAP connection to %s lost: %s", self.settings.host, _reason(error))
                failures = 1 if self._connected else failures + 1
            except Exception:
                log.exception("IMAP %s: handling a letter failed", self.settings.folder)
                failures = 1 if self._connected else failures + 1
            self._connected = False  # /healthz: down while we pause and reconnect
            if failures and not stop.is_set():
                delay = self._delays[min(failures, len(self._delays)) - 1]
                await self._pause(stop, delay)

    async def _session(self, handler: MailHandler, memory: UidMemory, stop: asyncio.Event) -> None:
        """One connection: fetch, wait for news, fetch again, until stopped or broken."""
        client, uidvalidity = await asyncio.to_thread(self._connect)
        self._connected = True  # a failure from here on starts the pauses over, short
        try:
            use_idle = self._prefer_idle and client.has_capability("IDLE")
            while not stop.is_set():
                # Again until nothing is new: letters that came while we handled others are
                # taken now, and whatever comes later is announced when IDLE starts.
                while await self._fetch_new(client, uidvalidity, handler, memory, stop):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                if use_idle:
                    log.debug("IMAP %s: waiting in IDLE", self.settings.folder)
                    await self._idle(client, stop)
                else:
                    await self._pause(stop, self.settings.poll_seconds)
        finally:
            await asyncio.to_thread(_close, client)

    def _connect(self) -> tuple[IMAPClient, int]:
        """A logged-in client with the folder selected, and its UIDVALIDITY (blocking)."""
        settings = self.settings
        client = IMAPClient(
            settings.host,
            port=settings.port,
            ssl=settings.security == "tls",
            ssl_context=self._ssl_context,
            timeout=SocketTimeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
        )
        try:
            if settings.security == "starttls":
                client.starttls(self._ssl_context)
            client.login(settings.username, settings.password)
            selected = client.select_folder(settings.folder)
        except BaseException:
            _close(client)
            raise
        return client, int(selected[b"UIDVALIDITY"])

    async def _fetch_new(
        self,
        client: IMAPClient,
        uidvalidity: int,
        handler: MailHandler,
        memory: UidMemory,
        stop: asyncio.Event | None = None,
    ) -> int:
        """Hand over each letter above the remembered UID, in order; returns how many."""
        folder = self.settings.folder
        last = await memory.last_uid(folder, uidvalidity)
        sizes = await asyncio.to_thread(self._sizes_after, client, last)
        handed = 0
        for uid in sorted(sizes):
            if stop is not None and stop.is_set():
                break  # the rest waits, unremembered, for the next start
            raw = await asyncio.to_thread(self._download, client, uid, sizes[uid])
            await handler(uid, raw)
            await memory.remember(folder, uidvalidity, uid)
            handed += 1
            await asyncio.to_thread(_mark_seen, client, uid)
        if handed:
            log.info("IMAP %s: handed over %d new letter(s)", folder, handed)
        return handed

    def _sizes_after(self, client: IMAPClient, last: int) -> dict[int, int]:
        """Each UID above `last` with its size (n:* always names the newest: filter it)."""
        client.noop()  # lets the server tell us of letters that came since the last look
        uids = [uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last]
        if not uids:
            return {}
        fetched = client.fetch(uids, ["RFC822.SIZE"])
        return {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in fetched.items()}

    def _download(self, client: IMAPClient, uid: int, size: int) -> bytes:
        """The letter's bytes; only its headers, marked oversize, when it is too big."""
        if size > self.settings.max_message_bytes:
            log.warning("IMAP letter %d is %d bytes: not downloaded", uid, size)
            data = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
            return oversize_stub(bytes(data.get(b"BODY[HEADER]", b"")), size)
        data = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
        return bytes(data.get(b"BODY[]", b""))

    async def _idle(self, client: IMAPClient, stop: asyncio.Event) -> None:
        """Wait in IDLE for news, at most poll_seconds; a stop cuts the connection short."""
        waiting = asyncio.create_task(
            asyncio.to_thread(_idle_once, client, min(self.settings.poll_seconds, MAX_IDLE_SECONDS))
        )
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            stopping.cancel()
            waiting.result()  # a broken connection raises here, and we reconnect
            return
        _interrupt(client)  # wakes the IDLE thread; the session ends on `stop`
        await asyncio.gather(waiting, return_exceptions=True)

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        """Wait `seconds` with the injected sleeper, or less if asked to stop."""
        sleeping = asyncio.create_task(_as_coroutine(self._sleep(seconds)))
        stopping = asyncio.create_task(stop.wait())
        _, pending = await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _as_coroutine(awaitable: Awaitable[None]) -> None:
    await awaitable


def _idle_once(client: IMAPClient, seconds: float) -> None:
    client.idle()
    client.idle_check(timeout=seconds)
    client.idle_done()


def _mark_seen(client: IMAPClient, uid: int) -> None:
    client.add_flags([uid], [b"\\Seen"], silent=True)


def _interrupt(client: IMAPClient) -> None:
    with contextlib.suppress(OSError):  # already closed
        client.socket().shutdown(socket.SHUT_RDWR)


def _close(client: IMAPClient) -> None:
    """Log out politely when the server still listens; just drop the socket otherwise."""
    try:
        client.logout()
    except (*IMAP_FAILURES, AttributeError):
        try:
            client.shutdown()
        except (*IMAP_FAILURES, AttributeError):
            pass


def _reason(error: BaseException) -> str:
    text: Any = error.args[0] if error.args else ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return f"{type(error).__name__}: {text}"[:200]
