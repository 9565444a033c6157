"""Times read back as the instant that was written, aware and in UTC, on both databases.

SQLite keeps them as naive text and PostgreSQL as timestamptz; the summaries read a million at
a time, so each database has its own short way back (`UTCDateTime.result_processor`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import select

from storage.db import Database
from storage.models import Person

CHICAGO = ZoneInfo("America/Chicago")


async def paused_until(db: Database, person_id: int) -> datetime | None:
    async with db.session() as session:
        person = (await session.exec(select(Person).where(Person.id == person_id))).one()
        return person.paused_until


async def test_a_local_time_reads_back_as_the_same_instant_in_utc(db: Database) -> None:
    written = datetime(2026, 11, 30, 8, 5, 7, 123456, tzinfo=CHICAGO)
    async with db.session() as session:
        person = Person(display_name="Dana", paused_until=written)
        session.add(person)
        await session.commit()
        assert person.id is not None

    read = await paused_until(db, person.id)

    assert read == written
    assert read is not None and read.tzinfo is UTC
    assert (read.hour, read.minute, read.microsecond) == (14, 5, 123456)


async def test_a_time_stored_without_microseconds_or_not_at_all_reads_back(db: Database) -> None:
    # As a hand-written UPDATE (or a database default) would store it: no fraction of a second.
    stored = "2026-12-04 18:00:00" + ("+00" if db.engine.dialect.name == "postgresql" else "")
    async with db.session() as session:
        never, whole = Person(display_name="Lee"), Person(display_name="Luis")
        session.add_all([never, whole])
        await session.commit()
        assert never.id is not None and whole.id is not None
        connection = await session.connection()
        await connection.execute(
            text(f"UPDATE person SET paused_until = '{stored}' WHERE id = {whole.id}")
        )
        await session.commit()

    assert await paused_until(db, never.id) is None
    assert await paused_until(db, whole.id) == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


async def test_a_time_stored_with_its_own_offset_reads_back_as_that_instant(db: Database) -> None:
    async with db.session() as session:
        person = Person(display_name="Ms. Ortiz")
        session.add(person)
        await session.commit()
        assert person.id is not None
        connection = await session.connection()
        await connection.execute(
            text(
                "UPDATE person SET paused_until = "
                f"'2026-12-04 12:00:00-06:00' WHERE id = {person.id}"
            )
        )
        await session.commit()

    assert await paused_until(db, person.id) == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
