"""The weekly jobs' read side: a whole school's week at once, as light rows, for the check-in
prompts, the nudges and the summaries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, func
from sqlalchemy import select as sa_select  # sqlmodel's select types at most 4 columns
from sqlmodel import col, select

from storage.models import Account, Entry, EntryKind, Goal, Measure, Membership, Person, Student
from storage.stores._sql import Queries
from storage.stores.people import chosen_first


class WeekEntry(NamedTuple):
    """What a weekly summary needs of an entry, read without the ORM: a school's week is big."""

    id: int
    student_id: int
    kind: str
    setting: str
    text: str
    mood: str | None
    goal_id: int | None
    attachment_ref: str | None
    created_at: datetime
    edited_at: datetime | None


_WEEK_ENTRY_COLUMNS = (
    Entry.id,
    Entry.student_id,
    Entry.kind,
    Entry.setting,
    Entry.text,
    Entry.mood,
    Entry.goal_id,
    Entry.attachment_ref,
    Entry.created_at,
    Entry.edited_at,
)


class WeekGoal(NamedTuple):
    """What a weekly summary needs of a goal."""

    id: int
    student_id: int
    tag: str
    description: str
    measure: str | None = None
    target: float | None = None
    baseline: float | None = None


class WeekMeasure(NamedTuple):
    """A measure taken this week, as the summary tells it."""

    student_id: int
    goal_id: int
    setting: str
    kind: str
    value: float
    correct: int | None
    trials: int | None
    prompt: str | None


class Reader(NamedTuple):
    """A member of a student's team, as a weekly job addresses them."""

    student_id: int
    person_id: int
    language: str
    timezone: str | None
    quiet_hours: str | None


class WeeklyView(Queries):
    """A school's week, read in a few queries whatever its size."""

    async def teams(self, school_id: int) -> Sequence[tuple[Membership, Person]]:
        """Every membership of the school's active students, with the person (one query)."""
        statement = (
            select(Membership, Person)
            .join(Person, col(Person.id) == col(Membership.person_id))
            .join(Student, col(Student.id) == col(Membership.student_id))
            .where(Student.school_id == school_id, col(Student.archived).is_(False))
            .order_by(col(Membership.student_id), col(Person.id))
        )
        return (await self.session.exec(statement)).all()

    async def readers(self, school_id: int) -> list[Reader]:
        """Every member of the teams of the school's active students, by student then person."""
        statement = (
            sa_select(
                col(Membership.student_id),
                col(Person.id),
                col(Person.language),
                col(Person.timezone),
                col(Person.quiet_hours),
            )
            .join(Person, col(Person.id) == col(Membership.person_id))
            .join(Student, col(Student.id) == col(Membership.student_id))
            .where(col(Student.school_id) == school_id, col(Student.archived).is_(False))
            .order_by(col(Membership.student_id), col(Person.id))
        )
        connection = await self.session.connection()
        return [Reader._make(row) for row in (await connection.execute(statement)).all()]

    async def accounts(self, school_id: int) -> dict[int, Account]:
        """The delivery account of everyone on a team at the school: the active one on the
        platform they chose, else their first active one."""
        members = (
            select(Membership.person_id)
            .join(Student, col(Student.id) == col(Membership.student_id))
            .where(Student.school_id == school_id)
        )
        statement = (
            select(Account)
            .join(Person, col(Person.id) == col(Account.person_id))
            .where(col(Account.person_id).in_(members), col(Account.active).is_(True))
            # The last row for a person wins: the chosen platform's, else the first made.
            .order_by(chosen_first().desc(), col(Account.id).desc())
        )
        return {account.person_id: account for account in (await self.session.exec(statement))}

    async def students_noted(self, school_id: int, start: datetime, end: datetime) -> set[int]:
        """The school's students with at least one entry in [start, end)."""
        statement = (
            select(Entry.student_id)
            .distinct()
            .join(Student, col(Student.id) == col(Entry.student_id))
            .where(
                Student.school_id == school_id,
                col(Entry.created_at) >= start,
                col(Entry.created_at) < end,
            )
        )
        return set((await self.session.exec(statement)).all())

    async def goals(self, school_id: int) -> list[WeekGoal]:
        """The active goals of a school's students, as light rows, by tag."""
        statement = (
            sa_select(
                col(Goal.id),
                col(Goal.student_id),
                col(Goal.tag),
                col(Goal.description),
                col(Goal.measure),
                col(Goal.target),
                col(Goal.baseline),
            )
            .join(Student, col(Student.id) == col(Goal.student_id))
            .where(col(Student.school_id) == school_id, col(Goal.active).is_(True))
            .order_by(col(Goal.tag))
        )
        connection = await self.session.connection()
        return [WeekGoal._make(row) for row in (await connection.execute(statement)).all()]

    async def last_measured(self, school_id: int) -> list[tuple[int, str, datetime]]:
        """Each measured active goal of a school's students: student id, tag, last measure."""
        statement = (
            sa_select(col(Goal.student_id), col(Goal.tag), func.max(col(Measure.taken_at)))
            .join(Measure, col(Measure.goal_id) == col(Goal.id))
            .join(Student, col(Student.id) == col(Goal.student_id))
            .where(col(Student.school_id) == school_id, col(Goal.active).is_(True))
            .group_by(col(Goal.id), col(Goal.student_id), col(Goal.tag))
            .order_by(col(Goal.tag))
        )
        connection = await self.session.connection()
        return [(row[0], row[1], row[2]) for row in (await connection.execute(statement)).all()]

    async def recent_measures(
        self, school_id: int, since: datetime
    ) -> list[tuple[int, int, str, float, float]]:
        """Measures since `since` on goals with a target: student, goal, tag, target, value."""
        statement = (
            sa_select(
                col(Goal.student_id),
                col(Goal.id),
                col(Goal.tag),
                col(Goal.target),
                col(Measure.value),
            )
            .join(Measure, col(Measure.goal_id) == col(Goal.id))
            .join(Student, col(Student.id) == col(Goal.student_id))
            .where(
                col(Student.school_id) == school_id,
                col(Goal.active).is_(True),
                col(Goal.target).is_not(None),
                col(Measure.taken_at) >= since,
            )
            .order_by(col(Goal.id), col(Measure.taken_at), col(Measure.id))
        )
        connection = await self.session.connection()
        return [tuple(row) for row in (await connection.execute(statement)).all()]  # type: ignore[misc]

    async def kind_counts(self, school_id: int, since: datetime) -> dict[int, dict[str, int]]:
        """Per student of the school: how many entries of each kind since `since`."""
        statement = (
            sa_select(col(Entry.student_id), col(Entry.kind), func.count())
            .join(Student, col(Student.id) == col(Entry.student_id))
            .where(col(Student.school_id) == school_id, col(Entry.created_at) >= since)
            .group_by(col(Entry.student_id), col(Entry.kind))
        )
        counts: dict[int, dict[str, int]] = {}
        connection = await self.session.connection()
        for student_id, kind, count in (await connection.execute(statement)).all():
            counts.setdefault(student_id, {})[kind] = count
        return counts

    async def measures(self, school_id: int, start: datetime, end: datetime) -> list[WeekMeasure]:
        """The measures a school's students had in [start, end), by student, oldest first."""
        statement = (
            sa_select(
                col(Measure.student_id),
                col(Measure.goal_id),
                col(Measure.setting),
                col(Measure.kind),
                col(Measure.value),
                col(Measure.correct),
                col(Measure.trials),
                col(Measure.prompt),
            )
            .join(Student, col(Student.id) == col(Measure.student_id))
            .where(
                col(Student.school_id) == school_id,
                col(Measure.taken_at) >= start,
                col(Measure.taken_at) < end,
            )
            .order_by(col(Measure.student_id), col(Measure.taken_at), col(Measure.id))
        )
        connection = await self.session.connection()
        return [WeekMeasure._make(row) for row in (await connection.execute(statement)).all()]

    async def entries(
        self, school_id: int, start: datetime, end: datetime, batch: int = 2000
    ) -> AsyncIterator[tuple[int, list[tuple[WeekEntry, str]]]]:
        """A school's entries in [start, end) with author names, one student at a time.

        Streamed in batches (oldest first within each student), so a week of half a million
        entries never sits in memory at once; nothing else may use the session meanwhile.
        """
        statement = (
            _school_entries(school_id)
            .where(
                col(Entry.created_at) >= start,
                col(Entry.created_at) < end,
            )
            # By the student's own id, not the entry's copy of it: then SQLite walks the
            # students in order and each one's entries by index, with no sort of the whole week.
            .order_by(col(Student.id), col(Entry.created_at), col(Entry.id))
            .execution_options(yield_per=batch)
        )
        result = await self.session.stream(statement)
        student: int | None = None
        week: list[tuple[WeekEntry, str]] = []
        async for rows in result.partitions():
            for row in rows:
                entry = WeekEntry._make(row[:10])
                if entry.student_id != student:
                    if student is not None:
                        yield student, week
                    student, week = entry.student_id, []
                week.append((entry, row[10]))
        if student is not None:
            yield student, week

    async def open_questions(self, school_id: int, since: datetime) -> list[tuple[WeekEntry, str]]:
        """Unanswered questions about the school's students since `since`, as light rows (one
        query, whatever the number of students: no list of ids to outgrow a driver's limit)."""
        answered = select(Entry.reply_to_id).where(
            Entry.kind == EntryKind.ANSWER, col(Entry.reply_to_id).is_not(None)
        )
        statement = (
            _school_entries(school_id)
            .where(
                col(Entry.kind) == EntryKind.QUESTION,
                col(Entry.created_at) >= since,
                col(Entry.id).not_in(answered),
            )
            .order_by(col(Entry.created_at), col(Entry.id))
        )
        connection = await self.session.connection()
        return [
            (WeekEntry._make(row[:10]), row[10])
            for row in (await connection.execute(statement)).all()
        ]


def _school_entries(school_id: int) -> Select[*tuple[Any, ...]]:
    """A school's entries as light rows (WeekEntry's columns, then the author's name)."""
    return (
        sa_select(
            *(col(column) for column in _WEEK_ENTRY_COLUMNS),
            func.coalesce(Person.display_name, ""),
        )
        .join(Student, col(Student.id) == col(Entry.student_id))
        .outerjoin(Person, col(Person.id) == col(Entry.author_id))
        .where(col(Student.school_id) == school_id)
    )
