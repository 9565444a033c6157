"""Schools, their students, each student's team (memberships) and the schools' admins."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, exists, func, or_, true, update
from sqlalchemy.orm import ORMExecuteState, Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import pg_driver
from storage.models import Admin, Membership, Person, School, Student
from storage.stores._sql import KNOWN_LINKS, LINKS, TEAM, Queries


@dataclass(frozen=True)
class TeamShape:
    """How a student's team hears of a new entry, counted when a member's link to the student
    is read: a note that tells nobody at once then needs no read of the team."""

    weekly_parents: int  # parents who wait for the weekly summary
    instant_others: int  # the other members, who get each entry as it comes


@dataclass(frozen=True)
class StudentLink:
    """A student and how a person is tied to them (role on the team, or admin of the school)."""

    student: Student
    role: str | None  # "teacher" / "parent" from a membership, None if only an admin
    is_admin: bool
    team: TeamShape | None = None  # for a member of the team; None: not counted


class StudentStore(Queries):
    """Schools, students, teams and admins."""

    async def school(self, school_id: int) -> School | None:
        return await self.session.get(School, school_id)

    async def school_named(self, name: str) -> School | None:
        statement = select(School).where(func.lower(School.name) == name.lower())
        return (await self.session.exec(statement)).first()

    async def schools(self) -> Sequence[School]:
        return (await self.session.exec(select(School).order_by(col(School.id)))).all()

    async def add_school(self, name: str, timezone: str, language: str) -> School:
        return await self._add(School(name=name, timezone=timezone, language=language))

    async def get(self, student_id: int) -> Student | None:
        return await self.session.get(Student, student_id)

    async def readable_by(self, student_id: int, person_id: int) -> Student | None:
        """The student, if not archived and the person is on their team or an admin of their
        school; None otherwise (one statement: a letter drawn at delivery reads it anyway)."""
        on_team = exists().where(
            col(Membership.person_id) == person_id, col(Membership.student_id) == student_id
        )
        admin = exists().where(
            col(Admin.person_id) == person_id, col(Admin.school_id) == col(Student.school_id)
        )
        statement = select(Student).where(
            col(Student.id) == student_id, col(Student.archived).is_(False), or_(on_team, admin)
        )
        return (await self.session.exec(statement)).first()

    async def add(self, school: School, name: str, name_key: str) -> Student:
        assert school.id is not None
        return await self._add(Student(school_id=school.id, name=name, name_key=name_key))

    async def in_school(self, school_id: int, *, archived: bool = False) -> Sequence[Student]:
        """The school's students by name: the active ones, or (`archived`) every one."""
        statement = select(Student).where(Student.school_id == school_id)
        if not archived:
            statement = statement.where(col(Student.archived).is_(False))
        return (await self.session.exec(statement.order_by(col(Student.name)))).all()

    async def set_archived(self, student: Student, archived: bool) -> Student:
        student.archived = archived
        return await self._add(student)

    async def keyed(self, key: str, schools: Collection[int] | None = None) -> Sequence[Student]:
        """Students (anywhere, or of `schools`) whose folded name is `key` or starts with it as
        whole words."""
        statement = (
            select(Student)
            .where(
                col(Student.school_id).in_(schools) if schools is not None else true(),
                # Escaped: a `%` or `_` typed as a name must not match every student as a wildcard.
                or_(
                    col(Student.name_key) == key,
                    col(Student.name_key).startswith(key + " ", autoescape=True),
                ),
            )
            .limit(20)
        )
        return (await self.session.exec(statement)).all()

    async def links_of(self, person_id: int) -> list[StudentLink]:
        """Every student a person is tied to: through a team membership or as a school admin."""
        known = _known_links(self.session, person_id)
        if known is not None:
            return list(known)
        rows = (await self.session.exec(LINKS, params={"person_id": person_id})).all()
        return links_from(rows)

    async def membership(self, person_id: int, student_id: int) -> Membership | None:
        statement = select(Membership).where(
            Membership.person_id == person_id, Membership.student_id == student_id
        )
        return (await self.session.exec(statement)).first()

    async def add_membership(
        self,
        person_id: int,
        student_id: int,
        role: str,
        delivery: str,
        joined_at: datetime | None = None,
    ) -> Membership:
        existing = await self.membership(person_id, student_id)
        if existing is not None:
            return existing
        return await self._add(
            Membership(
                person_id=person_id,
                student_id=student_id,
                role=role,
                delivery=delivery,
                joined_at=joined_at,
            )
        )

    async def delete_membership(self, membership: Membership) -> None:
        await self.session.delete(membership)
        await self.session.flush()

    async def memberships_of(self, person_id: int) -> Sequence[Membership]:
        statement = select(Membership).where(Membership.person_id == person_id)
        return (await self.session.exec(statement)).all()

    async def set_delivery(self, person_id: int, delivery: str) -> int:
        statement = (
            update(Membership)
            .where(col(Membership.person_id) == person_id)
            .values(delivery=delivery)
        )
        return int((await self.session.exec(statement)).rowcount)

    async def team_of(self, student_id: int) -> Sequence[tuple[Person, Membership]]:
        return (await self.session.exec(TEAM, params={"student_id": student_id})).all()

    async def is_admin(self, person_id: int, school_id: int) -> bool:
        statement = select(Admin).where(Admin.person_id == person_id, Admin.school_id == school_id)
        return (await self.session.exec(statement)).first() is not None

    async def add_admin(self, person_id: int, school_id: int) -> None:
        if not await self.is_admin(person_id, school_id):
            await self._add(Admin(person_id=person_id, school_id=school_id))

    async def delete_admin(self, person_id: int, school_id: int) -> bool:
        """Take a school's admin rights from a person; False if they had none."""
        statement = delete(Admin).where(
            col(Admin.person_id) == person_id, col(Admin.school_id) == school_id
        )
        return bool((await self.session.exec(statement)).rowcount)

    async def administered_by(self, person_id: int) -> Sequence[School]:
        """The schools a person is an admin of."""
        statement = (
            select(School)
            .join(Admin, col(Admin.school_id) == col(School.id))
            .where(Admin.person_id == person_id)
            .order_by(col(School.name))
        )
        return (await self.session.exec(statement)).all()

    async def admins_of(self, school_id: int) -> Sequence[Person]:
        statement = (
            select(Person)
            .join(Admin, col(Admin.person_id) == col(Person.id))
            .where(Admin.school_id == school_id)
            .order_by(col(Person.id))
        )
        return (await self.session.exec(statement)).all()

    async def admins_over(self, person_id: int) -> Sequence[tuple[Person, School]]:
        """The admins of every school where the person is on a student's team (or is an admin
        too), each once with one of those schools, the person themselves left out."""
        team_schools = (
            select(Student.school_id)
            .join(Membership, col(Membership.student_id) == col(Student.id))
            .where(col(Membership.person_id) == person_id)
        )
        own_schools = select(Admin.school_id).where(col(Admin.person_id) == person_id)
        statement = (
            select(Person, School)
            .join(Admin, col(Admin.person_id) == col(Person.id))
            .join(School, col(School.id) == col(Admin.school_id))
            .where(
                or_(col(Admin.school_id).in_(team_schools), col(Admin.school_id).in_(own_schools)),
                col(Person.id) != person_id,
            )
            .order_by(col(Person.id), col(School.id))
        )
        admins: dict[int, tuple[Person, School]] = {}
        for admin, school in (await self.session.exec(statement)).all():
            assert admin.id is not None
            admins.setdefault(admin.id, (admin, school))
        return list(admins.values())


# A row of LINKS: the student, the person's role on its team (None: an admin of its school), and
# its team's shape (weekly-digest parents, other members told at once; None for an admin).
LinkRow = tuple[Student, str | None, int | None, int | None]


def links_from(rows: Iterable[LinkRow]) -> list[StudentLink]:
    """A person's links, by student name, from LINKS' rows (student, role, weekly parents,
    instant others): a student is on their team with a role, or of a school they run."""
    students: dict[int, Student] = {}
    teams: dict[int, tuple[str, TeamShape]] = {}
    administered: set[int] = set()
    for student, role, weekly_parents, instant_others in rows:
        assert student.id is not None
        students[student.id] = student
        if role is None:
            administered.add(student.id)
        else:
            assert weekly_parents is not None and instant_others is not None
            teams[student.id] = (role, TeamShape(weekly_parents, instant_others))
    links = []
    for student_id, student in students.items():
        role, team = teams.get(student_id, (None, None))
        links.append(StudentLink(student, role, is_admin=student_id in administered, team=team))
    return sorted(links, key=lambda link: link.student.name.casefold())


# --- a person's links read with who wrote (PeopleStore.sender), kept until the first write ---
# On PostgreSQL the sender's students come in the statement that reads the sender: one round
# trip fewer per message. They stand for `links_of` until the transaction writes anything (a
# /join, a removal...), after which it reads them again.


def remember_links(session: AsyncSession, person_id: int, links: list[StudentLink]) -> None:
    session.info[KNOWN_LINKS] = (person_id, links)


def _known_links(session: AsyncSession, person_id: int) -> list[StudentLink] | None:
    known = session.info.get(KNOWN_LINKS)
    if known is None or known[0] != person_id:
        return None
    if pg_driver.has_changes(session):
        # A read would flush these first: they may be what changes the links.
        session.info.pop(KNOWN_LINKS, None)
        return None
    links: list[StudentLink] = known[1]
    return links


def _forget_after_flush(session: Session, _flush_context: Any) -> None:
    session.info.pop(KNOWN_LINKS, None)


def _forget_after_write(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info.pop(KNOWN_LINKS, None)


event.listen(Session, "after_flush", _forget_after_flush)
event.listen(Session, "do_orm_execute", _forget_after_write)
