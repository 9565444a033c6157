"""The school's mailbox read by IMAP, against our own Dovecot: each letter once, none lost."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest

from adapters.email_inbox import ImapInbox, ImapSettings, Security
from adapters.email_parse import MailKind, parse_mail
from tests.email_servers import DovecotServer, Mailbox, wait_for_port

# A run that has not finished by then is stuck: fail instead of hanging the suite.
STUCK_SECONDS = 30


def letter(number: int, body: str = "") -> bytes:
    message = EmailMessage()
    message["From"] = "Dana Rivera <dana@example.org>"
    message["To"] = "tandem+k3y@maple.example"
    message["Subject"] = f"Re: letter {number}"
    message["Message-ID"] = f"<letter-{number}@example.org>"
    message.set_content(body or f"+ Sam note number {number}")
    return message.as_bytes().replace(b"\n", b"\r\n")


def settings_for(
    dovecot: DovecotServer, mailbox: Mailbox, security: Security = "none", **options: object
) -> ImapSettings:
    port = dovecot.tls_port if security == "tls" else dovecot.port
    return ImapSettings(
        "127.0.0.1",
        port,
        security,
        mailbox.username,
        mailbox.password,
        **options,  # type: ignore[arg-type]
    )


@dataclass
class RememberedUids:
    """The inbox's UID memory, as the storage layer would keep it."""

    last: dict[tuple[str, int], int] = field(default_factory=dict)

    async def last_uid(self, folder: str, uidvalidity: int) -> int:
        return self.last.get((folder, uidvalidity), 0)

    async def remember(self, folder: str, uidvalidity: int, uid: int) -> None:
        self.last[(folder, uidvalidity)] = uid


@dataclass
class Received:
    """The handler: keeps what it was handed, and can do something when a letter arrives."""

    letters: list[tuple[int, bytes]] = field(default_factory=list)
    on_letter: Callable[[int], object] | None = None

    async def __call__(self, uid: int, raw: bytes) -> None:
        self.letters.append((uid, raw))
        if self.on_letter is not None:
            result = self.on_letter(uid)
            if asyncio.iscoroutine(result):
                await result

    @property
    def uids(self) -> list[int]:
        return [uid for uid, _ in self.letters]


@dataclass
class WaitingSleeper:
    """Stands in for asyncio.sleep: notes each wait, and returns as soon as the server is up."""

    dovecot: DovecotServer
    waits: list[float] = field(default_factory=list)
    on_wait: Callable[[], None] | None = None

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_wait is not None:
            self.on_wait()
        await asyncio.to_thread(wait_for_port, self.dovecot.port)


@pytest.fixture
def mailbox(dovecot: DovecotServer) -> Mailbox:
    return dovecot.add_user()


@pytest.fixture
def memory() -> RememberedUids:
    return RememberedUids()


@pytest.fixture
async def idle_started() -> AsyncIterator[asyncio.Queue[None]]:
    """One item each time the inbox starts waiting in IDLE (read from its log)."""
    queue: asyncio.Queue[None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waiting in IDLE" in record.getMessage():
                loop.call_soon_threadsafe(queue.put_nowait, None)

    logger = logging.getLogger("adapters.email_inbox")
    watch, level = Watch(), logger.level
    logger.addHandler(watch)
    logger.setLevel(logging.DEBUG)
    yield queue
    logger.removeHandler(watch)
    logger.setLevel(level)


async def test_each_new_letter_is_handed_over_once_marked_seen_and_kept(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    sent = [letter(1), letter(2)]
    uids = [dovecot.deliver(raw, mailbox) for raw in sent]
    inbox = ImapInbox(settings_for(dovecot, mailbox))
    received = Received()

    first = await inbox.fetch_once(received, memory)
    again = await inbox.fetch_once(received, memory)

    assert (first, again) == (2, 0)
    assert received.letters == list(zip(uids, sent, strict=True))
    assert dovecot.seen_uids(mailbox) == uids
    assert dovecot.uids(mailbox) == uids  # nothing deleted


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_the_mailbox_is_read_over_tls_and_starttls(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids, security: Security
) -> None:
    uid = dovecot.deliver(letter(1), mailbox)
    inbox = ImapInbox(
        settings_for(dovecot, mailbox, security),
        ssl_context=dovecot.certificates.client_context(),
    )
    received = Received()

    await inbox.fetch_once(received, memory)

    assert received.uids == [uid]


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_a_server_certificate_nobody_vouches_for_is_refused(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids, security: Security
) -> None:
    dovecot.deliver(letter(1), mailbox)
    inbox = ImapInbox(settings_for(dovecot, mailbox, security))  # the system's CAs only
    received = Received()

    with pytest.raises(ssl.SSLCertVerificationError):
        await inbox.fetch_once(received, memory)
    assert received.letters == []


async def test_a_letter_over_the_size_limit_is_not_downloaded_but_handed_over_as_oversize(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    big = letter(1, "+ Sam's video\n" + "x" * 70 * 3000)
    dovecot.deliver(big, mailbox)
    inbox = ImapInbox(settings_for(dovecot, mailbox, max_message_bytes=100_000))
    received = Received()

    await inbox.fetch_once(received, memory)

    [(_, stub)] = received.letters
    mail = parse_mail(stub, "maple.example", "tandem.maple.example")
    assert len(stub) < 1_000
    assert (mail.kind, mail.from_address, mail.reply_key) == (
        MailKind.OVERSIZE,
        "dana@example.org",
        "k3y",
    )


async def test_a_letter_whose_handler_failed_is_handed_over_again(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    uids = [dovecot.deliver(letter(n), mailbox) for n in (1, 2)]
    inbox = ImapInbox(settings_for(dovecot, mailbox))

    def fail_on_second(uid: int) -> None:
        if uid == uids[1]:
            raise RuntimeError("database unavailable")

    failing = Received(on_letter=fail_on_second)
    with pytest.raises(RuntimeError):
        await inbox.fetch_once(failing, memory)
    received = Received()
    await inbox.fetch_once(received, memory)

    assert failing.uids == uids
    assert received.uids == [uids[1]]


async def test_a_rebuilt_folder_with_a_new_uidvalidity_is_read_from_the_start(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    with dovecot.connect(mailbox) as imap:
        imap.create("School")
    dovecot.deliver(letter(1), mailbox, "School")
    dovecot.deliver(letter(2), mailbox, "School")
    inbox = ImapInbox(settings_for(dovecot, mailbox, folder="School"))
    await inbox.fetch_once(Received(), memory)
    with dovecot.connect(mailbox) as imap:
        imap.delete("School")
        imap.create("School")
    dovecot.deliver(letter(3), mailbox, "School")
    received = Received()

    await inbox.fetch_once(received, memory)

    assert [raw for _, raw in received.letters] == [letter(3)]


async def run_until(
    inbox: ImapInbox, received: Received, memory: RememberedUids, count: int
) -> None:
    """Run the inbox until `count` letters were handed over in all."""
    stop = asyncio.Event()
    earlier = received.on_letter

    async def maybe_stop(uid: int) -> None:
        if earlier is not None:
            result = earlier(uid)
            if asyncio.iscoroutine(result):
                await result
        if len(received.letters) >= count:
            stop.set()

    received.on_letter = maybe_stop
    await asyncio.wait_for(inbox.run(received, memory, stop), STUCK_SECONDS)


async def test_a_run_survives_a_failing_handler_and_hands_the_letter_over_again(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    uids = [dovecot.deliver(letter(n), mailbox) for n in (1, 2)]
    sleeper = WaitingSleeper(dovecot)
    inbox = ImapInbox(settings_for(dovecot, mailbox), sleep=sleeper)
    failed: list[int] = []

    def fail_once_on_first(uid: int) -> None:
        if uid == uids[0] and not failed:
            failed.append(uid)
            raise RuntimeError("database unavailable")

    received = Received(on_letter=fail_once_on_first)
    await run_until(inbox, received, memory, 3)

    assert received.uids == [uids[0], uids[0], uids[1]]
    assert sleeper.waits == [1.0]


async def test_a_server_restart_mid_fetch_loses_nothing_and_takes_nothing_twice(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    uids = [dovecot.deliver(letter(n), mailbox) for n in (1, 2, 3)]
    sleeper = WaitingSleeper(dovecot)
    inbox = ImapInbox(settings_for(dovecot, mailbox), sleep=sleeper)

    async def restart_after_first(uid: int) -> None:
        if uid == uids[0]:
            await asyncio.to_thread(dovecot.restart)

    received = Received(on_letter=restart_after_first)
    await run_until(inbox, received, memory, 3)

    assert received.uids == uids
    assert sleeper.waits[:1] == [1.0]  # the first reconnection came after a short pause


async def test_idle_hands_over_a_letter_as_it_arrives_and_survives_a_restart(
    dovecot: DovecotServer,
    mailbox: Mailbox,
    memory: RememberedUids,
    idle_started: asyncio.Queue[None],
) -> None:
    first = dovecot.deliver(letter(1), mailbox)
    sleeper = WaitingSleeper(dovecot)
    # Polling would wait ten minutes: only IDLE can bring the later letters in time.
    inbox = ImapInbox(settings_for(dovecot, mailbox, poll_seconds=600), sleep=sleeper)
    received = Received()

    async def deliver_while_idle() -> None:
        await idle_started.get()
        await asyncio.to_thread(dovecot.deliver, letter(2), mailbox)
        await idle_started.get()
        await asyncio.to_thread(dovecot.restart)
        await asyncio.to_thread(dovecot.deliver, letter(3), mailbox)

    helper = asyncio.create_task(deliver_while_idle())
    await run_until(inbox, received, memory, 3)
    await helper

    assert received.uids == [first, first + 1, first + 2]
    assert sleeper.waits and all(wait < 600 for wait in sleeper.waits)


async def test_without_idle_the_inbox_polls_every_poll_seconds(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    dovecot.deliver(letter(1), mailbox)
    sleeper = WaitingSleeper(dovecot)
    sleeper.on_wait = lambda: dovecot.deliver(letter(len(sleeper.waits) + 1), mailbox)
    inbox = ImapInbox(
        settings_for(dovecot, mailbox, poll_seconds=45), sleep=sleeper, prefer_idle=False
    )
    received = Received()

    await run_until(inbox, received, memory, 3)

    assert [raw for _, raw in received.letters] == [letter(1), letter(2), letter(3)]
    assert sleeper.waits == [45, 45]


async def test_stopping_ends_a_run_waiting_in_idle(
    dovecot: DovecotServer,
    mailbox: Mailbox,
    memory: RememberedUids,
    idle_started: asyncio.Queue[None],
) -> None:
    inbox = ImapInbox(settings_for(dovecot, mailbox, poll_seconds=600))
    stop = asyncio.Event()
    running = asyncio.create_task(inbox.run(Received(), memory, stop))

    await asyncio.wait_for(idle_started.get(), STUCK_SECONDS)
    stop.set()

    await asyncio.wait_for(running, STUCK_SECONDS)
    assert running.done() and running.exception() is None


async def test_a_wrong_password_is_retried_with_growing_pauses_until_stopped(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    stop = asyncio.Event()
    sleeper = WaitingSleeper(dovecot)
    sleeper.on_wait = lambda: stop.set() if len(sleeper.waits) == 7 else None
    wrong = Mailbox(mailbox.username, "not-the-password")
    inbox = ImapInbox(settings_for(dovecot, wrong), sleep=sleeper)

    await asyncio.wait_for(inbox.run(Received(), memory, stop), STUCK_SECONDS)

    assert sleeper.waits == [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 60.0]


def test_an_unknown_security_is_refused_rather_than_sending_the_password_in_the_clear() -> None:
    with pytest.raises(ValueError, match="tls, starttls or none"):
        ImapSettings("mail.example", 993, "ssl", "tandem", "secret")  # type: ignore[arg-type]


async def test_pauses_start_over_short_after_a_connection_that_worked(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    uids = [dovecot.deliver(letter(n), mailbox) for n in (1, 2, 3)]
    sleeper = WaitingSleeper(dovecot)
    inbox = ImapInbox(settings_for(dovecot, mailbox), sleep=sleeper)

    async def restart_after_each_of_the_first_two(uid: int) -> None:
        if uid in uids[:2]:
            await asyncio.to_thread(dovecot.restart)

    received = Received(on_letter=restart_after_each_of_the_first_two)
    await run_until(inbox, received, memory, 3)

    assert received.uids == uids
    assert sleeper.waits == [1.0, 1.0]


async def test_a_letter_that_arrives_while_others_are_handled_does_not_wait_for_the_next_poll(
    dovecot: DovecotServer, mailbox: Mailbox, memory: RememberedUids
) -> None:
    dovecot.deliver(letter(1), mailbox)
    sleeper = WaitingSleeper(dovecot)
    inbox = ImapInbox(
        settings_for(dovecot, mailbox, poll_seconds=45), sleep=sleeper, prefer_idle=False
    )

    async def deliver_the_second(uid: int) -> None:
        if len(received.letters) == 1:
            await asyncio.to_thread(dovecot.deliver, letter(2), mailbox)

    received = Received(on_letter=deliver_the_second)
    await run_until(inbox, received, memory, 2)

    assert [raw for _, raw in received.letters] == [letter(1), letter(2)]
    assert sleeper.waits == []


async def test_the_log_names_letters_by_number_never_by_their_words(
    dovecot: DovecotServer,
    mailbox: Mailbox,
    memory: RememberedUids,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dovecot.deliver(letter(1, "+ Sam had a seizure at lunch"), mailbox)
    dovecot.deliver(letter(2, "+ Sam's video\n" + "x" * 200_000), mailbox)
    inbox = ImapInbox(settings_for(dovecot, mailbox, max_message_bytes=100_000))

    with caplog.at_level(logging.DEBUG, logger="adapters.email_inbox"):
        await inbox.fetch_once(Received(), memory)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "handed over 2 new letter(s)" in logged
    assert "seizure" not in logged
    assert "dana@example.org" not in logged
    assert mailbox.password not in logged
