"""Measures on a student's goals: written with the note that carries them, read for /goals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import col, select

from storage.models import Goal, Measure, School, Setting, Student
from storage.stores._sql import Queries


@dataclass(frozen=True)
class GoalStanding:
    """How much a goal has been measured, and its latest value."""

    latest: Measure | None
    school: int
    home: int


class ProgressStore(Queries):
    """The measure table, one row per note that carries a measure."""

    async def add(self, measure: Measure) -> Measure:
        return await self._add(measure)

    async def of_entry(self, entry_id: int) -> Measure | None:
        statement = select(Measure).where(Measure.entry_id == entry_id)
        return (await self.session.exec(statement)).first()

    async def delete_of_entry(self, entry_id: int) -> None:
        await self.session.exec(delete(Measure).where(col(Measure.entry_id) == entry_id))

    async def count_on_goal(self, goal_id: int) -> int:
        statement = select(func.count()).select_from(Measure).where(Measure.goal_id == goal_id)
        return int((await self.session.exec(statement)).one())

    async def standings(self, student_id: int) -> dict[int, GoalStanding]:
        """Per goal of the student: its latest measure and how many came from school and home."""
        counts = (
            select(Measure.goal_id, Measure.setting, func.count())
            .where(Measure.student_id == student_id)
            .group_by(col(Measure.goal_id), col(Measure.setting))
        )
        tally: dict[int, dict[str, int]] = {}
        for goal_id, setting, count in (await self.session.exec(counts)).all():
            tally.setdefault(goal_id, {})[setting] = count
        standings: dict[int, GoalStanding] = {}
        for goal_id, by_setting in tally.items():
            standings[goal_id] = GoalStanding(
                await self._latest(goal_id),
                by_setting.get(Setting.SCHOOL, 0),
                by_setting.get(Setting.HOME, 0),
            )
        return standings

    async def _latest(self, goal_id: int) -> Measure | None:
        statement = (
            select(Measure)
            .where(Measure.goal_id == goal_id)
            .order_by(col(Measure.taken_at).desc(), col(Measure.id).desc())
            .limit(1)
        )
        return (await self.session.exec(statement)).first()

    async def series(self, goal_id: int) -> Sequence[Measure]:
        """A goal's measures, oldest first (a chart, a report)."""
        statement = (
            select(Measure)
            .where(Measure.goal_id == goal_id)
            .order_by(col(Measure.taken_at), col(Measure.id))
        )
        return (await self.session.exec(statement)).all()

    async def student_week(
        self, student_id: int, bounds: Callable[[str], tuple[datetime, datetime]]
    ) -> list[tuple[Goal, list[Measure]]]:
        """The student's goals measured in the week `bounds` gives in the timezone of their
        school, each with those measures, oldest first; goals in the order they were set. The
        timezone comes with the goals: two statements, as with the bounds given."""
        goals = (
            await self.session.exec(
                select(Goal, School.timezone)
                .join(Student, col(Student.id) == col(Goal.student_id))
                .join(School, col(School.id) == col(Student.school_id))
                .where(col(Goal.student_id) == student_id)
                .order_by(col(Goal.id))
            )
        ).all()
        if not goals:
            return []
        start, end = bounds(goals[0][1])
        statement = (
            select(Measure)
            .where(
                Measure.student_id == student_id,
                col(Measure.taken_at) >= start,
                col(Measure.taken_at) < end,
            )
            .order_by(col(Measure.taken_at), col(Measure.id))
        )
        by_goal: dict[int, list[Measure]] = {}
        for measure in (await self.session.exec(statement)).all():
            by_goal.setdefault(measure.goal_id, []).append(measure)
        return [(goal, by_goal[goal.id]) for goal, _ in goals if goal.id in by_goal]
