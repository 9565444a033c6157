"""The terminal adapter behind `tandem demo`: lines in, replies out, buttons by number."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from typing import TextIO

from bot import grammar
from bot.demo import console_id
from bot.dispatch import Dispatcher
from bot.events import Button, ButtonPress, Chat, IncomingMessage, Reply, Sender
from bot.i18n import Translator
from storage.db import Database
from storage.models import Platform
from storage.repo import Repo


class ConsoleChat:
    """One terminal, any number of demo people: `/as NAME` switches who is typing."""

    def __init__(self, dispatcher: Dispatcher, db: Database, out: TextIO,
                 start_as: str, language: str = "en") -> None:
        self.dispatcher = dispatcher
        self.db = db
        self.out = out
        self.t = Translator(language)
        self.me = self._sender(start_as)
        self.buttons: list[Button] = []
        # Event ids must not repeat across runs on the same database file.
        self._run = uuid.uuid4().hex[:8]
        self._count = 0

    @staticmethod
    def _sender(name: str) -> Sender:
        return Sender(Platform.CONSOLE, "", console_id(name), name)

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
        if text.isdecimal() and 1 <= int(text) <= len(self.buttons):
            button = self.buttons[int(text) - 1]
            event = ButtonPress(self.me, self._chat(), button.token, self._event_id())
            self._show(await self.dispatcher.dispatch(event))
            return True
        event_id = self._event_id()
        message = IncomingMessage(self.me, self._chat(), line.rstrip("\n"), event_id,
                                  message_ref=event_id)
        self._show(await self.dispatcher.dispatch(message))
        return True

    def _chat(self) -> Chat:
        return Chat(self.me.external_id, private=True)

    async def _switch(self, name: str) -> None:
        async with self.db.session() as session:
            people = [person.display_name for person, _ in
                      await Repo(session).people_on_platform(Platform.CONSOLE)]
        if not name:
            self._print(self.t("console.people", names=", ".join(people)))
            return
        wanted = grammar.fold(name)
        # A full name (or one with the same console id) is that person, even if it prefixes another.
        matches = [p for p in people
                   if grammar.fold(p) == wanted or console_id(p) == console_id(name)] or \
                  [p for p in people if grammar.fold(p).startswith(wanted)] or \
                  [p for p in people if any(w.startswith(wanted) for w in grammar.fold(p).split())]
        if len(matches) > 1:
            # Several people fit: say who, rather than invent a new person with the typed name.
            self._print(self.t("console.people", names=", ".join(matches)))
            return
        self.buttons = []
        if len(matches) == 1:
            self.me = self._sender(matches[0])
            self._print(self.t("console.now", name=self.me.display_name))
        else:
            self.me = self._sender(" ".join(name.split()))
            self._print(self.t("console.new_person", name=self.me.display_name))

    def _show(self, replies: list[Reply]) -> None:
        self.buttons = [button for reply in replies for button in reply.buttons]
        number = 0
        for reply in replies:
            self._print(reply.text)
            if reply.buttons:
                labels = []
                for button in reply.buttons:
                    number += 1
                    labels.append(f"[{number}] {button.label}")
                self._print("  ".join(labels) + "  " + self.t("console.press_hint"))

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


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
