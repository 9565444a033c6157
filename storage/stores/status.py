"""`tandem status`: counts over the whole database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from storage.models import Entry, Outbox, Person, School, Student
from storage.stores._sql import Queries


class StatusView(Queries):
    """Counts for `tandem status`."""

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
