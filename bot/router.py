"""The command and prefix registry: which handler answers which message or button."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.context import Context
from bot.events import ButtonPress, IncomingMessage, MessageEdited, Reply
from storage.models import PendingAction

# A command or prefix handler gets the text after the command word or prefix character.
MessageHandler = Callable[[IncomingMessage, Context, str], Awaitable[list[Reply]]]
ButtonHandler = Callable[[ButtonPress, Context, PendingAction], Awaitable[list[Reply]]]
EditHandler = Callable[[MessageEdited, Context], Awaitable[list[Reply]]]
# A reply to one of our messages; None when that message means nothing to it.
ThreadHandler = Callable[[IncomingMessage, Context, str], Awaitable[list[Reply] | None]]
# Free text that answers something we asked (a check-in's "anything to add?").
FollowUpHandler = Callable[[IncomingMessage, Context, str, PendingAction], Awaitable[list[Reply]]]


@dataclass
class Router:
    commands: dict[str, MessageHandler] = field(default_factory=dict)
    prefixes: dict[str, MessageHandler] = field(default_factory=dict)
    buttons: dict[str, ButtonHandler] = field(default_factory=dict)
    plain_text: MessageHandler | None = None
    edit: EditHandler | None = None
    thread: ThreadHandler | None = None
    follow_ups: dict[str, FollowUpHandler] = field(default_factory=dict)
    # Commands an unknown (not yet joined) sender may use.
    open_commands: set[str] = field(default_factory=set)

    def command(
        self, *names: str, open_to_strangers: bool = False
    ) -> Callable[[MessageHandler], MessageHandler]:
        def register(handler: MessageHandler) -> MessageHandler:
            for name in names:
                self.commands[name] = handler
                if open_to_strangers:
                    self.open_commands.add(name)
            return handler

        return register

    def prefix(self, char: str, handler: MessageHandler) -> None:
        self.prefixes[char] = handler

    def button(self, action: str) -> Callable[[ButtonHandler], ButtonHandler]:
        def register(handler: ButtonHandler) -> ButtonHandler:
            self.buttons[action] = handler
            return handler

        return register

    def text(self, handler: MessageHandler) -> MessageHandler:
        self.plain_text = handler
        return handler

    def edited(self, handler: EditHandler) -> EditHandler:
        self.edit = handler
        return handler

    def replied(self, handler: ThreadHandler) -> ThreadHandler:
        self.thread = handler
        return handler

    def follow_up(self, action: str) -> Callable[[FollowUpHandler], FollowUpHandler]:
        def register(handler: FollowUpHandler) -> FollowUpHandler:
            self.follow_ups[action] = handler
            return handler

        return register


def split_command(text: str) -> tuple[str, str] | None:
    """`/log@TandemBot Sam 5` -> ("log", "Sam 5"); None if the text is not a command."""
    if not text.startswith("/") or len(text) < 2 or text[1].isspace():
        return None
    word, _, rest = text[1:].partition(" ")
    first_line, newline, more = word.partition("\n")
    if newline:
        rest = f"{more} {rest}".strip()
    name = first_line.split("@", 1)[0].casefold()
    return name, rest.strip()


router = Router()
