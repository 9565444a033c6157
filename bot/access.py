"""The one place that answers "may person P do A on student S", and writes the access log.

Deny by default. A refusal looks exactly like a question about a student who does not exist,
and every refusal and every read leaves an AccessLog row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot import grammar
from bot.context import Context
from storage.models import AccessAction, Role, Student
from storage.repo import StudentLink


class Action(StrEnum):
    READ = "read"  # /log, /week
    GOALS = "goals"  # /goals
    LOG = "log"  # add an entry
    SET_GOAL = "set_goal"
    INVITE_PARENT = "invite_parent"
    INVITE_TEACHER = "invite_teacher"


# What each tie to a student allows; anything missing here is refused.
_MATRIX: dict[str, frozenset[Action]] = {
    Role.PARENT: frozenset({Action.READ, Action.GOALS, Action.LOG}),
    Role.TEACHER: frozenset({Action.READ, Action.GOALS, Action.LOG, Action.SET_GOAL,
                             Action.INVITE_PARENT, Action.INVITE_TEACHER}),
    Role.ADMIN: frozenset(Action),
}

# Reads are logged as views; the detail names what was read.
_READS = frozenset({Action.READ, Action.GOALS})


def permits(link: StudentLink | None, action: Action) -> bool:
    """The access matrix: a role on the student's team, or admin of the student's school."""
    if link is None:
        return False
    if link.is_admin:
        return True
    return link.role is not None and action in _MATRIX.get(link.role, frozenset())


async def my_students(ctx: Context, action: Action) -> list[StudentLink]:
    """The sender's students on which they may do `action`, by name."""
    if ctx.person is None:
        return []
    return [link for link in await ctx.repo.links_of(ctx.my_id) if permits(link, action)]


@dataclass(frozen=True)
class Found:
    """The outcome of naming a student: one, several to choose from, or none (refused)."""

    student: Student | None
    choices: tuple[Student, ...] = ()


async def find_student(ctx: Context, name: str, action: Action, detail: str) -> Found:
    """Resolve NAME among the students the sender may `action` on; log the view or the refusal."""
    links = await my_students(ctx, action)
    if not name.strip():
        students = [link.student for link in links]
        if len(students) == 1:
            return await _granted(ctx, students[0], action, detail)
        return Found(None, tuple(students))
    by_id = {link.student.id: link.student for link in links}
    ids = grammar.match_name(name, [(sid, s.name) for sid, s in by_id.items() if sid is not None])
    if len(ids) == 1:
        return await _granted(ctx, by_id[ids[0]], action, detail)
    if ids:
        return Found(None, tuple(by_id[i] for i in ids))
    await deny(ctx, name, action)
    return Found(None)


async def _granted(ctx: Context, student: Student, action: Action, detail: str) -> Found:
    if action in _READS:
        await log(ctx, student, AccessAction.VIEW, detail)
    return Found(student)


async def log(ctx: Context, student: Student, action: AccessAction, detail: str) -> None:
    await ctx.repo.log_access(ctx.clock.now(), ctx.person.id if ctx.person else None,
                              student.id, action, detail)


async def deny(ctx: Context, name: str, action: Action) -> None:
    """Write a `denied` row against every student the name could mean (or none, if none exist)."""
    named: Sequence[Student] = await ctx.repo.students_keyed(grammar.fold(name)) if name else ()
    actor = ctx.person.id if ctx.person else None
    detail = f"{action}: {name}"
    for student_id in [student.id for student in named] or [None]:
        await ctx.repo.log_access(ctx.clock.now(), actor, student_id, AccessAction.DENIED, detail)
