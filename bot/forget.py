"""`tandem forget`: remove every trace of one student, the outbox and pending buttons included.

What stays is one `delete` row in the access log without the name ("student #12 forgotten by
cli"), so the deletion itself is audited; and, unless `--people` is given, the people who were
on the student's team (they may be on other teams; with no team they see nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot import access, grammar
from bot.access import Action
from bot.context import Context
from bot.errors import CommandError
from storage.models import Student


@dataclass(frozen=True)
class Forgotten:
    student_id: int
    deleted: dict[str, int]  # table -> rows deleted
    mentions_elsewhere: int  # other students' entries that still name this student


def mentions(name: str) -> Callable[[str], bool]:
    """Whether a text contains the student's full name (a nudge listing names, a payload)."""
    full = grammar.fold(name)
    return lambda text: bool(full) and full in grammar.fold(text)


def meant(name: str) -> Callable[[str], bool]:
    """Whether an access-log detail (`read: <typed name>`) names the student, as typed then."""
    says_name = mentions(name)

    def names_it(detail: str) -> bool:
        typed = detail.partition(": ")[2]
        return says_name(detail) or bool(typed and grammar.match_name(typed, [(1, name)]))

    return names_it


def _by_first_name(name: str) -> Callable[[str], bool]:
    first = grammar.fold(name).split()[0] if grammar.fold(name) else ""
    word = re.compile(rf"\b{re.escape(first)}\b") if first else None
    return lambda text: word is not None and bool(word.search(grammar.fold(text)))


async def forget_student(ctx: Context, student: Student, *, people: bool = False) -> Forgotten:
    """Delete the student from every table; with `people`, also the people whose only tie to
    the school was this student's team. The caller compacts the database after commit."""
    assert student.id is not None
    if not await access.authorize(ctx, access.school_admin(student), Action.FORGET):
        raise CommandError("not allowed")  # the CLI operator is the school's admin: not reached
    lone = await ctx.store.records.lone_team_members(student.id) if people else []
    deleted = await ctx.store.records.forget_student(
        student.id, mentions(student.name), meant(student.name)
    )
    deleted["people"] = await ctx.store.people.delete(lone)
    elsewhere = await ctx.store.records.entries_in_school_mentioning(
        student.school_id, grammar.fold(student.name).split()[0], _by_first_name(student.name)
    )
    # The deletion is audited without the name: the row must not be a trace of its own.
    await access.log(ctx, None, access.Forgotten(student.id))
    return Forgotten(student.id, deleted, elsewhere)
