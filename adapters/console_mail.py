"""The demo's email parent: letters shown as the text a mail program would show (subject, the
text part with its reply instructions), and what they type taken as their reply to the last one,
the way adapters/email.py reads a reply (its first word may name a button)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from adapters.email_letters import Draft, Envelope, compose, pressed, reply_words
from bot.demo import DEMO_SCHOOL
from bot.events import ButtonPress, Chat, Event, IncomingMessage, Reply, Sender
from bot.i18n import Translator
from storage.models import Account

DOMAIN = "tandem.maple.example"  # the demo's Message-IDs


@dataclass(frozen=True)
class MailReader:
    """Someone in the demo who reads Tandem by email."""

    name: str
    address: str
    language: str
    roles: tuple[str, ...] = ()


@dataclass
class ConsoleMailbox:
    """The outbox's email transport in the demo: composes the real letter, prints its text."""

    now: Callable[[], datetime]
    show: Callable[[str, str], None]  # (external id, the letter as text)
    readers: dict[str, MailReader] = field(default_factory=dict)
    # The last letter each reader got: its Message-ID and reply words with their tokens.
    last: dict[str, tuple[str, list[list[str]]]] = field(default_factory=dict)
    waiting: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    async def deliver(self, account: Account, reply: Reply) -> str:
        return self.letter(account.external_id, reply)

    def letter(self, external_id: str, reply: Reply, thread: str | None = None) -> str:
        """Compose the letter, remember its reply words, show it; its Message-ID."""
        reader = self.readers.get(external_id) or MailReader(
            external_id, f"{external_id}@example.org", "en"
        )
        envelope = Envelope(
            to=reader.address,
            from_address=f"Tandem <tandem@{DOMAIN}>",
            reply_to=f"tandem+demo@{DOMAIN}",
            school=DEMO_SCHOOL,
            language=reader.language,
            roles=reader.roles,
            in_reply_to=thread,
        )
        draft = Draft(reply.text, reply.buttons, reply.attachment)
        letter = compose(draft, envelope, DOMAIN, self.now())
        message_id = str(letter["Message-ID"])
        words = reply_words(reply.buttons)
        buttons = [[word, b.token] for word, b in zip(words, reply.buttons, strict=True)]
        self.last[external_id] = (message_id, buttons)
        body = letter.get_body(("plain",))
        text = str(body.get_content()).rstrip() if body is not None else reply.text
        t = Translator(reader.language)
        heading = t("console.mail", address=reader.address, subject=str(letter["Subject"]))
        self.show(external_id, heading + "\n" + text)
        return message_id

    def events(self, me: Sender, chat: Chat, text: str, event_id: str) -> list[Event]:
        """What typing `text` as a reply to the reader's last letter means to the core."""
        message_id, buttons = self.last.get(me.external_id, ("", []))
        chosen = pressed(text, buttons) if buttons else None
        if chosen is None:
            return [IncomingMessage(me, chat, text, event_id, event_id, message_id or None)]
        token, rest = chosen
        events: list[Event] = [ButtonPress(me, chat, token, f"{event_id}:button")]
        if rest:
            events.append(IncomingMessage(me, chat, rest, event_id, event_id))
        return events
