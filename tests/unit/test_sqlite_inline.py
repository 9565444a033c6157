"""An event's SQLite transaction: inline once it holds the write lock, and never blocking the
event loop while another process's writer holds it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import Database
from storage.sqlite_inline import InlineConnection


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'tandem.db'}")
    async with database.session() as session:
        await session.exec(text("CREATE TABLE note (body TEXT)"))  # type: ignore[call-overload]
    yield database
    await database.dispose()


async def _driver(database: Database) -> InlineConnection:
    async with database.event_session() as session:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, InlineConnection)
        assert driver.inline  # the event's statements run on the loop's thread
        await session.exec(text("INSERT INTO note VALUES ('inline')"))  # type: ignore[call-overload]
    return driver


async def test_an_events_statements_run_inline_and_the_next_session_on_the_thread(
    sqlite_db: Database,
) -> None:
    driver = await _driver(sqlite_db)
    assert not driver.inline
    async with sqlite_db.session() as session:
        rows = (await session.exec(text("SELECT body FROM note"))).all()  # type: ignore[call-overload]
        timeout = (await session.exec(text("PRAGMA busy_timeout"))).scalar()  # type: ignore[call-overload]
    assert [row[0] for row in rows] == ["inline"]
    assert timeout == 30000  # the wait-free try for the lock gave the timeout back


async def test_an_event_waits_for_another_writer_without_holding_up_the_loop(
    sqlite_db: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "tandem.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing: the CLI, say
    other.execute("INSERT INTO note VALUES ('first')")

    async def event() -> None:
        async with sqlite_db.event_session() as session:
            await session.exec(text("INSERT INTO note VALUES ('second')"))  # type: ignore[call-overload]

    waiting = asyncio.create_task(event())
    for _ in range(50):  # the loop keeps running while the event waits for the lock
        await asyncio.sleep(0)
    assert not waiting.done()
    other.execute("COMMIT")
    await waiting
    other.close()
    async with sqlite_db.session() as session:
        rows = (await session.exec(text("SELECT body FROM note ORDER BY rowid"))).all()  # type: ignore[call-overload]
    assert [row[0] for row in rows] == ["first", "second"]


async def test_a_failed_event_leaves_nothing_written(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with sqlite_db.event_session() as session:
            await session.exec(text("INSERT INTO note VALUES ('lost')"))  # type: ignore[call-overload]
            raise RuntimeError("the handler failed")
    async with sqlite_db.session() as session:
        rows = (await session.exec(text("SELECT body FROM note"))).all()  # type: ignore[call-overload]
    assert rows == []
    await _driver(sqlite_db)  # and the next event takes the lock as before
