"""Schools and students as an admin sets them up (CLI and demo)."""

from __future__ import annotations

from collections.abc import Sequence

from bot import grammar
from bot.config import Settings
from bot.errors import CommandError, said
from storage.models import School, Student
from storage.stores import Store


class RosterError(CommandError):
    """A school, student or roster line the admin must correct; the message says how."""


async def ensure_school(store: Store, name: str, timezone: str, language: str) -> School:
    return await store.students.school_named(name) or await store.students.add_school(
        name, timezone, language
    )


async def pick_school(store: Store, settings: Settings, name: str | None) -> School:
    """The named school, else the only one, else the one named in the config."""
    if name:
        school = await store.students.school_named(name)
        if school is None:
            raise RosterError(said("operator.no_school_named", school=repr(name)))
        return school
    schools = await store.students.schools()
    if len(schools) == 1:
        return schools[0]
    school = await store.students.school_named(settings.school.name)
    if school is None:
        raise RosterError(
            said("operator.no_school_yet") if not schools else said("operator.several_schools")
        )
    return school


def clean_student_name(name: str) -> str:
    """The name as it will be kept, or RosterError saying why it cannot be one."""
    clean = " ".join(grammar.clean_text(name).split())
    if not clean or len(clean) > 200:
        raise RosterError(said("operator.student_name_length"))
    if clean[0] in grammar.PREFIXES or clean.startswith(("/", "#")):
        raise RosterError(said("operator.student_name_start", sign=repr(clean[0])))
    return clean


async def add_student(store: Store, school: School, name: str) -> Student:
    clean = clean_student_name(name)
    assert school.id is not None
    key = grammar.fold(clean)
    for student in await store.students.in_school(school.id, archived=True):
        if student.name_key == key:
            exists = (
                "operator.student_exists_archived"
                if student.archived
                else "operator.student_exists"
            )
            raise RosterError(said(exists, student=repr(clean), school=school.name))
    return await store.students.add(school, clean, key)


async def student_named(store: Store, school: School, name: str) -> Student:
    """One student of the school by name (exact, else unique prefix), archived ones too."""
    assert school.id is not None
    students: Sequence[Student] = await store.students.in_school(school.id, archived=True)
    ids = grammar.match_name(name, [(s.id, s.name) for s in students if s.id is not None])
    if len(ids) != 1:
        names = ", ".join(s.name for s in students if s.id in ids)
        raise RosterError(
            said("operator.several_students", name=repr(name), names=names)
            if ids
            else said("operator.no_student_named", name=repr(name), school=school.name)
        )
    return next(s for s in students if s.id == ids[0])
