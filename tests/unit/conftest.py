"""The unit suite's view of the record: what the database holds after people have talked."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot import jobs, roster
from bot.config import Settings
from bot.demo import DEMO_SCHOOL
from bot.events import Button, Reply, Sender
from bot.i18n import translate
from bot.jobs import JobReport
from bot.outbox import from_payload
from storage.db import Database
from storage.models import AccessLog, Account, Entry, Goal, Outbox, Person, School, Student
from storage.stores import Store
from tests.conftest import DemoSchool, FakeClock, Said
from tests.outbox_fakes import FakePlatform, Household, VirtualTime
from tests.unit.test_cli import Run, tandem, tandem_process

Row = TypeVar("Row")


def en(key: str, **values: object) -> str:
    """A message exactly as an English reader sees it."""
    return translate("en", key, **values)


def invite_code(said: Said) -> str:
    """The code in an `/invite` reply, as the teacher would copy it."""
    found = re.search(r"/start (\S+)", said.text)
    assert found, f"no invite code in {said.text!r}"
    return found.group(1)


@dataclass
class Record:
    """Reads the database behind the demo school, each call in its own transaction."""

    school: DemoSchool

    async def rows(self, model: type[Row], *where: Any) -> list[Row]:
        async with self.school.db.session() as session:
            statement = select(model).where(*where)
            return list((await session.exec(statement)).all())

    async def student_id(self, name: str) -> int:
        async with self.school.db.session() as session:
            school = await Store(session).students.school_named(DEMO_SCHOOL)
            assert school is not None
            student = await roster.student_named(Store(session), school, name)
            assert student.id is not None
            return student.id

    async def person_id(self, sender: Sender) -> int:
        async with self.school.db.session() as session:
            account = await Store(session).people.account(
                sender.platform, sender.workspace, sender.external_id
            )
            assert account is not None, f"{sender.display_name} has no account"
            return account.person_id

    async def entries(self, student: str | None = None) -> list[Entry]:
        """Every entry (or one student's), oldest first."""
        where = [Entry.student_id == await self.student_id(student)] if student else []
        return sorted(await self.rows(Entry, *where), key=lambda entry: entry.id or 0)

    async def entry(self) -> Entry:
        """The only entry there is."""
        entries = await self.entries()
        assert len(entries) == 1, f"expected one entry, found {[e.text for e in entries]}"
        return entries[0]

    async def access_log(self, actor: Sender, action: str) -> Sequence[AccessLog]:
        actor_id = await self.person_id(actor)
        async with self.school.db.session() as session:
            return await Store(session).records.access_log(actor_id=actor_id, action=action)

    async def people(self) -> list[str]:
        return sorted(person.display_name for person in await self.rows(Person))

    async def accounts(self) -> int:
        return len(await self.rows(Account))

    async def goal(self, student: str, tag: str) -> Goal | None:
        goals = await self.rows(
            Goal, Goal.student_id == await self.student_id(student), Goal.tag == tag
        )
        return goals[0] if goals else None

    async def add_student(self, name: str, teacher: Sender) -> int:
        """A new student at the demo school, on the teacher's team."""
        async with self.school.db.session() as session:
            store = Store(session)
            school = (await session.exec(select(School).order_by(col(School.id)))).first()
            assert school is not None
            student: Student = await roster.add_student(store, school, name)
            account = await store.people.account(
                teacher.platform, teacher.workspace, teacher.external_id
            )
            assert account is not None and student.id is not None
            await store.students.add_membership(account.person_id, student.id, "teacher", "weekly")
            return student.id


@pytest.fixture
def record(school: DemoSchool) -> Record:
    return Record(school)


# --- the outbox, as the people it is addressed to would see it ---------------------------------

SCHOOL_ZONE = ZoneInfo("America/Chicago")


def chicago(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock moment at the demo school, as an aware datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=SCHOOL_ZONE)


class HeldReads:
    """A store's method, held once called until released: stands for a long read."""

    def __init__(self, read: Callable[..., Awaitable[Any]]) -> None:
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

        async def held(store: Any, *args: Any) -> Any:
            self.reading.set()
            await self.release.wait()
            return await read(store, *args)

        self.method = held

    async def note_while_held(self, school: DemoSchool, asked: str) -> tuple[Said, Said]:
        """A teacher's note sent while a parent's `asked` is held in its read: the note's
        answer (it must not wait for the read), then the parent's."""
        asking = asyncio.create_task(school.say(school.parent, asked))
        await asyncio.wait_for(self.reading.wait(), timeout=10)
        note = await asyncio.wait_for(school.say(school.teacher, "+ Sam read aloud"), timeout=10)
        self.release.set()
        return note, await asyncio.wait_for(asking, timeout=10)


@dataclass(frozen=True)
class Queued:
    """One letter in the outbox: what its reader will see, and when."""

    row: Outbox

    @property
    def reply(self) -> Reply:
        return from_payload(self.row.payload)

    @property
    def text(self) -> str:
        return self.reply.text

    @property
    def labels(self) -> list[str]:
        return [button.label for button in self.reply.buttons]

    def button(self, label: str) -> Button:
        matches = [button for button in self.reply.buttons if button.label == label]
        assert matches, f"no [{label}] button in {self.labels}"
        return matches[0]

    @property
    def not_before(self) -> datetime:
        return self.row.not_before


@dataclass
class Mail:
    """The weekly jobs run on the demo school's clock, and the letters they (and handlers) queue."""

    school: DemoSchool
    record: Record

    async def letters(self, to: Sender, kind: str | None = None) -> list[Queued]:
        """Every letter queued for a person (of one kind), oldest first."""
        where = [col(Outbox.person_id) == await self.record.person_id(to)]
        if kind is not None:
            where.append(col(Outbox.kind) == kind)
        rows = await self.record.rows(Outbox, *where)
        return [Queued(row) for row in sorted(rows, key=lambda row: row.id or 0)]

    async def letter(self, to: Sender, kind: str) -> Queued:
        """The only letter of this kind for a person."""
        letters = await self.letters(to, kind)
        assert len(letters) == 1, f"expected one {kind} letter, found {[q.text for q in letters]}"
        return letters[0]

    async def school_id(self) -> int:
        async with self.school.db.session() as session:
            found = await Store(session).students.school_named(DEMO_SCHOOL)
            assert found is not None and found.id is not None
            return found.id

    def _settings(self, settings: Settings | None) -> Settings:
        return settings or self.school.dispatcher.settings

    async def checkin(self, settings: Settings | None = None) -> JobReport:
        return await jobs.run_checkin(
            self.school.db, self._settings(settings), self.school.clock, await self.school_id()
        )

    async def summary(self, settings: Settings | None = None) -> JobReport:
        return await jobs.run_summary(
            self.school.db, self._settings(settings), self.school.clock, await self.school_id()
        )

    async def purge(self, settings: Settings | None = None) -> dict[str, int]:
        return await jobs.run_purge(self.school.db, self._settings(settings), self.school.clock)


@pytest.fixture
def mail(school: DemoSchool, record: Record) -> Mail:
    return Mail(school, record)


# The sender's tests: time that passes only when the sender sleeps, a platform keeping its
# limits, and a household to write to.
@pytest.fixture
def time(clock: FakeClock) -> VirtualTime:
    return VirtualTime(clock)


@pytest.fixture
def platform(clock: FakeClock, time: VirtualTime) -> FakePlatform:
    return FakePlatform(clock, time)


@pytest.fixture
async def home(db: Database, clock: FakeClock, time: VirtualTime) -> Household:
    time.watch(db)
    return await Household(db, clock).setup()


class Cli:
    """`tandem` against the demo school's database, run off the event loop as a shell would."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def __call__(self, *args: str) -> Run:
        return await asyncio.to_thread(tandem, *args)

    async def process(self, *args: str) -> Run:
        return await asyncio.to_thread(tandem_process, *args, cwd=self.folder)


def cli_for(database_url: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`tandem` in `folder`, on that database and nothing else of the environment's."""
    for name in list(os.environ):
        if name.startswith("TANDEM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("TANDEM_DATABASE_URL", database_url)
    return Cli(folder)


@pytest.fixture
def cli(school: DemoSchool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(school.db.url, tmp_path, monkeypatch)
