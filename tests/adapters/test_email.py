"""Email as a platform, against a real SMTP server (aiosmtpd): invites joined by reply, notes
both ways, buttons as reply words, and the mails that must be dropped or answered kindly."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from email.message import EmailMessage, Message

import aiosmtplib
import pytest
from sqlmodel import col, select

from adapters import email_identity
from adapters.bootstrap import build_router
from adapters.email import EmailAdapter
from adapters.email_invites import send_from_cli
from bot import invites
from bot.dispatch import Dispatcher
from bot.events import RecipientBlocked, Reply
from bot.outbox import Letter, enqueue
from bot.sender import OutboxSender
from storage.models import Account, Entry, Outbox, Role
from storage.stores import Store
from tests.adapters.smtp_sink import SmtpSink, html_of, start_sink, text_of
from tests.conftest import DemoSchool
from tests.outbox_fakes import VirtualTime

DANA = "dana@example.org"
SECRET = "an email test secret key, 32 characters or more"


def raw_mail(
    text: str,
    *,
    sender: str,
    to: str,
    message_id: str,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A letter as a mail program would send it."""
    mail = EmailMessage()
    mail["From"] = f"Someone <{sender}>"
    mail["To"] = to
    mail["Subject"] = "Re: Tandem"
    mail["Message-ID"] = message_id
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(text)
    return bytes(mail)


def bounce_for(address: str, returned: str | None = None, *, headers_only: bool = False) -> bytes:
    """A delivery report (DSN) saying `address` does not exist, with the returned letter (its
    Message-ID `returned`) as a whole copy or as its headers alone."""
    report = EmailMessage()
    report["From"] = "Mail Delivery System <MAILER-DAEMON@example.org>"
    report["To"] = "tandem@maple.example"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = "<dsn-1@example.org>"
    report.set_type("multipart/report")
    report.set_param("report-type", "delivery-status")
    report.set_boundary("dsn-boundary")
    notice = EmailMessage()
    notice.set_content("Your letter could not be delivered.")
    status = Message()
    status.set_type("message/delivery-status")
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; mx.example.org"
    per_recipient["Final-Recipient"] = f"rfc822; {address}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.1.1"
    status.set_payload([per_message, per_recipient])
    parts = [notice, status]
    if returned is not None:
        original = EmailMessage()
        original["From"] = "tandem@maple.example"
        original["To"] = address
        original["Message-ID"] = returned
        original.set_content("The letter that came back.")
        copy = Message()
        if headers_only:
            copy.set_type("text/rfc822-headers")
            copy.set_payload(str(original).split("\n\n", 1)[0] + "\n")
        else:
            copy.set_type("message/rfc822")
            copy.set_payload([original])
        parts.append(copy)
    report.set_payload(parts)
    return bytes(report)


@dataclass
class Post:
    """The school's mail: the SMTP server's letters and the adapter that sends and takes."""

    sink: SmtpSink
    adapter: EmailAdapter
    school: DemoSchool
    count: int = 0
    last_raw: bytes = b""

    def key_of(self, address: str) -> str:
        letter = self.sink.to(address)[-1]
        found = re.fullmatch(r"tandem\+([\w-]+)@maple\.example", str(letter["Reply-To"]))
        assert found, letter["Reply-To"]
        return found.group(1)

    async def reply(
        self,
        text: str,
        *,
        sender: str = DANA,
        key: str | None = "mine",
        headers: dict[str, str] | None = None,
    ) -> str:
        """`sender` replies to the last letter they got; the reply's Message-ID."""
        self.count += 1
        last = self.sink.to(sender)[-1] if self.sink.to(sender) else None
        reply_key = self.key_of(sender) if key == "mine" else key
        message_id = f"<reply-{self.count}@example.org>"
        raw = raw_mail(
            text,
            sender=sender,
            to=f"tandem+{reply_key}@maple.example" if reply_key else "tandem@maple.example",
            message_id=message_id,
            in_reply_to=str(last["Message-ID"]) if last is not None else None,
            headers=headers,
        )
        self.last_raw = raw
        await self.take(raw)
        return message_id

    async def take(self, raw: bytes) -> None:
        self.count += 1
        await self.adapter.on_mail(self.count, raw)

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
            await send_from_cli(store, settings, new, address, pupil, now)


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
    why = (
        "because Maple Elementary (demo) added this address to a student's team in Tandem"
        " (your role: parent)"
    )
    assert why in text_of(letter)


async def test_replying_to_the_invite_joins_the_team_and_answers_in_the_thread(post: Post) -> None:
    await post.invite()

    message_id = await post.reply("Yes please!")

    welcome = post.sink.to(DANA)[-1]
    assert welcome["In-Reply-To"] == message_id
    assert "Sam" in text_of(welcome)
    assert "Maple Elementary (demo) added this address" in text_of(welcome)
    assert "(your role: parent)" in text_of(welcome)
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
    await post.reply("+ Sam tied his shoes")
    before = len(post.sink.letters)

    await post.take(post.last_raw)

    assert sum("tied his shoes" in entry.text for entry in await entries(post)) == 1
    assert len(post.sink.letters) == before


async def test_our_own_letter_returned_and_auto_replies_are_ignored(post: Post) -> None:
    await post.invite()
    before = len(post.sink.letters)

    await post.reply("I am away until Monday.", headers={"Auto-Submitted": "auto-replied"})
    await post.take(bytes(post.sink.to(DANA)[-1]))

    assert len(post.sink.letters) == before


async def test_a_reply_with_only_quoted_text_gets_one_kind_answer(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    message_id = await post.reply("On Monday, Tandem wrote:\n> How was Sam's week?\n")
    await post.take(post.last_raw)

    answers = [each for each in post.sink.to(DANA) if each["In-Reply-To"] == message_id]
    assert len(answers) == 1
    assert "only quoted text" in text_of(answers[0])


async def test_an_oversize_mail_from_a_stranger_gets_no_answer(post: Post) -> None:
    await post.invite()
    before = len(post.sink.letters)

    await post.reply("x" * (21 * 1024 * 1024), sender="stranger@example.org", key="x" * 22)

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


async def email_account_active(post: Post) -> bool:
    async with post.school.db.session() as session:
        account = (await session.exec(select(Account).where(Account.platform == "email"))).one()
    return account.active


@pytest.mark.parametrize("headers_only", [False, True])
async def test_a_bounce_of_our_letter_marks_the_address_unreachable(
    post: Post, headers_only: bool
) -> None:
    await post.invite()
    await post.reply("yes")
    ours = str(post.sink.to(DANA)[-1]["Message-ID"])

    await post.take(bounce_for(DANA, ours, headers_only=headers_only))

    assert not await email_account_active(post)


async def test_a_bounce_quoting_no_letter_of_ours_is_ignored(
    post: Post, caplog: pytest.LogCaptureFixture
) -> None:
    await post.invite()
    await post.reply("yes")

    caplog.set_level(logging.INFO, logger="adapters.email")
    await post.take(bounce_for(DANA))  # anyone can write this
    await post.take(bounce_for(DANA, "<made-up@tandem.maple.example>"))

    assert await email_account_active(post)
    assert "1 without a letter of ours (ignored)" in caplog.text


async def test_a_bounce_quoting_our_letter_to_someone_else_is_ignored(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    await post.invite("lee@example.org")
    to_lee = str(post.sink.to("lee@example.org")[-1]["Message-ID"])

    await post.take(bounce_for(DANA, to_lee))

    assert await email_account_active(post)


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


async def test_an_oversize_mail_from_a_family_gets_a_kind_answer_and_no_note(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    before = len(await entries(post))

    message_id = await post.reply("+ Sam " + "x" * (21 * 1024 * 1024))

    (answer,) = [each for each in post.sink.to(DANA) if each["In-Reply-To"] == message_id]
    assert "too large" in text_of(answer)
    assert len(await entries(post)) == before


async def test_stop_ends_the_letters_with_one_goodbye(post: Post) -> None:
    await post.invite()
    await post.reply("yes")

    await post.reply("STOP")

    assert "no more email" in text_of(post.sink.to(DANA)[-1])
    async with post.school.db.session() as session:
        account = (await session.exec(select(Account).where(Account.platform == "email"))).one()
    assert not account.active


async def test_letters_the_smtp_server_refuses_for_a_while_are_retried_and_none_lost(
    post: Post,
) -> None:
    await post.invite()
    await post.reply("yes")
    async with post.school.db.session() as session:
        store = Store(session)
        account = (await session.exec(select(Account).where(Account.platform == "email"))).one()
        for number in range(3):
            await enqueue(
                store,
                Letter(
                    f"bench:{number}",
                    account.person_id,
                    "note",
                    Reply(f"Letter {number}"),
                    post.school.clock.now(),
                ),
            )
    post.sink.busy_for = 2  # the first two letters are answered 451
    time = VirtualTime(post.school.clock)
    settings = post.adapter.dispatcher.settings
    sender = OutboxSender(
        post.school.db,
        {"email": post.adapter},
        post.school.clock,
        settings.sender,
        worker="test",
        sleep=time.sleep,
    )

    report = await sender.drain()

    assert (report.sent, report.retried, report.dead) == (3, 2, 0)
    subjects = sorted(str(letter["Subject"]) for letter in post.sink.to(DANA)[2:])
    assert subjects == ["Letter 0", "Letter 1", "Letter 2"]


async def test_a_bounce_tells_the_admins_once(post: Post) -> None:
    await post.invite()
    await post.reply("yes")

    ours = str(post.sink.to(DANA)[-1]["Message-ID"])
    await post.take(bounce_for(DANA, ours))
    await post.take(bounce_for(DANA, ours))

    async with post.school.db.session() as session:
        rows = (await session.exec(select(Outbox).where(col(Outbox.kind) == "blocked"))).all()
    assert len(rows) == 1  # Ms. Ortiz, the demo school's one admin
    told = rows[0].payload["text"]
    assert "by email" in told and "blocked the bot" not in told and "/start" not in told


async def test_delivery_email_sends_letters_by_email_to_someone_also_on_another_platform(
    post: Post,
) -> None:
    school = post.school
    async with school.db.session() as session:
        store = Store(session)
        teacher = await store.people.account("console", "", school.teacher.external_id)
        assert teacher is not None
        person = await store.people.get(teacher.person_id)
        assert person is not None
        mailbox = await email_identity.enrol(
            store, SECRET, "ortiz@maple.example", school.clock.now()
        )
        await store.people.add_account(person, "email", "", str(mailbox.id), str(mailbox.id))

    refused = await school.say(school.teacher, "/delivery slack")
    chosen = await school.say(school.teacher, "/delivery email")

    assert "no slack account" in refused.text
    assert "come by email" in chosen.text
    async with school.db.session() as session:
        store = Store(session)
        account = await store.people.delivery_account(teacher.person_id)
        school_row = await store.students.school_named("Maple Elementary (demo)")
        weekly = await store.weekly.accounts(school_row.id if school_row else 0)
    assert account is not None and account.platform == "email"
    assert weekly[teacher.person_id].platform == "email"


async def test_a_note_after_stop_is_kept_and_the_inbox_moves_on(post: Post) -> None:
    await post.invite()
    await post.reply("yes")
    await post.reply("STOP")
    before = len(post.sink.letters)

    await post.reply("+ Sam slept well")  # must not raise: the inbox would take it again

    assert any("slept well" in entry.text for entry in await entries(post))
    assert len(post.sink.letters) == before
