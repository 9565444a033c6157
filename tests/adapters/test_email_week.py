"""One school week, a teacher on Telegram and a parent only on email.

The real python-telegram-bot (webhook mode) against the fake Bot API; the email adapter against
a real SMTP server (aiosmtpd) and a real IMAP server (Dovecot): the parent's replies are put in
the school's mailbox and read from there, the outbox sender delivers through both platforms.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import col, select

from adapters.bootstrap import build_router
from adapters.email import EmailAdapter
from adapters.email_config import EmailConfig
from adapters.email_invites import invite_by_email
from adapters.telegram import TelegramAdapter
from adapters.telegram_config import TelegramConfig
from bot import invites, jobs
from bot.dispatch import Dispatcher
from bot.sender import OutboxSender
from storage.models import Entry, EntryKind, Role, Setting
from storage.stores import Store
from storage.stores.email import MailboxMemory
from tests.adapters.fake_telegram import BotApiSpec, FakeTelegram, TgUser
from tests.adapters.test_slack_cross_platform import HOOK_PATH, SECRET, TelegramSide
from tests.conftest import DemoSchool
from tests.email_servers import DovecotServer, Mailbox, SmtpServer
from tests.outbox_fakes import VirtualTime

TEACHER = TgUser(7101, "Ana", "Ortiz")
PARENT = "dana@example.org"
KEY = "an email week secret key, long enough for tandem"


@dataclass
class Week:
    school: DemoSchool
    telegram: TelegramSide
    email: EmailAdapter
    smtp: SmtpServer
    dovecot: DovecotServer
    box: Mailbox
    sender: OutboxSender
    replies: int = 0

    def letters(self) -> list[EmailMessage]:
        found = [mail.message for mail in self.smtp.messages if PARENT in mail.recipients]
        return [letter for letter in found if isinstance(letter, EmailMessage)]

    def last_letter(self) -> tuple[EmailMessage, str]:
        letter = self.letters()[-1]
        body = letter.get_body(("plain",))
        assert body is not None
        return letter, str(body.get_content())  # type: ignore[attr-defined]

    async def parent_replies(self, text: str) -> str:
        """The parent answers the last letter; the school's mailbox is read; what they got back."""
        letter, _ = self.last_letter()
        self.replies += 1
        reply = EmailMessage()
        reply["From"] = f"Dana Rivera <{PARENT}>"
        reply["To"] = str(letter["Reply-To"])
        reply["Subject"] = f"Re: {letter['Subject']}"
        reply["Message-ID"] = f"<week-{self.replies}@example.org>"
        reply["In-Reply-To"] = str(letter["Message-ID"])
        reply.set_content(f"{text}\n\nOn Thursday, Tandem wrote:\n> {letter['Subject']}\n")
        before = len(self.letters())
        self.dovecot.deliver(bytes(reply), self.box)
        assert await self.email.inbox.fetch_once(self.email.on_mail, MailboxMemory(self.email.db))
        answers = self.letters()[before:]
        return "\n".join(str(a.get_body(("plain",)).get_content()) for a in answers)  # type: ignore[union-attr]

    async def deliver(self) -> None:
        """The outbox sender delivers what is due, a minute on."""
        self.school.clock.advance(minutes=1)
        await self.sender.drain()

    async def entries(self, kind: EntryKind) -> list[Entry]:
        async with self.school.db.session() as session:
            statement = select(Entry).where(Entry.kind == kind).order_by(col(Entry.id))
            return list((await session.exec(statement)).all())


@pytest.fixture
async def week(
    school: DemoSchool, specs_dir: Path, smtp_server: SmtpServer, dovecot: DovecotServer
) -> AsyncIterator[Week]:
    box = dovecot.add_user()
    email_config = EmailConfig(
        enabled=True,
        from_address="Tandem at Maple <tandem@maple.example>",
        reply_domain="maple.example",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security="none",
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_security="none",
        imap_username=box.username,
        imap_password=box.password,
    )
    fake = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await fake.start()
    telegram_config = TelegramConfig(
        enabled=True,
        token=fake.token,
        mode="webhook",
        base_url=fake.base_url,
        webhook_url=f"https://tandem.invalid{HOOK_PATH}",
        webhook_listen=("127.0.0.1", 0),
        webhook_secret=SECRET,
    )
    base = school.dispatcher.settings
    settings = replace(
        base,
        security=replace(base.security, secret_key=KEY),
        platforms={"telegram": telegram_config, "email": email_config},
    )
    school.dispatcher = Dispatcher(school.db, settings, school.clock, build_router())
    telegram = TelegramAdapter(telegram_config, school.dispatcher, school.db)
    email = EmailAdapter(email_config, school.dispatcher, school.db)
    await telegram.start()
    sender = OutboxSender(
        school.db,
        {"telegram": telegram, "email": email},
        school.clock,
        settings.sender,
        worker="week",
        sleep=VirtualTime(school.clock).sleep,  # the rate limits wait on the test's clock
    )
    try:
        yield Week(school, TelegramSide(fake, telegram), email, smtp_server, dovecot, box, sender)
    finally:
        await email.stop()
        await telegram.stop()
        await fake.stop()
    assert not fake.violations, fake.violations


async def join_teacher(week: Week) -> None:
    said = await week.school.say(week.school.teacher, "/invite Sam teacher")
    code = re.search(r"start[= ]([\w-]+)", said.text)
    assert code, said.text
    await week.telegram.say(TEACHER, f"/start {code.group(1)}")


async def invite_parent(week: Week) -> None:
    async with week.school.db.session() as session:
        store = Store(session)
        settings = week.school.dispatcher.settings
        now = week.school.clock.now()
        school = (await store.students.schools())[0]
        sam = next(s for s in await store.students.in_school(school.id or 0) if "Sam" in s.name)
        new = await invites.create_invite(store, settings, now, school, sam, Role.PARENT, None)
        await invite_by_email(store, settings, new.code, PARENT, sam.name, now)


async def test_a_school_week_with_the_teacher_on_telegram_and_the_parent_on_email(
    week: Week,
) -> None:
    await join_teacher(week)
    await week.telegram.say(TEACHER, "/delivery instant")

    # Monday: the office invites Dana by email; her reply joins Sam's team.
    await invite_parent(week)
    _, text = week.last_letter()
    assert "reply to this email" in text.lower()
    joined = await week.parent_replies("Yes, thank you")
    assert "Welcome" in joined and "Sam" in joined
    assert "each note" in await week.parent_replies("/delivery instant")

    # Tuesday: a note each way.
    await week.telegram.say(TEACHER, "+ Sam read a whole page aloud #reading")
    await week.deliver()
    _, text = week.last_letter()
    assert "read a whole page aloud" in text
    await week.parent_replies("+ Sam read to his sister at bedtime")
    await week.deliver()
    told = week.telegram.fake.sent(TEACHER.id)[-1]["text"]
    assert "read to his sister" in told

    # Wednesday: the teacher asks; Dana answers by replying to the question's letter.
    await week.telegram.say(TEACHER, "? Sam: may he bring his headphones on Friday?")
    await week.deliver()
    _, text = week.last_letter()
    assert "headphones" in text
    await week.parent_replies("Yes, they are in his bag")
    [answer] = await week.entries(EntryKind.ANSWER)
    assert "in his bag" in answer.text
    await week.deliver()
    assert "in his bag" in week.telegram.fake.sent(TEACHER.id)[-1]["text"]

    # Thursday: an urgent note reaches Dana at once; the check-in is answered with one word.
    await week.telegram.say(TEACHER, "! Sam bumped his head at recess, he is fine now")
    await week.deliver()
    _, text = week.last_letter()
    assert "bumped his head" in text
    school_id = (await week.entries(EntryKind.URGENT))[0]
    async with week.school.db.session() as session:
        student = await Store(session).students.get(school_id.student_id)
    assert student is not None
    await jobs.run_checkin(
        week.school.db, week.school.dispatcher.settings, week.school.clock, student.school_id
    )
    await week.deliver()
    _, text = week.last_letter()
    assert re.search(r"Reply with one word: GOOD, MIXED or TOUGH", text)
    await week.parent_replies("Good - he slept well all week")
    notes = await week.entries(EntryKind.NOTE)
    assert any(note.mood == "good" for note in notes)
    assert any("slept well" in note.text for note in notes)

    # Friday: the summary comes by email, as text and HTML.
    await jobs.run_summary(
        week.school.db, week.school.dispatcher.settings, week.school.clock, student.school_id
    )
    await week.deliver()
    letter, text = week.last_letter()
    assert "read a whole page aloud" in text
    html = letter.get_body(("html",))
    assert html is not None and "<table" not in str(html.get_content())  # type: ignore[attr-defined]


async def run_checkin_for_sam(week: Week) -> None:
    async with week.school.db.session() as session:
        school = (await Store(session).students.schools())[0]
    assert school.id is not None
    await jobs.run_checkin(
        week.school.db, week.school.dispatcher.settings, week.school.clock, school.id
    )
    await week.deliver()


async def test_a_reply_to_the_check_in_without_a_mood_word_is_its_home_note(week: Week) -> None:
    await invite_parent(week)
    await week.parent_replies("Yes, thank you")
    await run_checkin_for_sam(week)
    _, text = week.last_letter()
    assert "GOOD, MIXED or TOUGH" in text

    answer = await week.parent_replies("He slept badly on Monday but loved the library trip")

    assert "Added to Sam Rivera's check-in" in answer
    assert "what kind" not in answer.lower()
    [note] = await week.entries(EntryKind.NOTE)
    assert note.text == "He slept badly on Monday but loved the library trip"
    assert (note.setting, note.mood) == (Setting.HOME, None)


async def test_a_reply_to_a_question_letter_answers_it_and_is_no_note(week: Week) -> None:
    await join_teacher(week)
    await invite_parent(week)
    await week.parent_replies("Yes, thank you")
    await week.telegram.say(TEACHER, "? Sam: may he bring his headphones on Friday?")
    await week.deliver()

    await week.parent_replies("Yes please, they are in his bag")

    [answer] = await week.entries(EntryKind.ANSWER)
    assert answer.text == "Yes please, they are in his bag"
    assert await week.entries(EntryKind.NOTE) == []
