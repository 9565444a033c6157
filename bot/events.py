"""What adapters hand the core, and what the core hands back: frozen, platform-free values."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from storage.models import Platform

__all__ = [
    "Attachment",
    "Button",
    "ButtonPress",
    "Chat",
    "Event",
    "IncomingMessage",
    "MessageEdited",
    "Outgoing",
    "Platform",
    "RecipientBlocked",
    "Reply",
    "Sender",
]


@dataclass(frozen=True)
class Sender:
    """Who wrote, by platform id: never by username or display name."""

    platform: Platform
    workspace: str
    external_id: str
    display_name: str = ""
    language_hint: str | None = None


@dataclass(frozen=True)
class Chat:
    id: str
    private: bool = True


@dataclass(frozen=True)
class IncomingMessage:
    sender: Sender
    chat: Chat
    text: str
    event_id: str
    # The platform's id of this message, so a later edit finds the entry it made.
    message_ref: str = ""
    # The platform's id of the message this one replies to (Telegram reply, Slack thread).
    reply_to_ref: str | None = None
    # A photo or file the platform keeps; we store its reference, never the bytes.
    attachment_ref: str | None = None


@dataclass(frozen=True)
class MessageEdited:
    sender: Sender
    chat: Chat
    text: str
    event_id: str
    message_ref: str


@dataclass(frozen=True)
class ButtonPress:
    sender: Sender
    chat: Chat
    token: str
    event_id: str


Event = IncomingMessage | MessageEdited | ButtonPress


@dataclass(frozen=True)
class Button:
    label: str
    token: str


@dataclass(frozen=True)
class Attachment:
    """A file the core made (a chart, a report), sent before the reply's text."""

    data: bytes
    filename: str
    alt: str  # the file's content in words, for a screen reader and a caption
    mime: str = "image/png"

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


@dataclass(frozen=True)
class Reply:
    """One message to the sender; `replaces` edits the message whose button was pressed."""

    text: str
    buttons: tuple[Button, ...] = field(default=())
    replaces: bool = False
    attachment: Attachment | None = None
    # The replies made in its place once the event's transaction has committed (charts, a
    # PDF): reading what they show and drawing it must hold no database lock, or a burst of
    # /progress would hold up every note behind it.
    finish: Callable[[], Awaitable[list[Reply]]] | None = field(
        default=None, compare=False, repr=False
    )

    def with_buttons(self, *buttons: Button | None) -> Reply:
        return replace(self, buttons=self.buttons + tuple(b for b in buttons if b is not None))

    async def finished(self) -> list[Reply]:
        """The replies as they are sent: made now if they waited for the transaction."""
        return await self.finish() if self.finish is not None else [self]

    def replacing(self) -> Reply:
        """The same reply, shown in place of the message whose button was pressed."""
        return replace(self, replaces=True)


@dataclass(frozen=True)
class Outgoing:
    """A message to someone other than the sender, delivered through the outbox."""

    person_id: int
    reply: Reply


class RecipientBlocked(Exception):
    """The platform refuses to deliver to this chat for good (the person blocked the bot).

    The adapter has already marked the account inactive; retrying will not help.
    """

    def __init__(self, chat_id: str) -> None:
        super().__init__(chat_id)
        self.chat_id = chat_id
