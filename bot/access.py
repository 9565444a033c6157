"""The one place that answers "may person P do A on student S", and writes the access log.

Deny by default. A refusal looks exactly like a question about a student who does not exist,
and every refusal and every read leaves an AccessLog row. Chat handlers and the `tandem` CLI
ask the same matrix: the CLI operator is the school's admin (`school_admin`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot import grammar
from bot.context import Context
from storage.models import AccessAction, Entry, Role, Student
from storage.stores.students import StudentLink


class Action(StrEnum):
    READ = "read"  # /log, /week
    RECORD = "record"  # /record: the whole record with its access log
    GOALS = "goals"  # /goals
    LOG = "log"  # add an entry
    ANSWER = "answer"  # /answer N, or a reply to a question
    SET_GOAL = "set_goal"
    INVITE_PARENT = "invite_parent"
    INVITE_TEACHER = "invite_teacher"
    AMEND = "amend"  # ask for a correction of an entry (/amend N text)
    DECIDE_AMEND = "decide_amend"  # accept or decline one: the entry's author, or an admin
    TEAM = "team"  # /team: see who is on the team, and take someone off it
    EXPORT = "export"  # `tandem export`
    FORGET = "forget"  # `tandem forget`


# What each tie to a student allows; anything missing here is refused. Someone with no tie to
# the student (a parent of another child, a teacher off the team, an admin of another school,
# a stranger) has no row at all.
MATRIX: dict[str, frozenset[Action]] = {
    Role.PARENT: frozenset(
        {
            Action.READ,
            Action.RECORD,
            Action.GOALS,
            Action.LOG,
            Action.ANSWER,
            Action.AMEND,
            Action.DECIDE_AMEND,  # on their own entries only: see may_decide
        }
    ),
    Role.TEACHER: frozenset(
        {
            Action.READ,
            Action.RECORD,
            Action.GOALS,
            Action.LOG,
            Action.ANSWER,
            Action.SET_GOAL,
            Action.INVITE_PARENT,
            Action.INVITE_TEACHER,
            Action.DECIDE_AMEND,
            Action.TEAM,
        }
    ),
    # An admin of the student's school may do everything except ask for a correction: an admin
    # corrects by accepting one.
    Role.ADMIN: frozenset(Action) - {Action.AMEND},
}

# Reads are logged as views (exports as exports); the detail names what was read.
_LOGGED: dict[Action, AccessAction] = {
    Action.READ: AccessAction.VIEW,
    Action.RECORD: AccessAction.VIEW,
    Action.GOALS: AccessAction.VIEW,
    Action.EXPORT: AccessAction.EXPORT,
}


# An archived student's record stays readable, correctable and exportable by the team, and the
# team can still change; nothing new is written into it (notes, answers, goals, invites).
ON_ARCHIVED = frozenset(
    {
        Action.READ,
        Action.RECORD,
        Action.GOALS,
        Action.AMEND,
        Action.DECIDE_AMEND,
        Action.TEAM,
        Action.EXPORT,
        Action.FORGET,
    }
)


def permits(link: StudentLink | None, action: Action) -> bool:
    """The access matrix: a role on the student's team, or admin of the student's school."""
    if link is None or (link.student.archived and action not in ON_ARCHIVED):
        return False
    if link.is_admin and action in MATRIX[Role.ADMIN]:
        return True
    return link.role is not None and action in MATRIX.get(link.role, frozenset())


def may_decide(link: StudentLink | None, entry: Entry, person_id: int) -> bool:
    """May this person accept or decline a correction of `entry`: its author, or an admin."""
    if link is None or link.student.id != entry.student_id:
        return False
    if link.is_admin:
        return True
    return permits(link, Action.DECIDE_AMEND) and entry.author_id == person_id


def school_admin(student: Student) -> StudentLink:
    """The CLI operator's tie to a student: the admin of the student's school."""
    return StudentLink(student, None, is_admin=True)


async def my_students(ctx: Context, action: Action) -> list[StudentLink]:
    """The sender's students on which they may do `action`, by name."""
    if ctx.person is None:
        return []
    return [link for link in await ctx.store.students.links_of(ctx.my_id) if permits(link, action)]


async def my_link(ctx: Context, student_id: int, action: Action) -> StudentLink | None:
    """The sender's tie to one student if it allows `action`, else None."""
    return next(
        (link for link in await my_students(ctx, action) if link.student.id == student_id), None
    )


@dataclass(frozen=True)
class Found:
    """The outcome of naming a student: one, several to choose from, or none (refused)."""

    student: Student | None
    choices: tuple[Student, ...] = ()
    # A student of the sender's whose record is archived, named for something that would add
    # to it: the team is told so, not refused as if the student did not exist.
    archived: Student | None = None


async def my_students_and_archived(
    ctx: Context, action: Action
) -> tuple[list[StudentLink], list[StudentLink]]:
    """The sender's students on which they may do `action`, and those of their students whose
    archived record refuses it (but which they may still read), from one read of their ties."""
    if ctx.person is None:
        return [], []
    links = await ctx.store.students.links_of(ctx.my_id)
    allowed = [link for link in links if permits(link, action)]
    archived = [
        link
        for link in links
        if link.student.archived and not permits(link, action) and permits(link, Action.READ)
    ]
    return allowed, archived


async def find_student(ctx: Context, name: str, action: Action, detail: str) -> Found:
    """Resolve NAME among the students the sender may `action` on; log the view or the refusal."""
    links, archived = await my_students_and_archived(ctx, action)
    if not name.strip():
        students = [link.student for link in links]
        if len(students) == 1:
            return await _granted(ctx, students[0], action, detail)
        if not students and len(archived) == 1:
            return Found(None, archived=archived[0].student)
        return Found(None, tuple(students))
    by_id = {link.student.id: link.student for link in links}
    ids = grammar.match_name(name, [(sid, s.name) for sid, s in by_id.items() if sid is not None])
    if len(ids) == 1:
        return await _granted(ctx, by_id[ids[0]], action, detail)
    if ids:
        return Found(None, tuple(by_id[i] for i in ids))
    kept = {link.student.id: link.student for link in archived}
    named = grammar.match_name(name, [(sid, s.name) for sid, s in kept.items() if sid is not None])
    if len(named) == 1:
        return Found(None, archived=kept[named[0]])
    await deny(ctx, name, action)
    return Found(None)


async def authorize(ctx: Context, link: StudentLink | None, action: Action, detail: str) -> bool:
    """Check one tie against the matrix; log the read or export, or the refusal."""
    student = link.student if link is not None else None
    if student is None or not permits(link, action):
        if student is not None:
            await log(ctx, student, AccessAction.DENIED, f"{action}: {detail}")
        return False
    await _granted(ctx, student, action, detail)
    return True


async def _granted(ctx: Context, student: Student, action: Action, detail: str) -> Found:
    logged = _LOGGED.get(action)
    if logged is not None:
        await log(ctx, student, logged, detail)
    return Found(student)


async def log(ctx: Context, student: Student | None, action: AccessAction, detail: str) -> None:
    """One access-log row by the sender (None: the CLI operator) about `student`."""
    await ctx.store.records.add_access_log(
        ctx.clock.now(),
        ctx.person.id if ctx.person else None,
        student.id if student else None,
        action,
        detail,
    )


# Details of rows that /record reads back in the reader's words (student_record): each is
# written for auditors, in English, by its function here and read by the pattern beside it.
SHARED_DETAIL = re.compile(r"entry (\d+) to (\d+) parent")
AMENDED_DETAIL = re.compile(r"correction #(\d+) of entry #(\d+) (requested|accepted|declined)")


def shared_detail(entry_id: int | None, parents: int) -> str:
    return f"entry {entry_id} to {parents} parent(s)"


def amended_detail(amendment_id: int | None, entry_id: int | None, status: str) -> str:
    return f"correction #{amendment_id} of entry #{entry_id} {status}"


async def deny(ctx: Context, name: str, action: Action) -> None:
    """Write a `denied` row against every student the name could mean (or none, if none exist)."""
    named: Sequence[Student] = await ctx.store.students.keyed(grammar.fold(name)) if name else ()
    actor = ctx.person.id if ctx.person else None
    detail = f"{action}: {name}"
    for student_id in [student.id for student in named] or [None]:
        await ctx.store.records.add_access_log(
            ctx.clock.now(), actor, student_id, AccessAction.DENIED, detail
        )
