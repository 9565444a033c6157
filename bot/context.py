"""What every handler is given: the stores, the clock, the settings, and who is asking."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from bot.config import Settings
from bot.events import Reply
from bot.i18n import Translator
from storage.models import Account, Person, Via
from storage.stores import Store

if TYPE_CHECKING:
    from bot.translation import NoteTranslator


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Context:
    store: Store
    clock: Clock
    settings: Settings
    t: Translator
    person: Person | None = None
    account: Account | None = None
    # In chat, or the school's operator at the CLI (no person): what the access log records.
    via: Via = Via.CHAT
    # Other people's words in the sender's language; None: shown as written.
    notes: NoteTranslator | None = None
    # A store of its own, for the long reads done after the event's transaction (a chart's
    # measures, a report's notes), which then never hold the writers' turn; None: `store`.
    reads_after: Callable[[], AbstractAsyncContextManager[Store]] | None = None

    def reading_after(self) -> AbstractAsyncContextManager[Store]:
        """Where a reply finished after the transaction (`Reply.finish`) reads: a short read
        transaction of its own in chat; the one open transaction at the CLI."""
        return self.reads_after() if self.reads_after is not None else _same(self.store)

    def say(self, key: str, **values: object) -> Reply:
        """A reply to the sender from the catalog, in their language."""
        return Reply(self.t(key, **values))

    @property
    def me(self) -> Person:
        """The sender, for handlers that only run for known people."""
        assert self.person is not None, "handler for known people ran for an unknown sender"
        return self.person

    @property
    def my_id(self) -> int:
        assert self.me.id is not None
        return self.me.id


@asynccontextmanager
async def _same(store: Store) -> AsyncIterator[Store]:
    yield store
