"""Pending actions: what a button means, or what a person's next free text answers."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select

from storage.models import Amendment, Entry, PendingAction
from storage.stores._sql import FOLLOW_UP, NEW_BUTTONS, Queries


class ButtonStore(Queries):
    """Pending actions (buttons and follow-ups)."""

    async def add(
        self,
        person_id: int,
        action: str,
        payload: dict[str, Any],
        expires_at: datetime,
        token: str | None = None,
    ) -> str:
        """Store what a button (or a typed code, given as `token`) means; returns the token."""
        token = token or secrets.token_urlsafe(16)
        # No flush: the key is made here, and a later query in this transaction autoflushes;
        # a reply's buttons are then written in one statement.
        self.session.add(
            PendingAction(
                token=token,
                person_id=person_id,
                action=action,
                payload=payload,
                expires_at=expires_at,
            )
        )
        return token

    async def add_many(
        self, person_id: int, meanings: Sequence[tuple[str, dict[str, Any]]], expires_at: datetime
    ) -> list[str]:
        """Store what each of a reply's buttons means, (action, payload) each, in one statement;
        their tokens, in the same order."""
        tokens = [secrets.token_urlsafe(16) for _ in meanings]
        if tokens:
            await self.session.exec(
                NEW_BUTTONS,
                params=[
                    {
                        "token": token,
                        "person_id": person_id,
                        "action": action,
                        "payload": payload,
                        "expires_at": expires_at,
                    }
                    for token, (action, payload) in zip(tokens, meanings, strict=True)
                ],
            )
        return tokens

    async def add_rows(self, rows: Sequence[PendingAction]) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def get(self, token: str) -> PendingAction | None:
        return await self.session.get(PendingAction, token)

    async def follow_up(
        self, person_id: int, actions: Sequence[str], now: datetime
    ) -> PendingAction | None:
        """The newest unexpired "tell me more" the person's next free text answers."""
        if not actions:
            return None
        return (
            await self.session.exec(
                FOLLOW_UP, params={"person_id": person_id, "actions": list(actions), "now": now}
            )
        ).first()

    async def delete(self, pending: PendingAction) -> None:
        await self.session.delete(pending)
        await self.session.flush()

    async def delete_about(self, person_id: int, action: str, key: str, value: object) -> None:
        """Forget the other buttons that point at the same thing (e.g. an entry just undone)."""
        statement = select(PendingAction).where(
            PendingAction.person_id == person_id, PendingAction.action == action
        )
        for row in (await self.session.exec(statement)).all():
            if row.payload.get(key) == value:
                await self.session.delete(row)

    async def delete_kind(self, person_id: int, action: str) -> None:
        """Forget every pending action of one kind for a person (e.g. an older link code)."""
        await self.session.exec(
            delete(PendingAction).where(
                col(PendingAction.person_id) == person_id, col(PendingAction.action) == action
            )
        )

    async def delete_about_student(
        self, person_id: int, student_id: int, mentions: Callable[[str], bool]
    ) -> int:
        """Forget a person's buttons and follow-ups about one student (they left the team):
        those pointing at the student, one of its entries or correction requests, or whose
        payload names them (`mentions`: a welcome's [language] button repeats the name)."""
        entries = select(Entry.id).where(Entry.student_id == student_id)
        amendments = select(Amendment.id).where(Amendment.student_id == student_id)
        entry_ids = set((await self.session.exec(entries)).all())
        amendment_ids = set((await self.session.exec(amendments)).all())
        statement = select(PendingAction).where(PendingAction.person_id == person_id)
        gone = [
            row
            for row in (await self.session.exec(statement)).all()
            if row.payload.get("student_id") == student_id
            or row.payload.get("entry_id") in entry_ids
            or row.payload.get("amendment_id") in amendment_ids
            or mentions(json.dumps(row.payload, ensure_ascii=False))
        ]
        for row in gone:
            await self.session.delete(row)
        await self.session.flush()
        return len(gone)
