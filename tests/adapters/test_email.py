"""Email as a platform, against a real SMTP server (aiosmtpd): invites joined by reply, notes
both ways, buttons as reply words, and the mails that must be dropped or answered kindly."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from enum import Enum, auto

import aiosmtplib
import pytest
from sqlmodel import col, select

from adapters import email_identity
from adapters.bootstrap import build_router
from adapters.email import EmailAdapter
from adapters.email_invites import invite_by_email
from bot import invites
from bot.dispatch import Dispatcher
from bot.events import RecipientBlocked, Reply
from storage.models import Account, Entry, Role
from storage.stores import Store
from tests.adapters.smtp_sink import SmtpSink, html_of, start_sink, text_of
from tests.conftest import DemoSchool

DANA = "dana@example.org"
SECRET = "an email test secret key, 32 characters or more"


class Kind(Enum):
    NOTE = auto()
    EMPTY = auto()
    AUTO_REPLY = auto()
    BOUNCE = auto()
    OWN = auto()
    OVERSIZE = auto()
    MALFORMED = auto()


@dataclass(frozen=True)
class Attached:
    filename: str
    content_type: str = "image/jpeg"
    size: int = 1000


@dataclass(frozen=True)
class Mail:
    """A stand-in of adapters/email_parse.py's InboundMail."""

    message_id: str
    reply_key: str | None
    from_address: str
    text: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[Attached, ...] = ()
    kind: Kind = Kind.NOTE
    bounced_addresses: tuple[str, ...] = field(default=())


@dataclass
class Post:
    """The school's mail: the SMTP server's letters and the adapter that sends and takes."""

    sink: SmtpSink
    adapter: EmailAdapter
    school: DemoSchool
    count: int = 0

    def key_of(self, address: str) -> str:
        letter = self.sink.to(address)[-1]
        found = re.fullmatch(r"tandem\+([\w-]+)@maple\.example", str(letter["Reply-To"]))
        assert found, letter["Reply-To"]
        return found.group(1)

    async def reply(
        self, text: str, *, sender: str = DANA, key: str | None = "mine", **more: object
    ) -> Mail:
        """`sender` replies to the last letter they got."""
        self.count += 1
        last = self.sink.to(sender)[-1] if self.sink.to(sender) else None
        mail = Mail(
            message_id=f"<reply-{self.count}@example.org>",
            reply_key=self.key_of(sender) if key == "mine" else key,
            from_address=sender,
            text=text,
            in_reply_to=str(last["Message-ID"]) if last is not None else None,
        )
        mail = replace(mail, **more)  # type: ignore[arg-type]
        await self.adapter.take(mail)
        return mail

    async def invite(self, address: str = DANA, student: str = "Sam Rivera") -> None:
        async with self.school.db.session() as session:
            store = Store(session)
            school = await store.students.school_named("Maple Elementary (demo)")
            assert school is not None
            pupil = next(
                s for s in await store.students.in_school(school.id or 0) if s.name == student
            )
            settings = self.adapter.dispatcher.settings
            now = self.school.clock.now()
            new = await invites.create_invite(
                store, settings, now, school, pupil, Role.PARENT, None
            )
            await invite_by_email(store, settings, new, address, pupil, now)


@pytest.fixture
async def post(school: DemoSchool) -> AsyncIterator[Post]:
    sink, controller, port = start_sink()
    settings = school.dispatcher.settings
    settings = replace(
        settings,
        security=replace(settings.security, secret_key=SECRET),
        platforms={**settings.platforms, "email": sink.config(port)},
    )
    dispatcher = Dispatcher(school.db, settings, school.clock, build_router())
    school.dispatcher = dispatcher
    adapter = EmailAdapter(sink.config(port), dispatcher, school.db)
    try:
        yield Post(sink, adapter, school)
    finally:
        await adapter.stop()
        controller.stop()


async def entries(post: Post) -> list[Entry]:
    async with post.school.db.session() as session:
        return list((await session.exec(select(Entry).order_by(col(Entry.id)))).all())


async def test_an_invite_letter_says_how_to_join_and_carries_a_secret_reply_address(
    post: Post,
) -> None:
    await post.invite()

    (letter,) = post.sink.to(DANA)
    assert "Sam" in str(letter["Subject"])
    assert "reply to this email" in text_of(letter).lower()
    assert re.fullmatch(r"tandem\+[\w-]{22}@maple\.example", str(letter["Reply-To"]))
    assert "List-Unsubscribe" in letter
    assert "because Maple Elementary added this address" in text_of(letter)


async def test_replying_to_the_invite_joins_the_team_and_answers_in_the_thread(post: Post) -> None:
    await post.invite()

    mail = await post.reply("Yes please!")

    welcome = post.sink.to(DANA)[-1]
    assert welcome["In-Reply-To"] == mail.message_id
    assert "Sam" in text_of(welcome)
    async with post.school.db.session() as session:
        accounts = (await session.exec(select(Account).where(Account.platform == "email"))).all()
    assert len(accounts) == 1


async def test_a_note_by_reply_is_saved_with_the_chat_grammar(post: Post) -> None:
    await post.invite()
    await post.reply("yes")

    await post.reply("+ Sam read a whole page aloud #reading")

    saved = (await entries(post))[-1]
    assert saved.kind == "win" and "page aloud" in saved.text
    assert saved.source_platform == "email"


async def test_a_forged_from_with_a_valid_key_is_dropped_without_a_word(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    key, before = post.key_of(DANA), len(post.sink.letters)

    await post.reply("+ Sam was sent home", sender="mallory@evil.example", key=key)

    assert len(post.sink.letters) == before
    assert not any("sent home" in entry.text for entry in await entries(post))


async def test_a_valid_from_to_an_unknown_key_is_dropped_without_a_word(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    before = len(post.sink.letters)

    await post.reply("+ Sam was sent home", key="AAAAAAAAAAAAAAAAAAAAAA")

    assert len(post.sink.letters) == before
    assert not any("sent home" in entry.text for entry in await entries(post))


async def test_the_same_mail_twice_is_taken_once(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    mail = await post.reply("+ Sam tied his shoes")
    before = len(post.sink.letters)

    await post.adapter.take(mail)

    assert sum("tied his shoes" in entry.text for entry in await entries(post)) == 1
    assert len(post.sink.letters) == before


async def test_our_own_letter_returned_and_auto_replies_are_ignored(post: Post) -> None:
    await post.invite()
    before = len(post.sink.letters)

    await post.reply("I am out of office", kind=Kind.AUTO_REPLY)
    await post.reply("How was Sam's week?", kind=Kind.OWN)

    assert len(post.sink.letters) == before


async def test_a_reply_with_only_quoted_text_gets_one_kind_answer(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    mail = await post.reply("", kind=Kind.EMPTY)
    await post.adapter.take(mail)

    answers = [each for each in post.sink.to(DANA) if each["In-Reply-To"] == mail.message_id]
    assert len(answers) == 1
    assert "only quoted text" in text_of(answers[0])


async def test_an_oversize_mail_from_a_stranger_gets_no_answer(post: Post) -> None:
    await post.invite()
    before = len(post.sink.letters)

    await post.reply("", sender="stranger@example.org", key="x" * 22, kind=Kind.OVERSIZE)

    assert len(post.sink.letters) == before


async def test_buttons_become_words_to_reply_with_and_such_a_reply_presses_them(
    post: Post,
) -> None:
    await post.invite()
    await post.reply("yes")
    await post.reply("? Sam: may he bring headphones?")  # answered with [Undo]
    letter = post.sink.to(DANA)[-1]
    assert "Reply with one word: UNDO." in text_of(letter)
    assert "<h1>" in html_of(letter) or "<p>" in html_of(letter)
    assert "<table" not in html_of(letter)

    await post.reply("undo")

    assert not any("headphones" in entry.text for entry in await entries(post))


async def test_a_bounce_marks_the_address_unreachable(post: Post) -> None:
    await post.invite()
    await post.reply("yes")

    await post.reply(
        "",
        sender="mailer-daemon@example.org",
        key=None,
        kind=Kind.BOUNCE,
        bounced_addresses=(DANA,),
    )

    async with post.school.db.session() as session:
        account = (await session.exec(select(Account).where(Account.platform == "email"))).one()
    assert not account.active


async def test_a_5xx_for_the_recipient_marks_them_unreachable(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    post.sink.refused.add(DANA)
    async with post.school.db.session() as session:
        account = (await session.exec(select(Account).where(Account.platform == "email"))).one()

    with pytest.raises(RecipientBlocked):
        await post.adapter.deliver(account, Reply("Sam's week"))

    async with post.school.db.session() as session:
        account = (await session.exec(select(Account).where(Account.platform == "email"))).one()
    assert not account.active


async def test_a_4xx_is_left_to_the_outbox_to_retry(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    post.sink.busy_for = 1
    async with post.school.db.session() as session:
        account = (await session.exec(select(Account).where(Account.platform == "email"))).one()

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await post.adapter.deliver(account, Reply("Sam's week"))
    await post.adapter.deliver(account, Reply("Sam's week"))

    assert account.active
    assert "Sam's week" in text_of(post.sink.to(DANA)[-1])


async def test_after_a_rekey_replies_to_older_letters_are_dropped(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    old_key = post.key_of(DANA)
    async with post.school.db.session() as session:
        store = Store(session)
        identity = await store.email.identity_by_address(DANA)
        assert identity is not None
        await email_identity.rekey(store, SECRET, identity)

    await post.reply("+ Sam was sent home", key=old_key)
    await post.adapter.send(str(identity.id), Reply("Sam's week"))
    await post.reply("+ Sam tied his shoes")

    assert post.key_of(DANA) != old_key
    texts = [entry.text for entry in await entries(post)]
    assert not any("sent home" in text for text in texts)
    assert any("tied his shoes" in text for text in texts)
