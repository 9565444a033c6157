"""Scheduled job runs: which replica composes a job's occurrence (the others leave it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from storage.models import JobRun
from storage.stores._sql import Queries


class JobRunStore(Queries):
    """One row per job occurrence, written by the run that composes it."""

    async def claim(
        self, job: str, school_id: int, occurrence: str, worker: str, now: datetime
    ) -> str | None:
        """Claim this occurrence for `worker` in the current transaction; None if claimed, else
        the worker that ran it.

        On PostgreSQL a replica claiming an occurrence another replica's open transaction has
        claimed waits for that transaction: if it commits, the occurrence ran there; if it
        rolls back (the job failed), this replica claims it and runs the job instead.
        """
        dialect = self._dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(JobRun)
            .values(
                job=job, school_id=school_id, occurrence=occurrence, worker=worker, started_at=now
            )
            .on_conflict_do_nothing()
        )
        if (await self.session.exec(statement)).rowcount:
            return None
        ran = select(JobRun.worker).where(
            col(JobRun.job) == job,
            col(JobRun.school_id) == school_id,
            col(JobRun.occurrence) == occurrence,
        )
        return (await self.session.exec(ran)).one()
