"""Invites (stored hashed, single use) and the wrong codes each account has guessed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from storage.models import CodeGuess, Invite, Student
from storage.stores._sql import Queries


class InviteStore(Queries):
    """Invites and code guesses."""

    async def add(self, invite: Invite) -> Invite:
        return await self._add(invite)

    async def get(self, invite_id: int) -> Invite | None:
        return await self.session.get(Invite, invite_id)

    async def by_hash(self, code_hash: str) -> Invite | None:
        statement = select(Invite).where(Invite.code_hash == code_hash)
        return (await self.session.exec(statement)).first()

    async def use(self, invite: Invite, person_id: int, now: datetime) -> bool:
        """Mark an invite used; False if someone else used it first (single use under races)."""
        statement = (
            update(Invite)
            .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
            .values(used_at=now, used_by=person_id)
        )
        result = await self.session.exec(statement)
        return bool(result.rowcount)

    async def unused(
        self, school_id: int, student_id: int | None = None, *, open_at: datetime | None = None
    ) -> Sequence[tuple[Invite, str | None]]:
        """A school's invites nobody has used (still open at `open_at`, if given), soonest to
        expire first, each with its student's name (None: an admin invite)."""
        statement = (
            select(Invite, Student.name)
            .outerjoin(Student, col(Student.id) == col(Invite.student_id))
            .where(col(Invite.school_id) == school_id, col(Invite.used_at).is_(None))
            .order_by(col(Invite.expires_at), col(Invite.id))
        )
        if student_id is not None:
            statement = statement.where(col(Invite.student_id) == student_id)
        if open_at is not None:
            statement = statement.where(col(Invite.expires_at) > open_at)
        return (await self.session.exec(statement)).all()

    async def delete(self, invite: Invite) -> None:
        await self.session.delete(invite)
        await self.session.flush()

    async def delete_unused_of(self, student_id: int) -> int:
        """Delete the invites to a student's team nobody has used (the student was archived)."""
        statement = delete(Invite).where(
            col(Invite.student_id) == student_id, col(Invite.used_at).is_(None)
        )
        return int((await self.session.exec(statement)).rowcount)

    async def from_roster(self, student_id: int, role: str, label: str) -> Sequence[Invite]:
        """Invites a roster import made for this adult on this student's team."""
        statement = select(Invite).where(
            Invite.student_id == student_id, Invite.role == role, Invite.label == label
        )
        return (await self.session.exec(statement)).all()

    async def guesses(
        self, kind: str, platform: str, workspace: str, external_id: str, since: datetime
    ) -> int:
        """How many wrong codes of one kind this platform account sent since `since`."""
        statement = (
            select(func.count())
            .select_from(CodeGuess)
            .where(
                CodeGuess.kind == kind,
                CodeGuess.platform == platform,
                CodeGuess.workspace == workspace,
                CodeGuess.external_id == external_id,
                col(CodeGuess.at) >= since,
            )
        )
        return int((await self.session.exec(statement)).one())

    async def add_guess(
        self, kind: str, platform: str, workspace: str, external_id: str, at: datetime
    ) -> None:
        await self._add(
            CodeGuess(
                kind=kind, platform=platform, workspace=workspace, external_id=external_id, at=at
            )
        )
