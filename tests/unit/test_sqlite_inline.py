"""An event's SQLite transaction: inline once it holds the write lock, never blocking the event
loop while another process's writer holds it, and leaving the write-ahead log's checkpoint to
a background one (an inline commit would copy the log into the file with the loop held)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from storage.db import Database
from storage.sqlite_inline import InlineConnection

BIG = 6_000_000  # bytes: more than SQLite's 1,000-page mark for an automatic checkpoint


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


def _file_size(tmp_path: Path) -> int:
    return (tmp_path / "tandem.db").stat().st_size


async def _write_in_an_event(database: Database) -> None:
    async with database.event_session() as session:
        await session.exec(text(f"INSERT INTO note VALUES (randomblob({BIG}))"))  # type: ignore[call-overload]


async def test_an_events_commit_leaves_the_log_to_the_checkpointer(
    sqlite_db: Database, tmp_path: Path
) -> None:
    sqlite_db.checkpoints.every = 1_000
    before = _file_size(tmp_path)
    await _write_in_an_event(sqlite_db)
    assert _file_size(tmp_path) == before  # the pages wait in the log

    # The same pooled connection, used off the loop again, checkpoints at its commit as SQLite
    # does by default.
    async with sqlite_db.session() as session:
        pages = (await session.exec(text("PRAGMA wal_autocheckpoint"))).scalar()  # type: ignore[call-overload]
        await session.exec(text(f"INSERT INTO note VALUES (randomblob({BIG}))"))  # type: ignore[call-overload]
    assert pages == 1000
    assert _file_size(tmp_path) > before + BIG


async def test_every_so_many_events_a_checkpoint_runs_off_the_loops_thread(
    sqlite_db: Database, tmp_path: Path
) -> None:
    threads: list[int] = []

    def trace(statement: str) -> None:
        if "wal_checkpoint" in statement:
            threads.append(threading.get_ident())

    def traced(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection._conn.set_trace_callback(trace)

    await sqlite_db.engine.dispose()  # new connections, each traced
    event.listen(sqlite_db.engine.sync_engine, "connect", traced)
    sqlite_db.checkpoints.every = 2
    before = _file_size(tmp_path)

    await _write_in_an_event(sqlite_db)
    assert threads == []
    await _write_in_an_event(sqlite_db)
    await sqlite_db.checkpoints.settled()

    assert len(threads) == 1
    assert threads[0] != threading.get_ident()
    assert _file_size(tmp_path) >= before + 2 * BIG  # both events' pages are in the file
