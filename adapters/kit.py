"""What every platform adapter does the same way, written once.

A platform is three functions and this kit: `to_core` (its payload -> a core event), `render`
(a core Reply -> its messages, each sent by a one-call `post` and shown in place by `update`) and
`classify` (its errors -> a `Verdict`). `ChatAdapter` does the rest:

- one chat's events in the order they came, chats side by side, and a flooding chat kept to a
  few events of its own, told once per burst (`ChatTurns`);
- 429s waited out (or left to the outbox as RateLimited), a chat gone for good marked inactive
  (RecipientBlocked), a message refused as such a PermanentError (`call`, `deliver`);
- a reply shown in place of the message whose button was pressed, or anew if that is gone
  (`answer`); long text cut where a line or a word ends (`split_text`).

Adding a platform (email is next) means writing those three functions, nothing else; the rest is
wiring: a `ChatAdapter` subclass that starts and stops its library, and its [section] declared
beside it and listed in adapters/platforms.py.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from enum import Enum, auto
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from bot.config import PlatformConfig
from bot.dispatch import Dispatcher
from bot.events import Attachment, Event, RecipientBlocked, Reply
from bot.outbox import PermanentError, RateLimited
from storage.db import Database
from storage.models import Account
from storage.stores import Store

__all__ = [
    "CONCURRENT_EVENTS",
    "MAX_SEND_ATTEMPTS",
    "MAX_WAITING_PER_CHAT",
    "ChatAdapter",
    "ChatTurns",
    "Classify",
    "Failure",
    "Verdict",
    "split_text",
]

log = logging.getLogger(__name__)

# Events handled at once by one adapter: the database pool and the platform set the pace anyway.
CONCURRENT_EVENTS = 16
# One chat's events taken and not yet handled, at most; the rest of a burst is refused.
MAX_WAITING_PER_CHAT = 10
# A call waits out at most this many 429s before giving the error to its caller.
MAX_SEND_ATTEMPTS = 4

_T = TypeVar("_T")
_Config = TypeVar("_Config", bound=PlatformConfig)
_Message = TypeVar("_Message")
Sleep = Callable[[float], Awaitable[Any]]
Tell = Callable[[], Awaitable[None]]


# --- text ------------------------------------------------------------------------------------


def split_text(
    text: str, limit: int, *, utf16: bool = False, mend: Callable[[str, int], int] | None = None
) -> list[str]:
    """Cut text into pieces of at most `limit`, at line breaks where possible, else between words.

    `utf16` counts as Telegram does (a character outside the BMP is two units); `mend(rest, cut)`
    may move a cut earlier (out of an `&amp;`, say). The pieces put together give the text back,
    but for pieces of nothing but white space, which are left out: no platform sends one.
    """
    pieces: list[str] = []
    rest = text
    while _units(rest, utf16) > limit:
        end = max(1, _fitting_prefix(rest, limit) if utf16 else limit)
        cut = rest.rfind("\n", 0, end) + 1 or rest.rfind(" ", 0, end) + 1 or end
        if mend is not None:
            cut = mend(rest, cut)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return [piece for piece in pieces if piece.strip()]


def _units(text: str, utf16: bool) -> int:
    return len(text.encode("utf-16-le")) // 2 if utf16 else len(text)


def _fitting_prefix(text: str, limit: int) -> int:
    """The number of characters of `text` that fit in `limit` UTF-16 units."""
    used = 0
    for index, character in enumerate(text):
        used += 2 if ord(character) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


# --- errors ----------------------------------------------------------------------------------


class Failure(Enum):
    """What a platform's error means, whatever the platform calls it."""

    RATE_LIMITED = auto()  # wait `retry_after` seconds; the same call may pass then
    GONE = auto()  # the chat will never take our messages: blocked, deleted, archived
    REFUSED = auto()  # the message itself is refused: sending it again cannot help
    STALE = auto()  # the message to show a reply in place of is gone or too old
    UNCHANGED = auto()  # the message already shows exactly this


@dataclass(frozen=True)
class Verdict:
    failure: Failure
    retry_after: float = 0.0
    reason: str = ""  # the platform's name for a refusal; never its text, which may quote ours


# A platform's error classifier: None for what the kit should pass on as it is (network errors,
# server errors: the outbox retries those later).
Classify = Callable[[Exception], Verdict | None]


# --- ordering --------------------------------------------------------------------------------


@dataclass
class _Line:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0  # this chat's events running or waiting their turn
    told: bool = False  # the chat heard it is going too fast, since its line last emptied


class ChatTurns:
    """Each chat's events one at a time, in the order they came; chats side by side.

    A chat's event waits for its turn before it takes one of the `slots`, so one chat's backlog
    holds up no other chat; and at most `per_chat` of a chat's events wait at all: the rest of a
    burst is refused, and the chat is told so once, until its line empties.
    """

    def __init__(self, slots: int = CONCURRENT_EVENTS, per_chat: int = MAX_WAITING_PER_CHAT):
        self.per_chat = per_chat
        self._slots = asyncio.Semaphore(slots)
        self._lines: dict[str, _Line] = {}

    async def run(self, chat: str | None, work: Awaitable[Any], tell: Tell | None = None) -> bool:
        """Await `work` in its chat's turn (an event of no chat needs only a slot); False if the
        chat's line was full and `work` never ran (the first such refusal of a burst awaits
        `tell`)."""
        try:
            if chat is None:
                async with self._slots:
                    await work
                return True
            line = self._lines.setdefault(chat, _Line())
            if line.waiting >= self.per_chat:
                if tell is not None and not line.told:
                    line.told = True
                    await tell()
                return False
            line.waiting += 1
            try:
                async with line.lock, self._slots:
                    await work
            finally:
                line.waiting -= 1
                if not line.waiting:
                    del self._lines[chat]
            return True
        finally:
            if isinstance(work, Coroutine):
                work.close()  # refused, or cancelled while waiting: it never ran, and must not warn


# --- the adapter -----------------------------------------------------------------------------


class ChatAdapter(ABC, Generic[_Config, _Message]):
    """A platform's adapter, less what is the platform's own: its library's set-up, start and
    stop, its payloads read as core events, and the abstract methods below."""

    platform: ClassVar[str]  # its name: its [section], and Account.platform

    def __init__(
        self,
        config: _Config,
        dispatcher: Dispatcher,
        db: Database,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        config.check()
        self.config = config
        self.dispatcher = dispatcher
        self.db = db
        self.turns = ChatTurns()
        self._sleep = sleep  # injected: tests wait out 429s on paper
        self._setup()

    @abstractmethod
    def _setup(self) -> None:
        """Build the platform library's objects from `self.config`; no I/O (`start` logs in)."""

    @staticmethod
    @abstractmethod
    def render(reply: Reply) -> list[_Message]:
        """A reply as the platform's messages, its buttons on the last."""

    @staticmethod
    @abstractmethod
    def classify(error: Exception) -> Verdict | None:
        """What the platform's error means to the kit; None to pass it on as it is."""

    @abstractmethod
    async def post(self, chat: str, message: _Message, thread: str | None) -> str:
        """Post one message, in one API call; its ref ("chat:message")."""

    @abstractmethod
    async def update(self, chat: str, message_id: str, message: _Message) -> None:
        """Show `message` in place of one already sent, in one API call."""

    async def post_file(self, chat: str, attachment: Attachment, thread: str | None) -> str:
        """Send a file (a chart, a report) to the chat; its ref. A platform that cannot says so."""
        raise NotImplementedError(f"{self.platform} cannot send files yet")

    # --- the outbox's way out ---

    async def deliver(self, account: Account, reply: Reply) -> str:
        """The outbox's Transport: one reply to the account's direct chat; its message ref.

        A 429 is not waited out here but raised as RateLimited, so the sender reschedules the
        letter; a refused message is a PermanentError; a chat gone for good marks the account
        inactive and raises RecipientBlocked. Timeouts, network and server errors pass through as
        they are, which the sender retries later.
        """
        try:
            return await self.send(account.dm_chat_id or account.external_id, reply, patient=False)
        except Exception as error:
            verdict = self.classify(error)
            if verdict is not None and verdict.failure is Failure.RATE_LIMITED:
                raise RateLimited(verdict.retry_after) from None
            if verdict is not None and verdict.failure is Failure.REFUSED:
                raise PermanentError(verdict.reason or type(error).__name__) from None
            raise

    async def send(
        self, chat_id: str, reply: Reply, *, patient: bool = True, thread: str | None = None
    ) -> str:
        """Send a reply in as many messages as it takes; the ref of the last, which has the
        buttons. 429s are waited out up to MAX_SEND_ATTEMPTS, then the platform's error is
        raised (at once, for the first message, if not `patient`); a chat gone for good marks
        its accounts inactive and raises RecipientBlocked."""
        if reply.attachment is not None:  # the file first, then its words
            attempts = MAX_SEND_ATTEMPTS if patient else 1
            post = partial(self.post_file, chat_id, reply.attachment, thread)
            await self.call(chat_id, post, attempts)
            patient = True  # the file is out: a retry of the whole reply would send it twice
        return await self._post_all(chat_id, self.render(reply), thread, patient)

    # --- answering an event ---

    async def answer(
        self,
        chat: str,
        replies: Sequence[Reply],
        pressed: str | None = None,
        thread: str | None = None,
    ) -> None:
        """The core's replies to an event in `chat`; the first that `replaces` is shown in place
        of the `pressed` message (the one whose button was pressed)."""
        for reply in replies:
            if reply.replaces and pressed is not None:
                await self._replace(chat, pressed, reply, thread)
                pressed = None  # one message is replaced; later replies follow it
            else:
                await self.send(chat, reply, thread=thread)

    async def too_fast(self, event: Event) -> list[Reply]:
        """What to tell a chat whose burst `event` belongs to, beyond what `turns` keeps."""
        return await self.dispatcher.too_fast(event, self.turns.per_chat)

    async def call(
        self, chat: str | None, make: Callable[[], Awaitable[_T]], attempts: int = MAX_SEND_ATTEMPTS
    ) -> _T:
        """Make one API call, waiting out 429s until the `attempts` are spent; if the call was
        for `chat` and the chat is gone for good, its accounts go inactive (RecipientBlocked)."""
        attempt = 1
        while True:
            try:
                return await make()
            except Exception as error:
                verdict = self.classify(error)
                if verdict is None:
                    raise
                if verdict.failure is Failure.RATE_LIMITED and attempt < attempts:
                    # Counted here only when waited out here: one raised to the sender, it counts.
                    self.dispatcher.metrics.rate_limited(self.platform)
                    attempt += 1
                    await self._sleep(verdict.retry_after)
                    continue
                if verdict.failure is Failure.GONE and chat is not None:
                    await self._deactivate(chat)
                    raise RecipientBlocked(chat) from None
                raise

    async def _post_all(
        self, chat: str, messages: Sequence[_Message], thread: str | None, patient: bool = True
    ) -> str:
        ref = ""
        for number, message in enumerate(messages, start=1):
            # Once part of a reply is out, 429s are waited out here: a retry of the whole reply
            # by the outbox would send that part twice.
            attempts = MAX_SEND_ATTEMPTS if patient or number > 1 else 1
            ref = await self.call(chat, partial(self.post, chat, message, thread), attempts)
        return ref

    async def _replace(self, chat: str, message_id: str, reply: Reply, thread: str | None) -> None:
        messages = self.render(reply)
        if not messages:
            return
        first, *more = messages
        try:
            await self.call(chat, partial(self.update, chat, message_id, first))
        except Exception as error:
            verdict = self.classify(error)
            failure = verdict.failure if verdict is not None else None
            if failure in (Failure.STALE, Failure.REFUSED):
                # Too old or gone: say it in a new message instead.
                await self.send(chat, reply, thread=thread)
                return
            if failure is not Failure.UNCHANGED:
                raise
        await self._post_all(chat, more, thread)

    async def _deactivate(self, chat: str) -> None:
        async with self.db.session() as session:
            count = await Store(session).people.deactivate_accounts(self.platform, chat)
        log.info("%s chat refused delivery; %d account(s) marked inactive", self.platform, count)
