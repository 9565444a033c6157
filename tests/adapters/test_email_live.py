"""`tandem run`'s email adapter on a live mailbox: `start()` reads the real Dovecot in IDLE over
TLS (the school's CA named in `imap_ca_file`), a parent's reply delivered to the INBOX becomes
a note answered by SMTP (STARTTLS, `smtp_ca_file`), /healthz sees the mailbox go away while
Dovecot is stopped, and `stop()` ends the reading cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import col, select

from adapters.bootstrap import build_router
from adapters.email import EmailAdapter
from adapters.email_config import EmailConfig
from adapters.email_inbox import ImapInbox
from adapters.email_invites import invite_by_email
from adapters.health import Health
from bot import invites
from bot.dispatch import Dispatcher
from storage.models import Entry, EntryKind, Role
from storage.stores import Store
from tests.conftest import DemoSchool
from tests.email_servers import DovecotServer, Mailbox, SmtpServer

PARENT = "dana@example.org"
KEY = "a live mailbox secret key, long enough for tandem"
WAIT_SECONDS = 30  # an upper bound for a real server on a busy machine, never a pause


@dataclass
class Pauses:
    """The inbox's sleeper: says when the inbox pauses after a lost connection, and holds it
    there until released (no test waits on a clock)."""

    paused: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def sleep(self, seconds: float) -> None:
        self.paused.set()
        await self.release.wait()


@dataclass
class Running:
    running: bool = True


@dataclass
class Live:
    school: DemoSchool
    email: EmailAdapter
    smtp: SmtpServer
    dovecot: DovecotServer
    box: Mailbox
    pauses: Pauses
    handled: asyncio.Queue[int]

    def letters(self) -> list[EmailMessage]:
        found = [mail.message for mail in self.smtp.messages if PARENT in mail.recipients]
        return [letter for letter in found if isinstance(letter, EmailMessage)]

    async def parent_replies(self, text: str, number: int) -> str:
        """Dana answers the last letter; the mail lands in the INBOX and the running adapter
        takes it; its Message-ID."""
        letter = self.letters()[-1]
        reply = EmailMessage()
        reply["From"] = f"Dana Rivera <{PARENT}>"
        reply["To"] = str(letter["Reply-To"])
        reply["Subject"] = f"Re: {letter['Subject']}"
        reply["Message-ID"] = f"<live-{number}@example.org>"
        reply["In-Reply-To"] = str(letter["Message-ID"])
        reply.set_content(text)
        uid = self.dovecot.deliver(bytes(reply), self.box)
        taken = await asyncio.wait_for(self.handled.get(), WAIT_SECONDS)
        assert taken == uid
        return str(reply["Message-ID"])


@pytest.fixture
async def live(
    school: DemoSchool, smtp_server: SmtpServer, dovecot: DovecotServer, tmp_path: Path
) -> AsyncIterator[Live]:
    ca = tmp_path / "school-ca.pem"
    dovecot.certificates.ca.cert_pem.write_to_path(str(ca))
    box = dovecot.add_user()
    config = EmailConfig(
        enabled=True,
        from_address="Tandem at Maple <tandem@maple.example>",
        reply_domain="maple.example",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security="starttls",
        smtp_ca_file=str(ca),
        imap_host="127.0.0.1",
        imap_port=dovecot.tls_port,
        imap_security="tls",
        imap_username=box.username,
        imap_password=box.password,
        imap_ca_file=str(ca),
    )
    base = school.dispatcher.settings
    settings = replace(
        base, security=replace(base.security, secret_key=KEY), platforms={"email": config}
    )
    school.dispatcher = Dispatcher(school.db, settings, school.clock, build_router())
    email = EmailAdapter(config, school.dispatcher, school.db)
    pauses = Pauses()
    email.inbox = ImapInbox(email.inbox.settings, ssl_context=config.imap_tls(), sleep=pauses.sleep)
    handled: asyncio.Queue[int] = asyncio.Queue()
    take = email.on_mail

    async def on_mail(uid: int, raw: bytes) -> None:
        await take(uid, raw)
        handled.put_nowait(uid)

    email.on_mail = on_mail  # type: ignore[method-assign]
    try:
        yield Live(school, email, smtp_server, dovecot, box, pauses, handled)
    finally:
        pauses.release.set()
        await email.stop()
        if not dovecot.running:
            dovecot.start()


async def invite_parent(live: Live) -> None:
    async with live.school.db.session() as session:
        store = Store(session)
        settings = live.school.dispatcher.settings
        now = live.school.clock.now()
        school = (await store.students.schools())[0]
        sam = next(s for s in await store.students.in_school(school.id or 0) if "Sam" in s.name)
        new = await invites.create_invite(store, settings, now, school, sam, Role.PARENT, None)
        await invite_by_email(store, settings, new.code, PARENT, sam.name, now)


async def email_health(live: Live) -> str:
    return (await Health(live.school.db, {"email": live.email}, Running()).check())["email"]


async def test_a_reply_in_the_live_mailbox_becomes_a_note_answered_by_smtp(live: Live) -> None:
    await invite_parent(live)
    await live.email.start()

    await live.parent_replies("Yes, thank you", 1)
    assert "Welcome" in str(live.letters()[-1].get_body(("plain",)).get_content())  # type: ignore[union-attr]
    asked = await live.parent_replies("+ Sam read to his sister at bedtime", 2)

    async with live.school.db.session() as session:
        notes = (await session.exec(select(Entry).where(col(Entry.kind) == EntryKind.WIN))).all()
    assert [note.text for note in notes] == ["Sam read to his sister at bedtime"]
    answer = live.letters()[-1]
    assert answer["In-Reply-To"] == asked
    assert await email_health(live) == "ok"

    await live.email.stop()  # returns once the reading loop has ended and SMTP is closed

    assert await email_health(live) == "not connected"


async def test_healthz_says_not_connected_while_dovecot_is_down(live: Live) -> None:
    await invite_parent(live)
    await live.email.start()
    await live.parent_replies("Yes, thank you", 1)  # logged in and reading
    assert await email_health(live) == "ok"

    live.dovecot.stop()
    await asyncio.wait_for(live.pauses.paused.wait(), WAIT_SECONDS)

    assert await email_health(live) == "not connected"
    live.dovecot.start()
    live.pauses.paused.clear()
    live.pauses.release.set()
    await live.parent_replies("+ Sam slept well", 2)  # back in the mailbox after the restart
    assert await email_health(live) == "ok"
