"""Entries (the notes about a student) with their revisions and acknowledgements, and goals."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from storage.models import (
    Acknowledgement,
    Entry,
    EntryKind,
    EntryRevision,
    Goal,
    Measure,
    Person,
)
from storage.stores._sql import (
    ENTRY_COLUMNS,
    GOALS,
    NEW_BUTTONS,
    NEW_ENTRY,
    NEW_ENTRY_WITH_BUTTONS,
    Queries,
)


class EntryStore(Queries):
    """Entries and goals, as handlers write and read them one at a time."""

    async def add(self, entry: Entry) -> Entry:
        return await self._add(entry)

    async def add_with_buttons(
        self,
        columns: Mapping[str, Any],
        person_id: int,
        meanings: Sequence[tuple[str, dict[str, Any]]],
        expires_at: datetime,
    ) -> tuple[int, list[str]]:
        """Write a new entry (its `columns`; those not given are NULL) and the buttons under it
        for `person_id`, (action, payload) each, whose payloads get the entry's id as
        `entry_id`: on PostgreSQL in one statement. The entry's id, and the buttons' tokens in
        the same order. No ORM object is made: a note's entry is rarely used again."""
        values = {name: columns.get(name) for name in ENTRY_COLUMNS}
        tokens = [secrets.token_urlsafe(16) for _ in meanings]
        if self._dialect.name != "postgresql":
            # SQLite has no data-modifying CTE; its two statements run inline (no round trip).
            entry_id: int = (await self._run_core(NEW_ENTRY, values)).scalar_one()
            if meanings:
                rows = [
                    {
                        "token": token,
                        "person_id": person_id,
                        "action": action,
                        "payload": {**payload, "entry_id": entry_id},
                        "expires_at": expires_at,
                    }
                    for token, (action, payload) in zip(tokens, meanings, strict=True)
                ]
                await self.session.exec(NEW_BUTTONS, params=rows)
            return entry_id, tokens
        values["person_id"] = person_id
        values["expires_at"] = expires_at
        values["buttons"] = [
            {"token": token, "action": action, "payload": payload}
            for token, (action, payload) in zip(tokens, meanings, strict=True)
        ]
        ((entry_id,),) = await self._returning_on_driver(NEW_ENTRY_WITH_BUTTONS, values)
        return entry_id, tokens

    async def get(self, entry_id: int) -> Entry | None:
        return await self.session.get(Entry, entry_id)

    async def from_message(self, platform: str, message_ref: str, author_id: int) -> Entry | None:
        statement = select(Entry).where(
            Entry.source_platform == platform,
            Entry.source_ref == message_ref,
            Entry.author_id == author_id,
        )
        return (await self.session.exec(statement)).first()

    async def last_by(self, author_id: int, since: datetime) -> Entry | None:
        statement = (
            select(Entry)
            .where(Entry.author_id == author_id, col(Entry.created_at) >= since)
            .order_by(col(Entry.created_at).desc(), col(Entry.id).desc())
        )
        return (await self.session.exec(statement)).first()

    async def urgent_count_since(self, author_id: int, since: datetime) -> int:
        """How many urgent notes the person has written since `since`. Asked only when an
        urgent note comes (they are rare), so no index is kept for it."""
        statement = (
            select(func.count())
            .select_from(Entry)
            .where(
                Entry.author_id == author_id,
                Entry.kind == EntryKind.URGENT,
                col(Entry.created_at) >= since,
            )
        )
        return int((await self.session.exec(statement)).one())

    async def revise(self, entry: Entry, text: str, now: datetime) -> None:
        """Change an entry's text, keeping the old text as a revision."""
        assert entry.id is not None
        self.session.add(EntryRevision(entry_id=entry.id, text=entry.text, edited_at=now))
        entry.text = text
        entry.edited_at = now
        self.session.add(entry)
        await self.session.flush()

    async def delete(self, entry: Entry) -> None:
        revisions = delete(EntryRevision).where(col(EntryRevision.entry_id) == entry.id)
        await self.session.exec(revisions)
        await self.session.exec(delete(Measure).where(col(Measure.entry_id) == entry.id))
        await self.session.delete(entry)
        await self.session.flush()

    async def recent(self, student_id: int, limit: int) -> Sequence[tuple[Entry, str]]:
        """The newest entries with their author's name, newest first."""
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(Entry.student_id == student_id)
            .order_by(col(Entry.created_at).desc(), col(Entry.id).desc())
            .limit(limit)
        )
        return (await self.session.exec(statement)).all()

    async def between(
        self, student_id: int, start: datetime, end: datetime
    ) -> Sequence[tuple[Entry, str]]:
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

    async def open_questions(
        self, student_ids: Sequence[int], since: datetime
    ) -> Sequence[tuple[Entry, str]]:
        """Questions about these students since `since` that have no answer yet."""
        answered = select(Entry.reply_to_id).where(
            Entry.kind == EntryKind.ANSWER, col(Entry.reply_to_id).is_not(None)
        )
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(
                col(Entry.student_id).in_(student_ids),
                Entry.kind == EntryKind.QUESTION,
                col(Entry.created_at) >= since,
                col(Entry.id).not_in(answered),
            )
            .order_by(col(Entry.created_at), col(Entry.id))
        )
        return (await self.session.exec(statement)).all()

    async def add_acknowledgement(self, entry_id: int, person_id: int, now: datetime) -> bool:
        dialect = self._dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(Acknowledgement)
            .values(entry_id=entry_id, person_id=person_id, seen_at=now)
            .on_conflict_do_nothing()
        )
        return bool((await self.session.exec(statement)).rowcount)

    async def goals(self, student_id: int) -> Sequence[Goal]:
        return (await self.session.exec(GOALS, params={"student_id": student_id})).all()

    async def goal_counts(self, student_id: int) -> dict[int, int]:
        statement = (
            select(Entry.goal_id, func.count())
            .where(Entry.student_id == student_id, col(Entry.goal_id).is_not(None))
            .group_by(col(Entry.goal_id))
        )
        return {
            goal_id: count
            for goal_id, count in (await self.session.exec(statement)).all()
            if goal_id is not None
        }

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

    async def save_goal(self, goal: Goal) -> Goal:
        return await self._add(goal)
