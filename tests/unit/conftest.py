"""The unit suite's view of the record: what the database holds after people have talked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlmodel import col, select

from bot import roster
from bot.demo import DEMO_SCHOOL
from bot.events import Sender
from bot.i18n import translate
from storage.models import AccessLog, Account, Entry, Goal, Person, School, Student
from storage.repo import Repo
from tests.conftest import DemoSchool, Said

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
            school = await Repo(session).school_named(DEMO_SCHOOL)
            assert school is not None
            student = await roster.student_named(Repo(session), school, name)
            assert student.id is not None
            return student.id

    async def person_id(self, sender: Sender) -> int:
        async with self.school.db.session() as session:
            account = await Repo(session).account(
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
            return await Repo(session).access_log(actor_id=actor_id, action=action)

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
            repo = Repo(session)
            school = (await session.exec(select(School).order_by(col(School.id)))).first()
            assert school is not None
            student: Student = await roster.add_student(repo, school, name)
            account = await repo.account(teacher.platform, teacher.workspace, teacher.external_id)
            assert account is not None and student.id is not None
            await repo.add_membership(account.person_id, student.id, "teacher", "weekly")
            return student.id


@pytest.fixture
def record(school: DemoSchool) -> Record:
    return Record(school)
