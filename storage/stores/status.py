"""`tandem status`: counts over the whole database, and whom the bot cannot reach."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, null, union_all
from sqlalchemy import select as sa_select  # sqlmodel's select types at most 4 columns
from sqlmodel import col, select

from storage.models import (
    Account,
    Admin,
    Entry,
    Invite,
    Membership,
    Outbox,
    OutboxStatus,
    Person,
    School,
    Student,
)
from storage.stores._sql import Queries


class Silent(NamedTuple):
    """Someone tied to a school (on a team, or its admin) whose every account is inactive."""

    school: str
    person_id: int
    name: str
    student: str | None  # a student whose team they are on; None: as the school's admin


class Unjoined(NamedTuple):
    """An invite nobody has used, open or expired."""

    school: str
    invite_id: int
    label: str | None
    student: str | None  # None: an admin invite
    role: str
    expires_at: datetime


# Named, not "!= sent": each is a range of the (status, not_before) index, never the sent rows.
UNSENT = (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.DEAD)


class OutboxDepth(NamedTuple):
    """Letters not sent, by status, and when the longest-waiting due one fell due."""

    by_status: dict[str, int]
    oldest_due: datetime | None


class StatusView(Queries):
    """Counts for `tandem status`, and the people it should tell the office about."""

    async def counts(self, week_start: datetime) -> dict[str, Any]:
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

    async def outbox_depth(self, now: datetime) -> OutboxDepth:
        """What a metrics scrape shows: two statements on the (status, not_before) index;
        sent letters are not counted (a sent total is the sender's counter)."""
        unsent = col(Outbox.status).in_(UNSENT)
        by_status = select(Outbox.status, func.count()).where(unsent).group_by(col(Outbox.status))
        counts = {status: n for status, n in (await self.session.exec(by_status)).all()}
        oldest = select(func.min(Outbox.not_before)).where(
            col(Outbox.status) == OutboxStatus.PENDING, col(Outbox.not_before) <= now
        )
        return OutboxDepth(counts, (await self.session.exec(oldest)).one())

    async def silent(self) -> list[Silent]:
        """People with accounts, all of them inactive (they blocked the bot), by school."""
        reachable = select(Account.person_id).where(col(Account.active).is_(True))
        silent = (
            select(Person.id)
            .join(Account, col(Account.person_id) == col(Person.id))
            .where(col(Person.id).not_in(reachable))
        )
        on_team = (
            sa_select(col(School.name), col(Person.id), col(Person.display_name), col(Student.name))
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .join(Student, col(Student.id) == col(Membership.student_id))
            .join(School, col(School.id) == col(Student.school_id))
            .where(col(Person.id).in_(silent), col(Student.archived).is_(False))
        )
        admin = (
            sa_select(col(School.name), col(Person.id), col(Person.display_name), null())
            .join(Admin, col(Admin.person_id) == col(Person.id))
            .join(School, col(School.id) == col(Admin.school_id))
            .where(col(Person.id).in_(silent))
        )
        both = union_all(on_team, admin).subquery()
        statement = sa_select(*both.columns).order_by(*both.columns)
        connection = await self.session.connection()
        return [Silent._make(row) for row in (await connection.execute(statement)).all()]

    async def unjoined(self) -> list[Unjoined]:
        """Every unused invite, with its school and student, by school then expiry."""
        statement = (
            sa_select(
                col(School.name),
                col(Invite.id),
                col(Invite.label),
                col(Student.name),
                col(Invite.role),
                col(Invite.expires_at),
            )
            .join(School, col(School.id) == col(Invite.school_id))
            .outerjoin(Student, col(Student.id) == col(Invite.student_id))
            .where(col(Invite.used_at).is_(None))
            .order_by(col(School.name), col(Invite.expires_at), col(Invite.id))
        )
        connection = await self.session.connection()
        return [Unjoined._make(row) for row in (await connection.execute(statement)).all()]
