"""A student's team, and taking access away: who is on it, removing someone, archiving the
student, a school's admins, the invites nobody has used yet, joining two people into one.

One function per change, called alike by the `tandem` CLI (the operator: no person in `ctx`)
and by chat (/team, /link); each writes its access-log rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import access, forget
from bot.context import Context
from bot.errors import CommandError, said
from storage.models import Invite, Person, Role, School, Student, TeamChange
from storage.stores import Store
from storage.stores.people import MergedPeople

# Queued letters an archived student's team no longer gets (the summary's picture with it).
WEEKLY_LETTERS = ("checkin", "nudge", "summary", "chart")


def _id(row: Student | School | Person) -> int:
    assert row.id is not None
    return row.id


# --- who is on the team -------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One person on a student's team, as the office sees them."""

    person_id: int
    name: str
    role: str
    platforms: tuple[str, ...]
    joined_at: datetime | None  # None: joined before Tandem kept the date

    def as_json(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "role": self.role,
            "platforms": list(self.platforms),
            "joined_at": self.joined_at.isoformat() if self.joined_at else None,
        }


async def members(store: Store, student: Student) -> list[Member]:
    """The student's team: teachers first, then parents, by name."""
    team = await store.students.team_of(_id(student))
    platforms = await store.people.platforms_of([_id(person) for person, _ in team])
    return [
        Member(
            _id(person),
            person.display_name,
            membership.role,
            tuple(platforms.get(_id(person), ())),
            membership.joined_at,
        )
        for person, membership in team
    ]


# --- taking someone off the team ----------------------------------------------------------------


@dataclass(frozen=True)
class Removed:
    """Who left the team, and what of theirs about the student was cancelled with them."""

    person_id: int
    name: str
    role: str
    buttons: int  # their pending buttons and follow-ups about the student
    letters: int  # their queued, unsent letters about the student


async def remove_member(ctx: Context, student: Student, person_id: int) -> Removed:
    """Take a person off a student's team: the membership goes, and their buttons and unsent
    letters about the student with it; the access log says who removed whom."""
    membership = await ctx.store.students.membership(person_id, _id(student))
    person = await ctx.store.people.get(person_id)
    if membership is None or person is None:
        raise CommandError(said("operator.not_on_team", id=person_id, student=student.name))
    await ctx.store.students.delete_membership(membership)
    names_it = forget.mentions(student.name)
    buttons = await ctx.store.buttons.delete_about_student(person_id, _id(student), names_it)
    letters = await ctx.store.outbox.cancel_for(person_id, _id(student), names_it)
    await access.log_team_change(ctx, TeamChange.REMOVED, student, person_id, Role(membership.role))
    return Removed(person_id, person.display_name, membership.role, buttons, letters)


# --- archiving ----------------------------------------------------------------------------------


async def set_archived(ctx: Context, student: Student, archived: bool) -> bool:
    """Archive a student (no check-ins, summaries, new notes or new members; the record stays
    readable and exportable) or bring them back; False if they already were so."""
    if student.archived == archived:
        return False
    await ctx.store.students.set_archived(student, archived)
    if archived:
        # Nobody joins the team of a student who has left: the unused invites stop working.
        await ctx.store.invites.delete_unused_of(_id(student))
        await ctx.store.outbox.cancel_about(
            _id(student), WEEKLY_LETTERS, forget.mentions(student.name)
        )
    change = TeamChange.ARCHIVED if archived else TeamChange.UNARCHIVED
    await access.log_team_change(ctx, change, student)
    return True


# --- a school's admins --------------------------------------------------------------------------


async def add_admin(ctx: Context, school: School, person: Person) -> bool:
    """Make a person an admin of the school; False if they already were."""
    if await ctx.store.students.is_admin(_id(person), _id(school)):
        return False
    await ctx.store.students.add_admin(_id(person), _id(school))
    # About the school: an admin may see every record of it.
    await access.log_team_change(ctx, TeamChange.ADMIN_ADDED, school, _id(person), Role.ADMIN)
    return True


async def remove_admin(ctx: Context, school: School, person: Person) -> bool:
    """Take a school's admin rights from a person (never its last admin); False if they had
    none."""
    admins = await ctx.store.students.admins_of(_id(school))
    if _id(person) not in [admin.id for admin in admins]:
        return False
    if len(admins) == 1:
        raise CommandError(
            said("operator.last_admin", person=person.display_name, school=school.name)
        )
    await ctx.store.students.delete_admin(_id(person), _id(school))
    await access.log_team_change(ctx, TeamChange.ADMIN_REMOVED, school, _id(person), Role.ADMIN)
    return True


# --- invites nobody has used --------------------------------------------------------------------


@dataclass(frozen=True)
class OpenInvite:
    """An invite still waiting to be used; never its code."""

    id: int
    student: str | None  # None: an admin invite
    label: str | None  # whom a roster import meant it for
    role: str
    expires_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "student": self.student,
            "label": self.label,
            "role": self.role,
            "expires_at": self.expires_at.isoformat(),
        }


async def open_invites(
    store: Store, school: School, student: Student | None, now: datetime
) -> list[OpenInvite]:
    """The school's (or one student's) invites nobody has used and that still work."""
    rows = await store.invites.unused(_id(school), _id(student) if student else None, open_at=now)
    return [
        OpenInvite(invite.id or 0, name, invite.label, invite.role, invite.expires_at)
        for invite, name in rows
    ]


async def revoke_invite(ctx: Context, invite: Invite) -> None:
    """Make an unused invite stop working: it is deleted, so its code is unknown from now on."""
    if invite.used_at is not None:
        raise CommandError(said("operator.invite_used"))
    await ctx.store.invites.delete(invite)
    about = await _invited_to(ctx.store, invite)
    if about is not None:
        await access.log_team_change(ctx, TeamChange.REVOKED, about, role=Role(invite.role))


async def _invited_to(store: Store, invite: Invite) -> Student | School | None:
    """The team an invite was to (a student's), or the school it would have made an admin of."""
    if invite.student_id is not None:
        return await store.students.get(invite.student_id)
    return await store.students.school(invite.school_id)


# --- whom the office should call -----------------------------------------------------------------


async def unreachable(store: Store, now: datetime) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per school: people whose every account is inactive (they blocked the bot), with the
    students whose team they are on (none: the school's admin), and the invites nobody used,
    still open or expired (kept a month after expiry by the nightly purge)."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {
        school.name: {"blocked": [], "never_joined": []}
        for school in await store.students.schools()
    }
    people: dict[tuple[str, int], dict[str, Any]] = {}
    for silent in await store.status.silent():
        person = people.get((silent.school, silent.person_id))
        if person is None:
            person = {"person_id": silent.person_id, "name": silent.name, "students": []}
            people[(silent.school, silent.person_id)] = person
            found[silent.school]["blocked"].append(person)
        if silent.student is not None:
            person["students"].append(silent.student)
    for invite in await store.status.unjoined():
        found[invite.school]["never_joined"].append(
            {
                "invite_id": invite.invite_id,
                "label": invite.label,
                "student": invite.student,
                "role": invite.role,
                "expires_at": invite.expires_at.isoformat(),
                "expired": invite.expires_at <= now,
            }
        )
    return found


# --- one person, not two ------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One of two people about to be joined, and what each brings: teams, schools, notes."""

    person_id: int
    name: str
    platforms: tuple[str, ...]
    teams: tuple[tuple[str, str], ...]  # (student, role)
    schools: tuple[str, ...]  # the schools they are an admin of
    entries: int

    @property
    def has_access(self) -> bool:
        """On a team, or an admin: joining them to someone gives that someone their access."""
        return bool(self.teams or self.schools)

    def as_json(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "platforms": list(self.platforms),
            "teams": [{"student": student, "role": role} for student, role in self.teams],
            "admin_of": list(self.schools),
            "entries": self.entries,
        }


async def side_of(store: Store, person: Person) -> Side:
    """What a person would bring to a merge."""
    links = await store.students.links_of(_id(person))
    platforms = await store.people.platforms_of([_id(person)])
    schools = await store.students.administered_by(_id(person))
    return Side(
        _id(person),
        person.display_name,
        tuple(platforms.get(_id(person), ())),
        tuple((link.student.name, link.role) for link in links if link.role is not None),
        tuple(school.name for school in schools),
        await store.people.authored(_id(person)),
    )


async def refuse_conflicts(store: Store, keep: Person, drop: Person) -> None:
    """CommandError if two people cannot become one: on one team in different roles."""
    conflicts = await store.people.role_conflicts(_id(keep), _id(drop))
    if conflicts:
        raise CommandError(said("operator.role_conflict", students=", ".join(conflicts)))


async def merge_people(ctx: Context, keep: Person, drop: Person) -> MergedPeople:
    """Join person `drop` into `keep`: accounts, teams, admin rights, notes and access-log rows
    move, and `drop` is deleted. Refused while they are on one team in different roles."""
    await refuse_conflicts(ctx.store, keep, drop)
    # Every record either of them may see: each of those records' log says who became one.
    links = [
        *await ctx.store.students.links_of(_id(keep)),
        *await ctx.store.students.links_of(_id(drop)),
    ]
    merged = await ctx.store.people.merge(_id(keep), _id(drop))
    affected = {_id(link.student): link.student for link in links}
    for student in sorted(affected.values(), key=_id):
        await access.log_team_change(ctx, TeamChange.MERGED, student, _id(keep))
    return merged
