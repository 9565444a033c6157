"""The command and prefix registry: which handler answers which message or button."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.buttons import Checked, Payload
from bot.context import Context
from bot.events import ButtonPress, IncomingMessage, MessageEdited, Reply

P = TypeVar("P", bound=Payload)

# A command or prefix handler gets the text after the command word or prefix character.
MessageHandler = Callable[[IncomingMessage, Context, str], Awaitable[list[Reply]]]
# A button handler gets the press and what the button means (bot.buttons), re-checked.
ButtonHandler = Callable[[ButtonPress, Context, Checked[P]], Awaitable[list[Reply]]]
EditHandler = Callable[[MessageEdited, Context], Awaitable[list[Reply]]]
# A reply to one of our messages; None when that message means nothing to it.
ThreadHandler = Callable[[IncomingMessage, Context, str], Awaitable[list[Reply] | None]]
# Free text that answers something we asked (a check-in's "anything to add?").
FollowUpHandler = Callable[[IncomingMessage, Context, str, Checked[P]], Awaitable[list[Reply]]]


@dataclass
class Router:
    """Which handler answers which command, prefix, button or text; handler modules fill it
    with their `register(router)`."""

    commands: dict[str, MessageHandler] = field(default_factory=dict)
    prefixes: dict[str, MessageHandler] = field(default_factory=dict)
    # Keyed by button kind; each handler takes that kind's payload.
    buttons: dict[type[Payload], ButtonHandler[Any]] = field(default_factory=dict)
    plain_text: MessageHandler | None = None
    edit: EditHandler | None = None
    thread: ThreadHandler | None = None
    follow_ups: dict[type[Payload], FollowUpHandler[Any]] = field(default_factory=dict)
    # Commands an unknown (not yet joined) sender may use.
    open_commands: set[str] = field(default_factory=set)
    # Commands that draw a picture or lay out a PDF (/progress, /report): a few at a time.
    drawing_commands: set[str] = field(default_factory=set)

    def command(
        self,
        name: str,
        handler: MessageHandler,
        *,
        open_to_strangers: bool = False,
        draws: bool = False,
    ) -> None:
        """`/name ARGS` goes to `handler`; `open_to_strangers` lets a sender who has not joined
        use it; `draws` marks a command whose replies are drawn (see `Dispatcher`)."""
        self._claim(self.commands, name, f"/{name}")
        self.commands[name] = handler
        if open_to_strangers:
            self.open_commands.add(name)
        if draws:
            self.drawing_commands.add(name)

    def prefix(self, char: str, handler: MessageHandler) -> None:
        """A message that starts with `char` goes to `handler`, with the rest of the text."""
        self._claim(self.prefixes, char, f"the prefix {char!r}")
        self.prefixes[char] = handler

    def button(self, kind: type[P], handler: ButtonHandler[P]) -> None:
        """A press of a button of this kind (a bot.buttons dataclass)."""
        self._claim(self.buttons, kind, f"the button {kind.action!r}")
        self.buttons[kind] = handler

    def follow_up(self, kind: type[P], handler: FollowUpHandler[P]) -> None:
        """The free text that answers a pending action of this kind (a check-in's "anything
        to add?")."""
        self._claim(self.follow_ups, kind, f"the follow-up {kind.action!r}")
        self.follow_ups[kind] = handler

    @property
    def follow_up_actions(self) -> tuple[str, ...]:
        """The stored names of the kinds a person's next free text may answer."""
        return tuple(kind.action for kind in self.follow_ups)

    def text(self, handler: MessageHandler) -> None:
        """Plain text that is no command, prefix, thread reply or awaited follow-up."""
        self._claim_one(self.plain_text, "plain text")
        self.plain_text = handler

    def edited(self, handler: EditHandler) -> None:
        """An edit of a message the sender sent before."""
        self._claim_one(self.edit, "edited messages")
        self.edit = handler

    def replied(self, handler: ThreadHandler) -> None:
        """A reply (Telegram reply, Slack thread) to one of our messages."""
        self._claim_one(self.thread, "thread replies")
        self.thread = handler

    # Two modules answering the same thing would be decided by the order of the list in the
    # composition root: refuse it when the router is built instead.
    @staticmethod
    def _claim(taken: Mapping[Any, object], key: object, what: str) -> None:
        if key in taken:
            raise ValueError(f"{what} is registered twice")

    @staticmethod
    def _claim_one(taken: object, what: str) -> None:
        if taken is not None:
            raise ValueError(f"{what} has a handler already")


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
