"""The queries the core uses, one store per aggregate; handlers never write SQL.

`Store(session)` hands out every store over one session: `store.entries.add(...)`.
Verbs: `add` creates rows (`add_many` several at once), `save` writes back an ORM object the
transaction changed, `set_` creates or updates, `delete` removes; reads are nouns (`get` by id).
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.stores.bot_profile import BotProfileStore
from storage.stores.buttons import ButtonStore
from storage.stores.email import EmailStore
from storage.stores.entries import EntryStore
from storage.stores.events import EventStore
from storage.stores.invites import InviteStore
from storage.stores.job_runs import JobRunStore
from storage.stores.outbox import OutboxStore
from storage.stores.people import PeopleStore
from storage.stores.progress import ProgressStore
from storage.stores.records import RecordStore
from storage.stores.status import StatusView
from storage.stores.students import StudentStore
from storage.stores.translations import TranslationStore
from storage.stores.weekly import WeeklyView


class Store:
    """Every store over one session (one transaction per incoming event or CLI command)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.events = EventStore(session)
        self.people = PeopleStore(session)
        self.students = StudentStore(session)
        self.entries = EntryStore(session)
        self.progress = ProgressStore(session)
        self.buttons = ButtonStore(session)
        self.invites = InviteStore(session)
        self.outbox = OutboxStore(session)  # counts the letters this transaction queued
        self.weekly = WeeklyView(session)
        self.records = RecordStore(session)
        self.translations = TranslationStore(session)
        self.bot_profile = BotProfileStore(session)
        self.job_runs = JobRunStore(session)  # which replica composes a job's occurrence
        self.email = EmailStore(session)
        self.status = StatusView(session)


__all__ = ["Store"]
