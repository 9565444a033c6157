"""A student's record as a whole: the access log, amendments, the export's reads, forgetting a
student, and the retention purge."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, update
from sqlmodel import col, select

from storage.models import (
    AccessAction,
    AccessLog,
    Account,
    Acknowledgement,
    Admin,
    Amendment,
    AmendmentStatus,
    CodeGuess,
    Entry,
    EntryRevision,
    Goal,
    Invite,
    JobRun,
    Measure,
    Membership,
    Outbox,
    OutboxStatus,
    PendingAction,
    Person,
    SeenEvent,
    Student,
    Translation,
)
from storage.stores._sql import Queries, _table


def _student_rows(student_id: int, entry_ids: Sequence[int | None]) -> list[tuple[str, Any]]:
    """What else forgetting a student deletes, each with its name in the counts: rows that
    point at the student or its entries, children before parents, the student last."""
    return [
        (
            "acknowledgements",
            delete(Acknowledgement).where(col(Acknowledgement.entry_id).in_(entry_ids)),
        ),
        ("amendments", delete(Amendment).where(col(Amendment.student_id) == student_id)),
        ("revisions", delete(EntryRevision).where(col(EntryRevision.entry_id).in_(entry_ids))),
        ("translations", delete(Translation).where(col(Translation.entry_id).in_(entry_ids))),
        ("measures", delete(Measure).where(col(Measure.student_id) == student_id)),
        ("entries", delete(Entry).where(col(Entry.student_id) == student_id)),
        ("goals", delete(Goal).where(col(Goal.student_id) == student_id)),
        ("invites", delete(Invite).where(col(Invite.student_id) == student_id)),
        ("memberships", delete(Membership).where(col(Membership.student_id) == student_id)),
        ("students", delete(Student).where(col(Student.id) == student_id)),
    ]


# Letters whose story is over, purged with the events of their time.
_FINISHED = (OutboxStatus.SENT, OutboxStatus.DEAD, OutboxStatus.FAILED, OutboxStatus.CANCELLED)


# Built once: every read of a record writes one access-log row.
ACCESS_LOG = insert(_table(AccessLog))


class RecordStore(Queries):
    """The access log, amendments, exports, forgetting and retention."""

    # --- access log -------------------------------------------------------------------------------

    async def add_access_log(self, row: AccessLog) -> None:
        """Written now, in the transaction: a plain INSERT, no unit of work (every read of a
        record writes one, inside the event's turn on the database)."""
        await self._run_core(ACCESS_LOG, row.model_dump(exclude={"id"}))

    async def access_log(
        self, student_id: int | None = None, actor_id: int | None = None, action: str | None = None
    ) -> Sequence[AccessLog]:
        statement = select(AccessLog).order_by(col(AccessLog.at), col(AccessLog.id))
        if student_id is not None:
            statement = statement.where(AccessLog.student_id == student_id)
        if actor_id is not None:
            statement = statement.where(AccessLog.actor_id == actor_id)
        if action is not None:
            statement = statement.where(AccessLog.action == action)
        return (await self.session.exec(statement)).all()

    async def record_log(self, student_id: int, school_id: int) -> Sequence[AccessLog]:
        """A student's access log, with the changes of the school's admins (who see every
        record of the school), oldest first."""
        school_wide = and_(
            col(AccessLog.student_id).is_(None),
            col(AccessLog.school_id) == school_id,
            col(AccessLog.action) == AccessAction.TEAM,
        )
        statement = (
            select(AccessLog)
            .where(or_(col(AccessLog.student_id) == student_id, school_wide))
            .order_by(col(AccessLog.at), col(AccessLog.id))
        )
        return (await self.session.exec(statement)).all()

    # --- amendments (a parent asks for a correction) ----------------------------------------------

    async def add_amendment(self, amendment: Amendment) -> Amendment:
        return await self._add(amendment)

    async def amendment(self, amendment_id: int) -> Amendment | None:
        return await self.session.get(Amendment, amendment_id)

    async def amendments(self, student_id: int) -> Sequence[Amendment]:
        statement = (
            select(Amendment)
            .where(Amendment.student_id == student_id)
            .order_by(col(Amendment.requested_at), col(Amendment.id))
        )
        return (await self.session.exec(statement)).all()

    async def decide_amendment(
        self, amendment: Amendment, status: AmendmentStatus, person_id: int, now: datetime
    ) -> bool:
        """Settle a pending request; False if someone else decided it first."""
        statement = (
            update(Amendment)
            .where(
                col(Amendment.id) == amendment.id, col(Amendment.status) == AmendmentStatus.PENDING
            )
            .values(status=status, decided_by=person_id, decided_at=now)
            .execution_options(synchronize_session=False)
        )
        if not (await self.session.exec(statement)).rowcount:
            return False
        await self.session.refresh(amendment)
        return True

    # --- the whole record (/record, export) -------------------------------------------------------

    async def entries(self, student_id: int) -> Sequence[tuple[Entry, str]]:
        """Every entry about a student with its author's name, oldest first."""
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(Entry.student_id == student_id)
            .order_by(col(Entry.created_at), col(Entry.id))
        )
        return (await self.session.exec(statement)).all()

    async def revisions(self, entry_ids: Sequence[int]) -> Sequence[EntryRevision]:
        """Earlier wordings of these entries, oldest first."""
        if not entry_ids:
            return []
        statement = (
            select(EntryRevision)
            .where(col(EntryRevision.entry_id).in_(entry_ids))
            .order_by(col(EntryRevision.edited_at), col(EntryRevision.id))
        )
        return (await self.session.exec(statement)).all()

    async def measures(self, student_id: int) -> Sequence[Measure]:
        """Every measure taken on the student's goals, oldest first."""
        statement = (
            select(Measure)
            .where(Measure.student_id == student_id)
            .order_by(col(Measure.taken_at), col(Measure.id))
        )
        return (await self.session.exec(statement)).all()

    async def goals(self, student_id: int) -> Sequence[Goal]:
        """Every goal a student has had, retired ones too."""
        statement = select(Goal).where(Goal.student_id == student_id).order_by(col(Goal.tag))
        return (await self.session.exec(statement)).all()

    # --- forgetting a student ---------------------------------------------------------------------

    async def lone_team_members(self, student_id: int) -> list[int]:
        """People on this student's team with no other team and no school to administer."""
        others = select(Membership.person_id).where(Membership.student_id != student_id)
        admins = select(Admin.person_id)
        statement = select(Membership.person_id).where(
            Membership.student_id == student_id,
            col(Membership.person_id).not_in(others),
            col(Membership.person_id).not_in(admins),
        )
        return sorted(set((await self.session.exec(statement)).all()))

    async def forget_student(
        self, student_id: int, mentions: Callable[[str], bool], meant: Callable[[str], bool]
    ) -> dict[str, int]:
        """Delete the student and every row about them; how many of each went.

        Rows that carry no student id can still name them: `mentions(text)` finds the name in a
        letter or a button's payload (a teacher's nudge lists names), `meant(detail)` in an
        access-log row (a refusal logged before the student existed). Explicit deletes, not
        cascades, so each count is known.
        """
        entry_ids = list(
            (await self.session.exec(select(Entry.id).where(Entry.student_id == student_id))).all()
        )
        amendment_ids = list(
            (
                await self.session.exec(
                    select(Amendment.id).where(Amendment.student_id == student_id)
                )
            ).all()
        )
        counts: dict[str, int] = {}

        def payload_names_it(payload: dict[str, Any]) -> bool:
            return (
                payload.get("student_id") == student_id
                or payload.get("entry_id") in entry_ids
                or payload.get("amendment_id") in amendment_ids
                or mentions(json.dumps(payload, ensure_ascii=False))
            )

        counts["pending_actions"] = await self._forget_buttons(payload_names_it)
        counts["outbox"] = await self._forget_letters(student_id, payload_names_it)
        counts["access_log"] = await self._forget_access_log(student_id, meant)
        for name, statement in _student_rows(student_id, entry_ids):
            counts[name] = int(
                (
                    await self.session.exec(statement.execution_options(synchronize_session=False))
                ).rowcount
            )
        await self.session.flush()
        self.session.expunge_all()
        return counts

    async def _forget_buttons(self, names_it: Callable[[dict[str, Any]], bool]) -> int:
        """Delete the pending buttons whose payload `names_it`; how many."""
        pending = [
            row
            for row in (await self.session.exec(select(PendingAction))).all()
            if names_it(row.payload)
        ]
        for row in pending:
            await self.session.delete(row)
        return len(pending)

    async def _forget_letters(
        self, student_id: int, names_it: Callable[[dict[str, Any]], bool]
    ) -> int:
        """Delete the letters about the student, and those about no student whose payload
        `names_it` (a teacher's nudge); how many."""
        unaddressed = select(Outbox).where(col(Outbox.student_id).is_(None))
        mentioned = [
            row.id for row in (await self.session.exec(unaddressed)).all() if names_it(row.payload)
        ]
        return int(
            (
                await self.session.exec(
                    delete(Outbox).where(
                        or_(col(Outbox.student_id) == student_id, col(Outbox.id).in_(mentioned))
                    )
                )
            ).rowcount
        )

    async def _forget_access_log(self, student_id: int, meant: Callable[[str], bool]) -> int:
        """Delete the student's access-log rows, and the unfiled ones whose detail `meant` them;
        how many."""
        unfiled = select(AccessLog).where(col(AccessLog.student_id).is_(None))
        named = [
            row.id for row in (await self.session.exec(unfiled)).all() if meant(row.legacy_detail)
        ]
        return int(
            (
                await self.session.exec(
                    delete(AccessLog).where(
                        or_(col(AccessLog.student_id) == student_id, col(AccessLog.id).in_(named))
                    )
                )
            ).rowcount
        )

    async def entries_in_school_mentioning(
        self, school_id: int, word: str, names_it: Callable[[str], bool]
    ) -> int:
        """How many entries (of any student of the school) name someone, by `names_it`."""
        statement = (
            select(Entry.text)
            .join(Student, col(Student.id) == col(Entry.student_id))
            .where(
                Student.school_id == school_id,
                func.lower(Entry.text).contains(word.lower(), autoescape=True),
            )
        )
        return sum(1 for text in (await self.session.exec(statement)).all() if names_it(text))

    # --- retention --------------------------------------------------------------------------------

    async def purge(
        self,
        entries_before: datetime,
        events_before: datetime,
        now: datetime,
        platforms: Sequence[str],
    ) -> dict[str, int]:
        """Delete what retention no longer allows, the bot's own expired bookkeeping, the people
        left with no team and no school to run, and the letters no enabled `platforms` can take."""
        counts: dict[str, int] = {}
        old_entries = select(Entry.id).where(col(Entry.created_at) < entries_before)
        unreachable = select(Account.id).where(col(Account.platform).not_in(platforms))
        tied = select(Membership.person_id).union(select(Admin.person_id))
        steps: list[tuple[str, Any]] = [
            (
                "revisions",
                delete(EntryRevision).where(col(EntryRevision.entry_id).in_(old_entries)),
            ),
            ("measures", delete(Measure).where(col(Measure.entry_id).in_(old_entries))),
            ("translations", delete(Translation).where(col(Translation.entry_id).in_(old_entries))),
            ("entries", delete(Entry).where(col(Entry.created_at) < entries_before)),
            ("access_log", delete(AccessLog).where(col(AccessLog.at) < entries_before)),
            ("seen_events", delete(SeenEvent).where(col(SeenEvent.seen_at) < events_before)),
            ("buttons", delete(PendingAction).where(col(PendingAction.expires_at) < now)),
            ("code_guesses", delete(CodeGuess).where(col(CodeGuess.at) < events_before)),
            # A job's occurrence is claimed once; a month on it can never fire again.
            ("job_runs", delete(JobRun).where(col(JobRun.started_at) < events_before)),
            (
                "outbox",
                delete(Outbox).where(
                    col(Outbox.status).in_(_FINISHED),
                    col(Outbox.not_before) < events_before,
                ),
            ),
            (
                "undeliverable",
                delete(Outbox).where(
                    col(Outbox.status).in_([OutboxStatus.PENDING, OutboxStatus.FAILED]),
                    col(Outbox.account_id).in_(unreachable),
                ),
            ),
            # Unused invites are kept a while after they expire, for `tandem status` to list.
            (
                "invites",
                delete(Invite).where(
                    col(Invite.used_at).is_(None), col(Invite.expires_at) < events_before
                ),
            ),
            # Their accounts, buttons and letters go with them; their notes stay, unsigned.
            ("people", delete(Person).where(col(Person.id).not_in(tied))),
        ]
        for name, statement in steps:
            counts[name] = int(
                (
                    await self.session.exec(statement.execution_options(synchronize_session=False))
                ).rowcount
            )
        return counts
