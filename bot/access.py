"""The one place that answers "may person P do A on student S", and writes the access log.

Deny by default. A refusal looks exactly like a question about a student who does not exist,
and every refusal and every read leaves an AccessLog row. Chat handlers and the `tandem` CLI
ask the same matrix: the CLI operator is the school's admin (`school_admin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot import grammar
from bot.context import Context
from storage.models import (
    AccessAction,
    AccessLog,
    AmendmentStatus,
    Entry,
    ExportFormat,
    Read,
    Role,
    School,
    Student,
    TeamChange,
    Via,
)
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

# Granted actions that leave a row (a read as a view, an export); the rest leave none.
_LOGGED: frozenset[Action] = frozenset({Action.READ, Action.RECORD, Action.GOALS, Action.EXPORT})


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
    return _allowed_and_archived(await ctx.store.students.links_of(ctx.my_id), action)


def _allowed_and_archived(
    links: Sequence[StudentLink], action: Action
) -> tuple[list[StudentLink], list[StudentLink]]:
    allowed = [link for link in links if permits(link, action)]
    archived = [
        link
        for link in links
        if link.student.archived and not permits(link, action) and permits(link, Action.READ)
    ]
    return allowed, archived


async def find_student(
    ctx: Context, name: str, action: Action, seen: Viewed | None = None
) -> Found:
    """Resolve NAME among the students the sender may `action` on; log the view (`seen`, for a
    read) or the refusal. An archived student of theirs, named for what would add to the
    record, is no refusal: `Found.archived` says so."""
    every = await ctx.store.students.links_of(ctx.my_id) if ctx.person is not None else []
    links, archived = _allowed_and_archived(every, action)
    if not name.strip():
        students = [link.student for link in links]
        if len(students) == 1:
            return await _granted(ctx, students[0], action, seen)
        if not students and len(archived) == 1:
            return Found(None, archived=archived[0].student)
        return Found(None, tuple(students))
    by_id = {link.student.id: link.student for link in links}
    ids = grammar.match_name(name, [(sid, s.name) for sid, s in by_id.items() if sid is not None])
    if len(ids) == 1:
        return await _granted(ctx, by_id[ids[0]], action, seen)
    if ids:
        return Found(None, tuple(by_id[i] for i in ids))
    kept = {link.student.id: link.student for link in archived}
    named = grammar.match_name(name, [(sid, s.name) for sid, s in kept.items() if sid is not None])
    if len(named) == 1:
        return Found(None, archived=kept[named[0]])
    await _deny_named(ctx, name, action, _schools(every))
    return Found(None)


async def authorize(
    ctx: Context, link: StudentLink | None, action: Action, granted: Logged | None = None
) -> bool:
    """Check one tie against the matrix; log `granted` (a read or an export), or the refusal."""
    student = link.student if link is not None else None
    if student is None or not permits(link, action):
        if student is not None:
            await log(ctx, student, Denied(action))
        return False
    await _granted(ctx, student, action, granted)
    return True


async def _granted(ctx: Context, student: Student, action: Action, seen: Logged | None) -> Found:
    # Every read and export is logged; nothing else granted is.
    assert (seen is not None) == (action in _LOGGED), f"{action} granted, logged as {seen}"
    if seen is not None:
        await log(ctx, student, seen)
    return Found(student)


def _schools(links: Sequence[StudentLink]) -> set[int]:
    """The schools where a person has a team or admin rights, from all their ties."""
    return {link.student.school_id for link in links}


async def deny(ctx: Context, name: str, action: Action) -> None:
    """Log a refusal to `action` on the student(s) NAME could mean (see _deny_named)."""
    every = await ctx.store.students.links_of(ctx.my_id) if ctx.person is not None else []
    await _deny_named(ctx, name, action, _schools(every))


async def _deny_named(ctx: Context, name: str, action: Action, schools: set[int]) -> None:
    """A `denied` row against every student of the sender's own schools the name could mean,
    or one row about no student: a refusal never reaches another school's record. What was
    typed is not kept, only the action refused."""
    named = await ctx.store.students.keyed(grammar.fold(name), schools) if name and schools else ()
    targets: Sequence[Student | None] = named or [None]
    for student in targets:
        await log(ctx, student, Denied(action))


async def refuse(ctx: Context, student: Student | None, action: Action) -> None:
    """Log a refusal to `action` on a student the sender named by a number (an entry, a
    question): against that student only if they are in one of the sender's schools."""
    every = await ctx.store.students.links_of(ctx.my_id) if ctx.person is not None else []
    own = student is not None and student.school_id in _schools(every)
    await log(ctx, student if own else None, Denied(action))


# --- the access log: what a row says, as columns -------------------------------------------------


@dataclass(frozen=True)
class Viewed:
    """Someone read part of the record (/log N, /week, /record, /goals, /questions)."""

    read: Read
    count: int | None = None  # how many notes /log showed


@dataclass(frozen=True)
class Exported:
    """The school exported the whole record (`tandem export`)."""

    format: ExportFormat


@dataclass(frozen=True)
class Shared:
    """A teacher sent a note to the weekly-digest parents at once."""

    entry_id: int
    parents: int


@dataclass(frozen=True)
class Denied:
    """A request was refused. Only the action: never what the person typed."""

    action: Action


@dataclass(frozen=True)
class Amended:
    """A correction of an entry was asked for, accepted or declined."""

    amendment_id: int
    entry_id: int
    status: AmendmentStatus


@dataclass(frozen=True)
class Forgotten:
    """`tandem forget` deleted a student, named by number only."""

    student_id: int


@dataclass(frozen=True)
class TeamChanged:
    """Who may see the record changed: `person_id` (if known yet) in `role`."""

    change: TeamChange
    person_id: int | None = None
    role: Role | None = None


Logged = Viewed | Exported | Shared | Denied | Amended | Forgotten | TeamChanged


def to_row(
    event: Logged,
    at: datetime,
    actor_id: int | None,
    via: Via,
    about: Student | School | None,
) -> AccessLog:
    """The access-log row that says `event` happened, by `actor_id`, about a student, a whole
    school (a change of its admins) or nothing (a refusal about no student of the actor's)."""
    row = AccessLog(at=at, actor_id=actor_id, via=via, action=_ACTION_OF[type(event)])
    if isinstance(about, Student):
        row.student_id, row.school_id = about.id, about.school_id
    elif isinstance(about, School):
        row.school_id = about.id
    match event:
        case Viewed(read, count):
            row.what, row.count = read, count
        case Exported(form):
            row.what = form
        case Shared(entry_id, parents):
            row.entry_id, row.count = entry_id, parents
        case Denied(action):
            row.what = action
        case Amended(amendment_id, entry_id, status):
            row.amendment_id, row.entry_id, row.what = amendment_id, entry_id, status
        case Forgotten(student_id):
            row.forgotten_id = student_id
        case TeamChanged(change, person_id, role):
            row.what, row.subject_id, row.role = change, person_id, role
    return row


_ACTION_OF: dict[type[Logged], AccessAction] = {
    Viewed: AccessAction.VIEW,
    Exported: AccessAction.EXPORT,
    Shared: AccessAction.SHARE,
    Denied: AccessAction.DENIED,
    Amended: AccessAction.AMEND,
    Forgotten: AccessAction.DELETE,
    TeamChanged: AccessAction.TEAM,
}


def from_row(row: AccessLog) -> Logged | None:
    """What a row says; None for a row whose columns do not make sense (an old row whose
    English `legacy_detail` could not be parsed by migration 0006)."""
    try:
        return _event(row)
    except (TypeError, ValueError):
        return None


def _event(row: AccessLog) -> Logged | None:
    match row.action:
        case AccessAction.VIEW:
            return Viewed(Read(row.what), row.count)
        case AccessAction.EXPORT:
            return Exported(ExportFormat(row.what))
        case AccessAction.SHARE:
            return Shared(_number(row.entry_id), row.count or 0)
        case AccessAction.DENIED:
            return Denied(Action(row.what))
        case AccessAction.AMEND:
            status = AmendmentStatus(row.what)
            return Amended(_number(row.amendment_id), _number(row.entry_id), status)
        case AccessAction.DELETE:
            return Forgotten(_number(row.forgotten_id))
        case AccessAction.TEAM:
            role = Role(row.role) if row.role else None
            return TeamChanged(TeamChange(row.what), row.subject_id, role)
    return None


def _number(value: int | None) -> int:
    if value is None:
        raise ValueError("missing")
    return value


async def log(ctx: Context, about: Student | School | None, event: Logged) -> None:
    """One access-log row by the sender (None: the CLI operator, `ctx.via`)."""
    actor = ctx.person.id if ctx.person else None
    await ctx.store.records.add_access_log(to_row(event, ctx.clock.now(), actor, ctx.via, about))


async def log_team_change(
    ctx: Context,
    change: TeamChange,
    about: Student | School,
    person_id: int | None = None,
    role: Role | None = None,
) -> None:
    """A change of who may see a student's record (or, `about` a school, every record of the
    school: its admins), by the sender or the CLI operator; `person_id` is whom it is about."""
    await log(ctx, about, TeamChanged(change, person_id, role))
