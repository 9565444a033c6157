"""The queries the core uses; handlers never write SQL."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    AccessLog,
    Account,
    Admin,
    Entry,
    EntryRevision,
    Goal,
    Invite,
    Membership,
    Outbox,
    PendingAction,
    Person,
    Platform,
    School,
    SeenEvent,
    Student,
)

Row = TypeVar("Row")


@dataclass(frozen=True)
class StudentLink:
    """A student and how a person is tied to them (role on the team, or admin of the school)."""

    student: Student
    role: str | None  # "teacher" / "parent" from a membership, None if only an admin
    is_admin: bool


class Repo:
    """Queries over one session (one transaction per incoming event or CLI command)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def flush(self) -> None:
        await self.session.flush()

    async def _add(self, row: Row) -> Row:
        self.session.add(row)
        await self.session.flush()
        return row

    # --- incoming events -------------------------------------------------------------------

    async def mark_seen(self, platform: str, event_id: str, now: datetime) -> bool:
        """Record an incoming event id; False if it was seen before (a platform retry)."""
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(SeenEvent)
            .values(platform=platform, event_id=event_id, seen_at=now)
            .on_conflict_do_nothing()
        )
        result = await self.session.exec(statement)
        return bool(result.rowcount)

    # --- people and accounts ---------------------------------------------------------------

    async def account(self, platform: str, workspace: str, external_id: str) -> Account | None:
        statement = select(Account).where(
            Account.platform == platform,
            Account.workspace == workspace,
            Account.external_id == external_id,
        )
        return (await self.session.exec(statement)).first()

    async def person(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def add_person(self, display_name: str, language: str) -> Person:
        return await self._add(Person(display_name=display_name, language=language))

    async def add_account(self, person: Person, platform: Platform | str, workspace: str,
                          external_id: str, dm_chat_id: str) -> Account:
        assert person.id is not None
        return await self._add(Account(person_id=person.id, platform=platform, workspace=workspace,
                                       external_id=external_id, dm_chat_id=dm_chat_id))

    async def accounts_of(self, person_id: int) -> Sequence[Account]:
        statement = select(Account).where(Account.person_id == person_id).order_by(col(Account.id))
        return (await self.session.exec(statement)).all()

    async def people_on_platform(self, platform: str) -> Sequence[tuple[Person, Account]]:
        statement = (
            select(Person, Account)
            .join(Account, col(Account.person_id) == col(Person.id))
            .where(Account.platform == platform)
            .order_by(col(Person.id))
        )
        return (await self.session.exec(statement)).all()

    # --- schools and students --------------------------------------------------------------

    async def school(self, school_id: int) -> School | None:
        return await self.session.get(School, school_id)

    async def school_named(self, name: str) -> School | None:
        statement = select(School).where(func.lower(School.name) == name.lower())
        return (await self.session.exec(statement)).first()

    async def schools(self) -> Sequence[School]:
        return (await self.session.exec(select(School).order_by(col(School.id)))).all()

    async def add_school(self, name: str, timezone: str, language: str) -> School:
        return await self._add(School(name=name, timezone=timezone, language=language))

    async def add_student(self, school: School, name: str, name_key: str) -> Student:
        assert school.id is not None
        return await self._add(Student(school_id=school.id, name=name, name_key=name_key))

    async def student(self, student_id: int) -> Student | None:
        return await self.session.get(Student, student_id)

    async def students_in(self, school_id: int) -> Sequence[Student]:
        statement = select(Student).where(
            Student.school_id == school_id, col(Student.archived).is_(False)
        ).order_by(col(Student.name))
        return (await self.session.exec(statement)).all()

    async def students_keyed(self, key: str) -> Sequence[Student]:
        """Students anywhere whose folded name is `key` or starts with it as whole words."""
        statement = select(Student).where(
            or_(col(Student.name_key) == key,
                col(Student.name_key).startswith(key + " ", autoescape=True))
        ).limit(20)
        return (await self.session.exec(statement)).all()

    async def links_of(self, person_id: int) -> list[StudentLink]:
        """Every student a person is tied to: through a team membership or as a school admin."""
        teams = select(Student, Membership.role).join(
            Membership, col(Membership.student_id) == col(Student.id)
        ).where(Membership.person_id == person_id, col(Student.archived).is_(False))
        admin_schools = select(Admin.school_id).where(Admin.person_id == person_id)
        administered = select(Student).where(
            col(Student.school_id).in_(admin_schools), col(Student.archived).is_(False)
        )
        links: dict[int, StudentLink] = {}
        for student, role in (await self.session.exec(teams)).all():
            assert student.id is not None
            links[student.id] = StudentLink(student, role, is_admin=False)
        for student in (await self.session.exec(administered)).all():
            assert student.id is not None
            team_role = links[student.id].role if student.id in links else None
            links[student.id] = StudentLink(student, team_role, is_admin=True)
        return sorted(links.values(), key=lambda link: link.student.name.casefold())

    async def membership(self, person_id: int, student_id: int) -> Membership | None:
        statement = select(Membership).where(
            Membership.person_id == person_id, Membership.student_id == student_id
        )
        return (await self.session.exec(statement)).first()

    async def add_membership(self, person_id: int, student_id: int, role: str,
                             delivery: str) -> Membership:
        existing = await self.membership(person_id, student_id)
        if existing is not None:
            return existing
        return await self._add(Membership(person_id=person_id, student_id=student_id, role=role,
                                          delivery=delivery))

    async def team_of(self, student_id: int) -> Sequence[tuple[Person, Membership]]:
        statement = (
            select(Person, Membership)
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .where(Membership.student_id == student_id)
            .order_by(col(Membership.role).desc(), col(Person.display_name))
        )
        return (await self.session.exec(statement)).all()

    async def is_admin(self, person_id: int, school_id: int) -> bool:
        statement = select(Admin).where(Admin.person_id == person_id, Admin.school_id == school_id)
        return (await self.session.exec(statement)).first() is not None

    async def add_admin(self, person_id: int, school_id: int) -> None:
        if not await self.is_admin(person_id, school_id):
            await self._add(Admin(person_id=person_id, school_id=school_id))

    # --- entries ---------------------------------------------------------------------------

    async def add_entry(self, entry: Entry) -> Entry:
        return await self._add(entry)

    async def entry(self, entry_id: int) -> Entry | None:
        return await self.session.get(Entry, entry_id)

    async def entry_from_message(self, platform: str, message_ref: str,
                                 author_id: int) -> Entry | None:
        statement = select(Entry).where(
            Entry.source_platform == platform,
            Entry.source_ref == message_ref,
            Entry.author_id == author_id,
        )
        return (await self.session.exec(statement)).first()

    async def last_entry_by(self, author_id: int, since: datetime) -> Entry | None:
        statement = (
            select(Entry)
            .where(Entry.author_id == author_id, col(Entry.created_at) >= since)
            .order_by(col(Entry.created_at).desc(), col(Entry.id).desc())
        )
        return (await self.session.exec(statement)).first()

    async def delete_entry(self, entry: Entry) -> None:
        revisions = delete(EntryRevision).where(col(EntryRevision.entry_id) == entry.id)
        await self.session.exec(revisions)
        await self.session.delete(entry)
        await self.session.flush()

    async def revise_entry(self, entry: Entry, text: str, now: datetime) -> None:
        """Change an entry's text, keeping the old text as a revision."""
        assert entry.id is not None
        self.session.add(EntryRevision(entry_id=entry.id, text=entry.text, edited_at=now))
        entry.text = text
        entry.edited_at = now
        self.session.add(entry)
        await self.session.flush()

    async def recent_entries(self, student_id: int, limit: int) -> Sequence[tuple[Entry, str]]:
        """The newest entries with their author's name, newest first."""
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(Entry.student_id == student_id)
            .order_by(col(Entry.created_at).desc(), col(Entry.id).desc())
            .limit(limit)
        )
        return (await self.session.exec(statement)).all()

    async def entries_between(self, student_id: int, start: datetime,
                              end: datetime) -> Sequence[tuple[Entry, str]]:
        """Entries in [start, end) with their author's name, oldest first."""
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(
                Entry.student_id == student_id,
                col(Entry.created_at) >= start,
                col(Entry.created_at) < end,
            )
            .order_by(col(Entry.created_at), col(Entry.id))
        )
        return (await self.session.exec(statement)).all()

    # --- goals -----------------------------------------------------------------------------

    async def goals(self, student_id: int) -> Sequence[Goal]:
        statement = select(Goal).where(
            Goal.student_id == student_id, col(Goal.active).is_(True)
        ).order_by(col(Goal.tag))
        return (await self.session.exec(statement)).all()

    async def goal_counts(self, student_id: int) -> dict[int, int]:
        statement = (
            select(Entry.goal_id, func.count())
            .where(Entry.student_id == student_id, col(Entry.goal_id).is_not(None))
            .group_by(col(Entry.goal_id))
        )
        return {goal_id: count for goal_id, count in (await self.session.exec(statement)).all()
                if goal_id is not None}

    async def set_goal(self, student_id: int, tag: str, description: str) -> tuple[Goal, bool]:
        """Create or update a goal by tag; True if it is new."""
        statement = select(Goal).where(Goal.student_id == student_id, Goal.tag == tag)
        goal = (await self.session.exec(statement)).first()
        created = goal is None
        if goal is None:
            goal = Goal(student_id=student_id, tag=tag, description=description)
        goal.description = description
        goal.active = True
        return await self._add(goal), created

    # --- invites ---------------------------------------------------------------------------

    async def add_invite(self, invite: Invite) -> Invite:
        return await self._add(invite)

    async def invite_by_hash(self, code_hash: str) -> Invite | None:
        statement = select(Invite).where(Invite.code_hash == code_hash)
        return (await self.session.exec(statement)).first()

    async def use_invite(self, invite: Invite, person_id: int, now: datetime) -> bool:
        """Mark an invite used; False if someone else used it first (single use under races)."""
        statement = (
            update(Invite)
            .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
            .values(used_at=now, used_by=person_id)
        )
        result = await self.session.exec(statement)
        return bool(result.rowcount)

    # --- buttons ---------------------------------------------------------------------------

    async def add_pending(self, person_id: int, action: str, payload: dict[str, Any],
                          expires_at: datetime) -> str:
        token = secrets.token_urlsafe(16)
        await self._add(PendingAction(token=token, person_id=person_id, action=action,
                                      payload=payload, expires_at=expires_at))
        return token

    async def pending(self, token: str) -> PendingAction | None:
        return await self.session.get(PendingAction, token)

    async def drop_pending(self, person_id: int, action: str, key: str, value: object) -> None:
        """Forget the other buttons that point at the same thing (e.g. an entry just undone)."""
        statement = select(PendingAction).where(
            PendingAction.person_id == person_id, PendingAction.action == action
        )
        for row in (await self.session.exec(statement)).all():
            if row.payload.get(key) == value:
                await self.session.delete(row)

    async def delete_pending(self, pending: PendingAction) -> None:
        await self.session.delete(pending)
        await self.session.flush()

    # --- access log ------------------------------------------------------------------------

    async def log_access(self, at: datetime, actor_id: int | None, student_id: int | None,
                         action: str, detail: str) -> None:
        self.session.add(AccessLog(at=at, actor_id=actor_id, student_id=student_id,
                                   action=action, detail=detail[:200]))
        await self.session.flush()

    async def access_log(self, student_id: int | None = None, actor_id: int | None = None,
                         action: str | None = None) -> Sequence[AccessLog]:
        statement = select(AccessLog).order_by(col(AccessLog.at), col(AccessLog.id))
        if student_id is not None:
            statement = statement.where(AccessLog.student_id == student_id)
        if actor_id is not None:
            statement = statement.where(AccessLog.actor_id == actor_id)
        if action is not None:
            statement = statement.where(AccessLog.action == action)
        return (await self.session.exec(statement)).all()

    # --- status ----------------------------------------------------------------------------

    async def status_counts(self, week_start: datetime) -> dict[str, Any]:
        async def count(model: Any, *where: Any) -> int:
            statement = select(func.count()).select_from(model).where(*where)
            return int((await self.session.exec(statement)).one())

        by_status = select(Outbox.status, func.count()).group_by(col(Outbox.status))
        return {
            "schools": await count(School),
            "people": await count(Person),
            "students": await count(Student, col(Student.archived).is_(False)),
            "entries_this_week": await count(Entry, col(Entry.created_at) >= week_start),
            "outbox": {status: n for status, n in (await self.session.exec(by_status)).all()},
        }
