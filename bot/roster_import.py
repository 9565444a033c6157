"""`tandem roster import FILE.csv`: students, and an invite for each adult listed with them.

The whole file is checked before anything is written; a bad row stops the import with its line
number. Importing the same file again adds nothing: students are found by name, and an adult
who already has a working (or used) invite from an earlier import gets no second one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot import grammar, invites, roster, spreadsheet
from bot.config import Settings
from bot.errors import Said, said
from bot.roster import RosterError
from storage.models import Role, School, Student
from storage.stores import Store

MAX_NAME = 200
MAX_CONTACT = 200
# Header names each column may go by (folded); without a header the columns are in this order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "student": ("student", "student name", "child"),
    "adult": ("adult", "adult name", "name", "guardian", "person"),
    "role": ("role",),
    "contact": ("contact", "contact hint", "hint"),
    "email": ("email", "e-mail", "email address"),
}
MAX_EMAIL = 254
ROLES = {Role.PARENT.value: Role.PARENT, Role.TEACHER.value: Role.TEACHER}
INVITES_COLUMNS = ("line", "student", "adult", "role", "contact", "code", "link", "expires_at")


@dataclass(frozen=True)
class RosterRow:
    """One checked line of the roster."""

    line: int
    student: str
    adult: str = ""
    role: Role | None = None
    contact: str = ""
    email: str = ""  # the invite is emailed there (`tandem roster import`, [email] enabled)


@dataclass(frozen=True)
class IssuedInvite:
    row: RosterRow
    code: str
    link: str | None
    expires_at: datetime


@dataclass
class ImportReport:
    students: int = 0  # new students
    already_invited: int = 0  # adults with an invite from an earlier import
    issued: list[IssuedInvite] | None = None


def _clean(text: str) -> str:
    return " ".join(grammar.clean_text(text).split())


def read_roster(text: str, source: str) -> list[RosterRow]:
    """Check every row; RosterError lists each bad line (in one line of text) if any is bad."""
    problems: list[Said] = []
    rows: list[RosterRow] = []
    # strict: a quote left open is an error on its line, not a name running to the end.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    order = list(COLUMNS)
    seen: dict[tuple[str, str], tuple[Role | None, int]] = {}
    first = True
    while True:
        # A quoted cell may run over several lines: a row is known by the line it starts on.
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            problems.append(_at(line, said("operator.roster_not_csv", why=str(err))))
            break
        cells = [_clean(cell) for cell in cells]
        if not any(cells):
            continue
        if first:
            first = False
            header = _header(cells)
            if header is not None:
                order, unknown = header
                if unknown:
                    problems.append(
                        _at(line, said("operator.roster_unknown_column", column=repr(unknown)))
                    )
                    break
                continue
        row, problem = _row(line, cells, order)
        if problem is not None:
            problems.append(_at(line, problem))
            continue
        assert row is not None
        key = (grammar.fold(row.student), grammar.fold(row.adult))
        earlier = seen.get(key)
        if earlier is not None and row.adult and earlier[0] != row.role:
            problems.append(_at(line, _listed_twice(row, *earlier)))
        elif earlier is None:
            seen[key] = (row.role, line)
            rows.append(row)
    if problems:
        shown = tuple(problems[:10]) + (("...",) if len(problems) > 10 else ())
        raise RosterError(
            said("operator.roster_bad_rows", source=source, count=len(problems), problems=shown)
        )
    if not rows:
        raise RosterError(said("operator.roster_empty", source=source))
    return rows


def _header(cells: Sequence[str]) -> tuple[list[str], str] | None:
    """The columns a header row names (and the first it does not know), or None if the row
    is data."""
    names = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}
    folded = [grammar.fold(cell) for cell in cells]
    if folded[0] not in COLUMNS["student"]:
        return None
    order = [names.get(cell, "") for cell in folded]
    unknown = next((cell for cell, column in zip(cells, order, strict=True) if not column), "")
    return order, unknown


def _listed_twice(row: RosterRow, role: Role | None, line: int) -> Said:
    """The same adult for the same student on an earlier line, in another role."""
    return said(
        "operator.roster_listed_twice", adult=row.adult, student=row.student, role=role, line=line
    )


def _at(line: int, problem: Said | str) -> Said:
    return said("operator.roster_line", line=line, problem=problem)


def _row(
    line: int, cells: Sequence[str], order: Sequence[str]
) -> tuple[RosterRow | None, Said | str | None]:
    if len(cells) > len(order) and any(cells[len(order) :]):
        columns = said("operator.roster_columns", most=len(order), found=len(cells))
        return None, columns
    values = dict(zip(order, cells, strict=False))
    student, adult = values.get("student", ""), values.get("adult", "")
    role_text, contact = values.get("role", "").casefold(), values.get("contact", "")
    if not student:
        return None, said("operator.roster_no_student")
    try:
        student = roster.clean_student_name(student)
    except RosterError as err:
        return None, err.message
    if len(adult) > MAX_NAME:
        return None, said("operator.roster_adult_long", most=MAX_NAME)
    if len(contact) > MAX_CONTACT:
        return None, said("operator.roster_contact_long", most=MAX_CONTACT)
    if adult and role_text not in ROLES:
        return None, said("operator.roster_role", role=repr(role_text[:20]))
    if not adult and (role_text or contact):
        return None, said("operator.roster_no_adult")
    if not adult and values.get("email"):
        return None, said("operator.roster_email_no_adult")
    email = values.get("email", "").lower()
    local, at, domain = email.rpartition("@")
    if email and (
        not local or not at or "." not in domain or " " in email or len(email) > MAX_EMAIL
    ):
        return None, said("operator.roster_email", email=repr(email[:40]))
    role = ROLES.get(role_text) if adult else None
    return RosterRow(line, student, adult, role, contact, email), None


async def import_roster(
    store: Store,
    settings: Settings,
    now: datetime,
    school: School,
    rows: Sequence[RosterRow],
    advance: Callable[[], None] = lambda: None,
) -> ImportReport:
    """Add what is new: students by name, invites for adults without one from an earlier import."""
    assert school.id is not None
    report = ImportReport(issued=[])
    assert report.issued is not None
    students: dict[str, Student] = {
        # Archived students too: a roster that still lists one does not add them again.
        s.name_key: s
        for s in await store.students.in_school(school.id, archived=True)
    }
    for row in rows:
        key = grammar.fold(row.student)
        student = students.get(key)
        if student is None:
            student = await roster.add_student(store, school, row.student)
            students[key] = student
            report.students += 1
        if row.adult and row.role is not None and student.id is not None and not student.archived:
            earlier = await store.invites.from_roster(student.id, row.role, row.adult)
            # A used invite, or one still working, means this adult was invited already; an
            # expired unused one is replaced, which is what re-importing after expiry is for.
            if any(invite.used_at is not None or invite.expires_at > now for invite in earlier):
                report.already_invited += 1
            else:
                new = await invites.create_invite(
                    store, settings, now, school, student, row.role, None, label=row.adult
                )
                report.issued.append(IssuedInvite(row, new.code, new.link, new.invite.expires_at))
        advance()
    return report


def invites_path(source: Path) -> Path:
    """Beside the roster, never over an earlier file: `roster-invites.csv`, `-invites-2.csv`..."""
    candidate = source.with_name(f"{source.stem}-invites.csv")
    number = 2
    while candidate.exists():
        candidate = source.with_name(f"{source.stem}-invites-{number}.csv")
        number += 1
    return candidate


def invites_csv(issued: Sequence[IssuedInvite]) -> str:
    """The codes for the admin to hand out, one row per adult (the CLI writes it owner-only);
    no cell a spreadsheet would run (a student named `=HYPERLINK(...)` stays text)."""
    return spreadsheet.csv_text(
        INVITES_COLUMNS,
        (
            (
                invite.row.line,
                invite.row.student,
                invite.row.adult,
                invite.row.role,
                invite.row.contact,
                invite.code,
                invite.link or "",
                invite.expires_at.isoformat(),
            )
            for invite in issued
        ),
    )
