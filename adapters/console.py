"""The terminal adapter behind `tandem demo`: lines in, replies out, buttons by number."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from adapters.bootstrap import Tandem
from adapters.console_mail import ConsoleMailbox, MailReader
from adapters.private_file import write_private
from bot import grammar, jobs
from bot.context import Clock
from bot.demo import DEMO_EMAIL_PARENT, DEMO_PEOPLE, DEMO_SCHOOL, console_id, seed_demo
from bot.dispatch import Dispatcher
from bot.events import Attachment, Button, ButtonPress, Chat, IncomingMessage, Reply, Sender
from bot.i18n import Translator, translate
from bot.outbox import Composer
from bot.sender import OutboxSender
from bot.week_charts import WeekCharts
from storage.db import Database
from storage.models import Account, Platform
from storage.stores import Store


class ConsoleInbox:
    """The outbox's console transport: prints each letter; the reader can answer it later."""

    def __init__(self, chat: ConsoleChat) -> None:
        self.chat = chat
        self.waiting: dict[str, list[Reply]] = defaultdict(list)
        self.names: dict[str, str] = {}
        self._count = 0

    async def deliver(self, account: Account, reply: Reply) -> str:
        self._count += 1
        self.chat.show_letter(
            account.external_id, self.names.get(account.external_id, account.external_id), reply
        )
        return f"letter:{self._count}"


class _Later:
    """The demo's "run it now": letters held for quiet hours are due too."""

    def __init__(self, clock: Clock, ahead: timedelta) -> None:
        self.clock, self.ahead = clock, ahead

    def now(self) -> datetime:
        return self.clock.now() + self.ahead


class ConsoleChat:
    """One terminal, any number of demo people: `/as NAME` switches who is typing."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        db: Database,
        out: TextIO,
        start_as: str,
        language: str = "en",
        school: str = DEMO_SCHOOL,
        files: Path = Path("tandem-files"),
        composer: Composer | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.db = db
        self.out = out
        self.language = language  # the school's, for people the demo does not know yet
        self.t = Translator(language)
        self.me = self._sender(start_as)
        self.buttons: list[Button] = []
        self.school = school
        self.files = (
            files  # where charts and reports are written, since a terminal shows no picture
        )
        self.inbox = ConsoleInbox(self)
        self.mailbox = ConsoleMailbox(lambda: self.dispatcher.clock.now(), self.show_mail)
        # Draws the weekly summary's pictures as their letters are shown.
        self.composer = composer if composer is not None else WeekCharts(db)
        # Event ids must not repeat across runs on the same database file.
        self._run = uuid.uuid4().hex[:8]
        self._count = 0

    @staticmethod
    def _sender(name: str, platform: Platform = Platform.CONSOLE) -> Sender:
        return Sender(platform, "", console_id(name), name)

    def _event_id(self) -> str:
        self._count += 1
        return f"console:{self._run}:{self._count}"

    def prompt(self) -> str:
        return self.t("console.prompt", name=self.me.display_name)

    async def handle_line(self, line: str) -> bool:
        """Act on one typed line; False when the user asked to leave."""
        text = line.strip()
        if text in ("/quit", "/exit"):
            self._print(self.t("console.bye"))
            return False
        if text == "/as" or text.startswith("/as "):
            await self._switch(text[3:].strip())
            return True
        if text == "/tick" or text.startswith("/tick "):
            await self._tick(text[5:].strip())
            return True
        if self.me.platform == Platform.EMAIL:
            await self._reply_by_mail(line.rstrip("\n"))
        elif text.isdecimal() and 1 <= int(text) <= len(self.buttons):
            button = self.buttons[int(text) - 1]
            event = ButtonPress(self.me, self._chat(), button.token, self._event_id())
            self._show(await self.dispatcher.dispatch(event))
        else:
            event_id = self._event_id()
            message = IncomingMessage(
                self.me, self._chat(), line.rstrip("\n"), event_id, message_ref=event_id
            )
            self._show(await self.dispatcher.dispatch(message))
        await self.deliver(self.dispatcher.clock)
        return True

    async def _reply_by_mail(self, text: str) -> None:
        """The email parent's reply to her last letter; Tandem's answers come as letters."""
        event_id = self._event_id()
        thread = self.mailbox.last.get(self.me.external_id, ("", []))[0] or None
        for event in self.mailbox.events(self.me, self._chat(), text, event_id):
            for reply in await self.dispatcher.dispatch(event):
                self.mailbox.letter(self.me.external_id, reply, thread)

    async def _tick(self, job: str) -> None:
        """`/tick checkin`, `/tick summary`: run a weekly job now and show who receives what."""
        settings, clock = self.dispatcher.settings, self.dispatcher.clock
        if job not in ("checkin", "summary", ""):
            self._print(self.t("console.tick_usage"))
            return
        async with self.db.session() as session:
            school = await Store(session).students.school_named(self.school)
        if school is None or school.id is None:
            return
        if job:
            report = (
                await jobs.run_checkin(self.db, settings, clock, school.id)
                if job == "checkin"
                else await jobs.run_summary(
                    self.db, settings, clock, school.id, self.dispatcher.notes
                )
            )
            if report.skipped:
                self._print(self.t("console.tick_skipped", why=report.skipped))
        if not await self.deliver(_Later(clock, timedelta(days=1))):
            self._print(self.t("console.tick_nothing"))

    async def deliver(self, clock: Clock) -> int:
        """Send what the outbox holds for console people (other platforms are not here)."""
        async with self.db.session() as session:
            store = Store(session)
            self.inbox.names = {
                account.external_id: person.display_name
                for person, account in await store.people.on_platform(Platform.CONSOLE)
            }
            self.mailbox.readers = {
                account.external_id: _reader(person.display_name, person.language)
                for person, account in await store.people.on_platform(Platform.EMAIL)
            }
        sender = OutboxSender(
            self.db,
            {Platform.CONSOLE: self.inbox, Platform.EMAIL: self.mailbox},
            clock,
            self.dispatcher.settings.sender,
            worker=f"console:{self._run}",
            composer=self.composer,
        )
        return (await sender.drain()).sent

    def show_letter(self, external_id: str, name: str, reply: Reply) -> None:
        """A delivered letter: pressable now if it is for the typist, else kept for `/as`."""
        self._print(self.t("console.letter", name=name))
        if external_id == self.me.external_id:
            self._show([reply], keep=True)
            return
        self.inbox.waiting[external_id].append(reply)
        if reply.attachment is not None:
            self._save(reply.attachment)
        self._print(reply.text)
        if reply.buttons:
            self._print(
                "  ".join(f"[{button.label}]" for button in reply.buttons)
                + "  "
                + self.t("console.answer_hint", name=name)
            )

    def show_mail(self, external_id: str, letter: str) -> None:
        """A letter to the email parent: shown now if she is typing, else kept for `/as`."""
        reader = self.mailbox.readers.get(external_id)
        name = reader.name if reader else external_id
        if external_id == self.me.external_id:
            self._print(letter)
            return
        self._print(self.t("console.letter", name=name))
        self._print(letter)
        self._print(self.t("console.answer_hint", name=name))
        self.mailbox.waiting[external_id].append(letter)

    def _chat(self) -> Chat:
        return Chat(self.me.external_id, private=True)

    async def _switch(self, name: str) -> None:
        async with self.db.session() as session:
            store = Store(session)
            known = [
                (person, platform)
                for platform in (Platform.CONSOLE, Platform.EMAIL)
                for person, _ in await store.people.on_platform(platform)
            ]
        languages = {person.display_name: person.language for person, _ in known}
        platforms = {person.display_name: platform for person, platform in known}
        people = list(languages)
        if not name:
            self._print(self.t("console.people", names=", ".join(people)))
            return
        wanted = grammar.fold(name)
        # A full name (or one with the same console id) is that person, even if it prefixes another.
        matches = (
            [p for p in people if grammar.fold(p) == wanted or console_id(p) == console_id(name)]
            or [p for p in people if grammar.fold(p).startswith(wanted)]
            or [p for p in people if any(w.startswith(wanted) for w in grammar.fold(p).split())]
        )
        if len(matches) > 1:
            # Several people fit: say who, rather than invent a new person with the typed name.
            self._print(self.t("console.people", names=", ".join(matches)))
            return
        self.buttons = []
        if len(matches) == 1:
            self.me = self._sender(matches[0], platforms[matches[0]])
            # The demo's own lines follow the typist too, as the bot's replies do.
            self.t = Translator(languages[matches[0]])
            self._print(self.t("console.now", name=self.me.display_name))
            if self.me.platform == Platform.EMAIL:
                self._print(self.t("console.mail_hint"))
                mail = self.mailbox.waiting.pop(self.me.external_id, [])
                if mail:
                    self._print(self.t("console.waiting", count=len(mail)))
                    self._print("\n".join(mail))
        else:
            self.me = self._sender(" ".join(name.split()))
            self.t = Translator(self.language)
            self._print(self.t("console.new_person", name=self.me.display_name))
        waiting = self.inbox.waiting.pop(self.me.external_id, [])
        if waiting:
            self._print(self.t("console.waiting", count=len(waiting)))
            self._show(waiting, keep=True)

    def _show(self, replies: list[Reply], keep: bool = False) -> None:
        """Print replies; their buttons get the next numbers (a fresh list unless `keep`)."""
        if not keep:
            self.buttons = []
        for reply in replies:
            if reply.attachment is not None:
                self._save(reply.attachment)
            self._print(reply.text)
            if reply.buttons:
                labels = []
                for button in reply.buttons:
                    self.buttons.append(button)
                    labels.append(f"[{len(self.buttons)}] {button.label}")
                self._print("  ".join(labels) + "  " + self.t("console.press_hint"))

    def _save(self, attachment: Attachment) -> None:
        """Write a chart or a report for the reader to open; print where it is."""
        self._count += 1
        self.files.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.files / f"{self._run}-{self._count}-{attachment.filename}"
        write_private(path, attachment.data, overwrite=True)
        self._print(self.t("console.file_saved", path=str(path)))

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def _reader(name: str, language: str) -> MailReader:
    demo = DEMO_EMAIL_PARENT
    if name == demo.name:
        return MailReader(name, demo.email, language, (demo.role.value,))
    return MailReader(name, f"{console_id(name)}@example.org", language)


async def typed_lines(chat: ConsoleChat, source: TextIO = sys.stdin) -> AsyncIterator[str]:
    """Lines from a person at a terminal, or from a script piped in (echoed, so output reads)."""
    interactive = source.isatty()
    while True:
        if interactive:
            try:
                line = await asyncio.to_thread(input, chat.prompt())
            except EOFError:
                return
        else:
            line = await asyncio.to_thread(source.readline)
            if not line:
                return
            chat.out.write(chat.prompt() + line.rstrip("\n") + "\n")
        yield line


async def run_console(chat: ConsoleChat, source: TextIO = sys.stdin) -> None:
    async for line in typed_lines(chat, source):
        if not line.strip():
            continue
        if not await chat.handle_line(line):
            return


async def run_demo(tandem: Tandem, out: TextIO = sys.stdout, source: TextIO = sys.stdin) -> None:
    """`tandem demo`: the demo school (seeded once), then a chat as its teacher until /quit."""
    settings = tandem.settings
    async with tandem.db.session() as session:
        await seed_demo(Store(session), settings.school.timezone, email=True)
    chat = ConsoleChat(
        tandem.dispatcher,
        tandem.db,
        out,
        DEMO_PEOPLE[0].name,
        settings.school.language,
        composer=tandem.charts,
    )
    chat._print(
        translate(
            settings.school.language, "console.intro", school=DEMO_SCHOOL, name=chat.me.display_name
        )
    )
    await run_console(chat, source)
